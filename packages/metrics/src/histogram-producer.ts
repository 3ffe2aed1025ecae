import { ValueType, metrics, type Attributes, type MeterProvider } from '@opentelemetry/api';
import { ConfigError, objectOption } from '@grpc-resilience/status';
import { bindProducer } from './instruments';
import { LayerHistogram, type HistogramSeries } from './layer-histogram';
import { METER_NAME, PACKAGE_VERSION, type InstrumentSpec } from './names';
import { prometheusName } from './prometheus-views';

/** Options of {@link HistogramProducer}. */
export interface HistogramProducerOptions {
  /**
   * Name the histograms as `prometheusViews()` renames the SDK's, with their unit's suffix
   * (`grpc.client.call.duration_seconds`, exported as `grpc_client_call_duration_seconds`):
   * Views do not apply to a producer's metrics. Set it when the reader is the Prometheus
   * exporter and its provider has `prometheusViews()`. Default false (gRPC's names, for OTLP).
   */
  prometheusNames?: boolean;
}

/** A histogram data point as the SDK's `MetricReader` merges it (sdk-metrics 2.x). */
export interface ProducedHistogramPoint {
  readonly attributes: Attributes;
  readonly startTime: [number, number];
  readonly endTime: [number, number];
  readonly value: {
    readonly buckets: { boundaries: number[]; counts: number[] };
    readonly count: number;
    readonly sum: number;
    readonly min: number;
    readonly max: number;
  };
}

/** One histogram as the SDK's `MetricData` (`DataPointType.HISTOGRAM`, cumulative). */
export interface ProducedHistogram {
  readonly descriptor: {
    readonly name: string;
    readonly description: string;
    readonly unit: string;
    readonly valueType: ValueType;
    readonly type: 'HISTOGRAM';
  };
  /** `AggregationTemporality.CUMULATIVE`. */
  readonly aggregationTemporality: 1;
  /** `DataPointType.HISTOGRAM`. */
  readonly dataPointType: 0;
  readonly dataPoints: ProducedHistogramPoint[];
}

/**
 * What {@link HistogramProducer.collect} returns: the SDK's `CollectionResult`. The reader keeps
 * the SDK's own resource and takes only the scope metrics, so the producer names none.
 */
export interface ProducedMetrics {
  readonly resourceMetrics: {
    readonly resource: never;
    readonly scopeMetrics: {
      scope: { name: string; version: string };
      metrics: ProducedHistogram[];
    }[];
  };
  readonly errors: unknown[];
}

/**
 * The layer's per-call histograms aggregated in the layer and handed to the SDK when a reader
 * collects: an OpenTelemetry `MetricProducer` (sdk-metrics 2.x) for a reader's
 * `metricProducers` (`PrometheusExporter` takes them too). A value then costs a lookup by the
 * attribute object, a bucket search and a few additions (about 0.1 µs), where the SDK's
 * synchronous histogram (JS 2.x) hashes the attributes on every record (about 2.7 µs). Same
 * names, units, attributes, buckets, count, sum, min and max; cumulative only (Prometheus, and
 * OTLP with its default temporality). Counters and gauges stay in the SDK.
 *
 * ```ts
 * const histograms = new HistogramProducer({ prometheusNames: true });
 * const exporter = new PrometheusExporter({ metricProducers: [histograms] });
 * const provider = new MeterProvider({ readers: [exporter], views: prometheusViews() });
 * histograms.useFor(provider); // before building clients and servers on it
 * metrics.setGlobalMeterProvider(provider);
 * ```
 */
export class HistogramProducer {
  private readonly histograms = new Map<string, LayerHistogram>();
  private readonly prometheusNames: boolean;

  constructor(options?: HistogramProducerOptions) {
    const input = objectOption('histogramProducer', options, ['prometheusNames']);
    const names = input.prometheusNames ?? false;
    if (typeof names !== 'boolean') {
      throw new ConfigError('histogramProducer.prometheusNames', 'must be a boolean', names);
    }
    this.prometheusNames = names;
  }

  /**
   * Clients and servers built on `meterProvider` from now on record their histograms here
   * instead of in the SDK. Call it before building any (their instruments are bound when the
   * first is built), and give this producer to one of the provider's readers. Default: the
   * provider registered with `@opentelemetry/api`. Returns the producer.
   */
  useFor(meterProvider: MeterProvider = metrics.getMeterProvider()): this {
    if (typeof (meterProvider as MeterProvider | undefined)?.getMeter !== 'function') {
      throw new ConfigError(
        'histogramProducer.useFor',
        'takes an OpenTelemetry MeterProvider',
        meterProvider,
      );
    }
    bindProducer(meterProvider, this);
    return this;
  }

  /** The histogram this producer keeps for `spec`, made on first use. */
  histogram(spec: InstrumentSpec & { readonly buckets: readonly number[] }): LayerHistogram {
    let histogram = this.histograms.get(spec.name);
    if (!histogram) this.histograms.set(spec.name, (histogram = new LayerHistogram(spec)));
    return histogram;
  }

  /** What a reader collects: every histogram with at least one value, cumulative. */
  collect(): Promise<ProducedMetrics> {
    const endTime = hrTime(Date.now());
    const produced: ProducedHistogram[] = [];
    for (const histogram of this.histograms.values()) {
      const dataPoints: ProducedHistogramPoint[] = [];
      for (const series of histogram.series()) dataPoints.push(point(series, histogram, endTime));
      if (dataPoints.length === 0) continue;
      const { spec } = histogram;
      produced.push({
        descriptor: {
          name: this.prometheusNames ? prometheusName(spec) : spec.name,
          description: spec.description,
          unit: spec.unit,
          valueType: ValueType.DOUBLE,
          type: 'HISTOGRAM',
        },
        aggregationTemporality: 1,
        dataPointType: 0,
        dataPoints,
      });
    }
    return Promise.resolve({
      resourceMetrics: {
        resource: undefined as never,
        scopeMetrics:
          produced.length === 0
            ? []
            : [{ scope: { name: METER_NAME, version: PACKAGE_VERSION }, metrics: produced }],
      },
      errors: [],
    });
  }
}

function point(
  series: HistogramSeries,
  histogram: LayerHistogram,
  endTime: [number, number],
): ProducedHistogramPoint {
  // A snapshot: the reader may hold it while calls go on recording.
  return {
    attributes: series.attributes,
    startTime: hrTime(series.startedAt),
    endTime,
    value: {
      buckets: { boundaries: [...histogram.spec.buckets], counts: [...series.counts] },
      count: series.count,
      sum: series.sum,
      min: series.min,
      max: series.max,
    },
  };
}

/** OpenTelemetry's `HrTime`: [seconds, nanoseconds] since the epoch. */
function hrTime(ms: number): [number, number] {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}
