import {
  ATTR_REASON,
  ATTR_STATE,
  ATTR_STATUS,
  INSTRUMENTS,
  METER_NAME,
  prometheusViews,
  type InstrumentSpec,
} from '@grpc-resilience/metrics';
import type { MetricReader, ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** How a figure is read from its instrument, and the attribute it is also counted by. */
interface FigureSource {
  readonly instrument: InstrumentSpec;
  /** A counter's value, or a histogram's count of values or their sum. */
  readonly read: 'value' | 'count' | 'sum';
  readonly by?: string;
}

/** The figures the demo reads from the layer's metrics (Prometheus names in the README). */
const SOURCES = {
  // Every call ends through the outermost interceptor, refused ones included: one value each.
  calls: { instrument: INSTRUMENTS.callDuration, read: 'count', by: ATTR_STATUS },
  attempts: { instrument: INSTRUMENTS.attemptStarted, read: 'value' },
  // gRFC A96 records a call's retries only when it had some, so the sum is every retry.
  retries: { instrument: INSTRUMENTS.retries, read: 'sum' },
  serverCalls: { instrument: INSTRUMENTS.serverStarted, read: 'value' },
  breakerTransitions: { instrument: INSTRUMENTS.breakerTransitions, read: 'value', by: ATTR_STATE },
  refused: { instrument: INSTRUMENTS.callRefused, read: 'value', by: ATTR_REASON },
  retryStopped: { instrument: INSTRUMENTS.retryStopped, read: 'value', by: ATTR_REASON },
} satisfies Record<string, FigureSource>;

type Figure = keyof typeof SOURCES;

/**
 * The layer's figures, read from what its metrics recorded: cumulative totals as collected, or,
 * with {@link LayerFigures.since}, what happened between two collections (a phase). The demo
 * keeps no count of its own for these: they are what a scrape of `/metrics` shows.
 */
export class LayerFigures {
  /** Nothing recorded: the figures of a provider before any call. */
  static readonly NONE = new LayerFigures(new Map());

  private constructor(private readonly totals: ReadonlyMap<string, number>) {}

  /** Collects from `reader` (the Prometheus exporter): the totals a scrape would show now. */
  static async collect(reader: MetricReader): Promise<LayerFigures> {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw errors[0];
    return LayerFigures.from(resourceMetrics);
  }

  /** The totals in a collection: every series of the layer's meter summed, and by attribute. */
  static from(resourceMetrics: ResourceMetrics): LayerFigures {
    // The names the instruments carry in this provider: prometheusViews() renames some.
    const renamed = new Map(prometheusViews().map((view) => [view.instrumentName, view.name]));
    const byName = new Map<string, [Figure, FigureSource]>();
    for (const [figure, source] of Object.entries(SOURCES) as [Figure, FigureSource][]) {
      const name = source.instrument.name;
      byName.set(renamed.get(name) ?? name, [figure, source]);
    }
    const totals = new Map<string, number>();
    const add = (key: string, value: number) => totals.set(key, (totals.get(key) ?? 0) + value);
    for (const scope of resourceMetrics.scopeMetrics) {
      if (scope.scope.name !== METER_NAME) continue;
      for (const metric of scope.metrics) {
        const found = byName.get(metric.descriptor.name);
        if (!found) continue;
        const [figure, source] = found;
        for (const point of metric.dataPoints) {
          const value = point.value as number | { count: number; sum?: number };
          const amount =
            typeof value === 'number'
              ? value
              : source.read === 'sum'
                ? (value.sum ?? 0)
                : value.count;
          add(figure, amount);
          const split = source.by === undefined ? undefined : point.attributes[source.by];
          if (split !== undefined) add(`${figure}:${String(split)}`, amount);
        }
      }
    }
    return new LayerFigures(totals);
  }

  /** What was recorded after `earlier` (a collection from the same provider) up to these. */
  since(earlier: LayerFigures): LayerFigures {
    const delta = new Map<string, number>();
    for (const [key, value] of this.totals) {
      const difference = value - (earlier.totals.get(key) ?? 0);
      if (difference !== 0) delta.set(key, difference);
    }
    return new LayerFigures(delta);
  }

  /** Calls that ended, whatever their status (`grpc.client.call.duration`'s count). */
  get calls(): number {
    return this.total('calls');
  }
  /** Calls that ended OK. */
  get ok(): number {
    return this.total('calls:OK');
  }
  /** Attempts started (`grpc.client.attempt.started`): calls the layer refused start none. */
  get attempts(): number {
    return this.total('attempts');
  }
  /** Retries (`grpc.client.call.retries`' sum). */
  get retries(): number {
    return this.total('retries');
  }
  /** Calls the layer's servers received (`grpc.server.call.started`): attempts that got there. */
  get serverCalls(): number {
    return this.total('serverCalls');
  }
  /** Times a circuit opened (`grpc_resilience.client.breaker.transitions` into `open`). */
  get breakerOpens(): number {
    return this.total('breakerTransitions:open');
  }
  /** Calls the client layer ended unsent (`grpc_resilience.client.call.refused`), any reason. */
  get refused(): number {
    return this.total('refused');
  }

  /** Calls by the status they ended with, most first, e.g. `[['OK', 490], ['UNAVAILABLE', 9]]`. */
  byStatus(): [string, number][] {
    return this.split('calls');
  }
  /** Refused calls by the layer's reason (`circuit-open`, `throttled`, …), most first. */
  refusedBy(): [string, number][] {
    return this.split('refused');
  }
  /** Failed calls not retried (further), by reason (`budget`, `max-attempts`, …), most first. */
  retryStoppedBy(): [string, number][] {
    return this.split('retryStopped');
  }

  private total(key: string): number {
    return this.totals.get(key) ?? 0;
  }

  private split(figure: Figure): [string, number][] {
    const prefix = `${figure}:`;
    return [...this.totals]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]): [string, number] => [key.slice(prefix.length), value])
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }
}
