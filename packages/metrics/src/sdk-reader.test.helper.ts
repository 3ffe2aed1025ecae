import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { HistogramProducer } from './histogram-producer';

/** A reader that collects on demand: what an exporter would see at that moment. */
class CollectingReader extends MetricReader {
  constructor(metricProducers: MetricProducer[]) {
    super({
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
      metricProducers,
    });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** One series: a counter's or gauge's value, or a histogram's count, sum and buckets. */
export interface Series {
  attributes: Attributes;
  value?: number;
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
  boundaries?: number[];
  bucketCounts?: number[];
}

/** What a collection found, by instrument name. */
export interface Collected {
  names(): string[];
  unit(name: string): string | undefined;
  series(name: string): Series[];
  /** The one series of `name` whose attributes equal `attributes` exactly, or undefined. */
  find(name: string, attributes: Attributes): Series | undefined;
}

/** Where the layer's histograms are aggregated: the SDK's instruments, or a HistogramProducer. */
export type HistogramMode = 'sdk' | 'layer';

let defaultMode: HistogramMode = 'sdk';

/**
 * From here on in this test file, {@link startSdkMetrics} aggregates the layer's histograms in a
 * `HistogramProducer` given to the reader: the same suites then check that path.
 */
export function aggregateHistogramsInLayer(): void {
  defaultMode = 'layer';
}

/** A real SDK MeterProvider with a reader the test collects from. */
export function startSdkMetrics(mode: HistogramMode = defaultMode) {
  const producer = mode === 'layer' ? new HistogramProducer() : undefined;
  const reader = new CollectingReader(producer ? [producer] : []);
  const provider = new MeterProvider({ readers: [reader] });
  producer?.useFor(provider);
  return {
    mode,
    producer,
    provider,
    async collect(): Promise<Collected> {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      const metrics = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) metrics.set(metric.descriptor.name, metric);
      }
      if (producer) {
        // Every histogram must come from the producer: none recorded by the SDK's instruments.
        const produced = (await producer.collect()).resourceMetrics.scopeMetrics.flatMap((scope) =>
          scope.metrics.map((metric) => metric.descriptor.name),
        );
        for (const metric of metrics.values()) {
          const name = metric.descriptor.name;
          if (metric.dataPointType === DataPointType.HISTOGRAM && !produced.includes(name))
            throw new Error(`${name} was aggregated by the SDK, not the layer`);
        }
      }
      const series = (name: string): Series[] => {
        const metric = metrics.get(name);
        if (!metric) return [];
        return metric.dataPoints.map((point) => {
          if (metric.dataPointType === DataPointType.HISTOGRAM) {
            const value = point.value as {
              count: number;
              sum?: number;
              min?: number;
              max?: number;
              buckets: { boundaries: number[]; counts: number[] };
            };
            return {
              attributes: point.attributes,
              count: value.count,
              sum: value.sum,
              min: value.min,
              max: value.max,
              boundaries: value.buckets.boundaries,
              bucketCounts: value.buckets.counts,
            };
          }
          return { attributes: point.attributes, value: point.value as number };
        });
      };
      return {
        names: () => [...metrics.keys()].filter((name) => series(name).length > 0).sort(),
        unit: (name) => metrics.get(name)?.descriptor.unit,
        series,
        find: (name, attributes) =>
          series(name).find((s) => sameAttributes(s.attributes, attributes)),
      };
    },
    shutdown: () => provider.shutdown(),
  };
}

function sameAttributes(a: Attributes, b: Attributes): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
