import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';

/** A reader that collects on demand: what an exporter would see at that moment. */
class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
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

/** A real SDK MeterProvider with a reader the test collects from. */
export function startSdkMetrics() {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    provider,
    async collect(): Promise<Collected> {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      const metrics = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) metrics.set(metric.descriptor.name, metric);
      }
      const series = (name: string): Series[] => {
        const metric = metrics.get(name);
        if (!metric) return [];
        return metric.dataPoints.map((point) => {
          if (metric.dataPointType === DataPointType.HISTOGRAM) {
            const value = point.value as {
              count: number;
              sum?: number;
              buckets: { boundaries: number[]; counts: number[] };
            };
            return {
              attributes: point.attributes,
              count: value.count,
              sum: value.sum,
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
