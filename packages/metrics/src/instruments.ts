import {
  createNoopMeter,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type ObservableGauge,
} from '@opentelemetry/api';
import { ConfigError } from '@grpc-resilience/status';
import { CountedSeries } from './counted-series';
import type { HistogramProducer } from './histogram-producer';
import { INSTRUMENTS, METER_NAME, type InstrumentSpec } from './names';

/** Every instrument of the package, created once per meter provider. */
export interface Instruments {
  /** Per attempt: counted in the layer, read at collection (see CountedSeries). */
  readonly attemptStarted: CountedSeries;
  readonly attemptDuration: Histogram;
  readonly attemptSentBytes: Histogram;
  readonly attemptRcvdBytes: Histogram;
  readonly callDuration: Histogram;
  readonly retries: Histogram;
  readonly transparentRetries: Histogram;
  readonly hedges: Histogram;
  readonly retryDelay: Histogram;
  /** Per server call: counted in the layer, read at collection. */
  readonly serverStarted: CountedSeries;
  readonly serverSentBytes: Histogram;
  readonly serverRcvdBytes: Histogram;
  readonly serverDuration: Histogram;
  readonly callRefused: Counter;
  readonly retryStopped: Counter;
  readonly deadlineHeadroom: Histogram;
  readonly breakerState: ObservableGauge;
  readonly breakerTransitions: Counter;
  readonly budgetBalance: ObservableGauge;
  readonly ejections: Counter;
  readonly serverDeadline: Histogram;
  readonly serverRefused: Counter;
  readonly dedup: Counter;
}

const byProvider = new WeakMap<MeterProvider, Instruments | null>();
const NoopMeter = createNoopMeter().constructor;

/**
 * The instruments of `provider`, or null when it is OpenTelemetry's no-op provider (nothing is
 * registered): then the layer adds no interceptor at all, and a call pays nothing. Instruments
 * are created once per provider: creating one per client would register duplicates.
 */
export function instrumentsOf(provider: MeterProvider, version: string): Instruments | null {
  let instruments = byProvider.get(provider);
  if (instruments === undefined) {
    const meter = provider.getMeter(METER_NAME, version);
    instruments =
      meter instanceof NoopMeter ? null : createInstruments(meter, producers.get(provider));
    byProvider.set(provider, instruments);
  }
  return instruments;
}

const producers = new WeakMap<MeterProvider, HistogramProducer>();

/**
 * From now on, the histograms of clients and servers built on `provider` are `producer`'s. Only
 * before the provider's instruments exist: clients built earlier would record into the SDK's,
 * and one histogram would be exported twice.
 */
export function bindProducer(provider: MeterProvider, producer: HistogramProducer): void {
  const bound = producers.get(provider);
  if (bound === producer) return;
  if (bound !== undefined || byProvider.has(provider)) {
    throw new ConfigError(
      'histogramProducer.useFor',
      bound !== undefined
        ? 'takes a meter provider no other producer serves'
        : 'must be called before any client or server records into the meter provider',
      provider,
    );
  }
  producers.set(provider, producer);
}

function createInstruments(meter: Meter, producer: HistogramProducer | undefined): Instruments {
  const counter = ({ name, unit, description }: InstrumentSpec) =>
    meter.createCounter(name, { unit, description });
  const counted = ({ name, unit, description }: InstrumentSpec) =>
    new CountedSeries(meter.createObservableCounter(name, { unit, description }));
  const histogram = ({ name, unit, description, buckets }: InstrumentSpec): Histogram =>
    producer
      ? producer.histogram({ name, unit, description, buckets: buckets! })
      : meter.createHistogram(name, {
          unit,
          description,
          // The SDK (1.x from 1.22, 2.x) takes these as the default buckets; a View overrides them.
          advice: { explicitBucketBoundaries: buckets as number[] },
        });
  const $ = INSTRUMENTS;
  return {
    attemptStarted: counted($.attemptStarted),
    attemptDuration: histogram($.attemptDuration),
    attemptSentBytes: histogram($.attemptSentBytes),
    attemptRcvdBytes: histogram($.attemptRcvdBytes),
    callDuration: histogram($.callDuration),
    retries: histogram($.retries),
    transparentRetries: histogram($.transparentRetries),
    hedges: histogram($.hedges),
    retryDelay: histogram($.retryDelay),
    serverStarted: counted($.serverStarted),
    serverSentBytes: histogram($.serverSentBytes),
    serverRcvdBytes: histogram($.serverRcvdBytes),
    serverDuration: histogram($.serverDuration),
    callRefused: counter($.callRefused),
    retryStopped: counter($.retryStopped),
    deadlineHeadroom: histogram($.deadlineHeadroom),
    breakerState: meter.createObservableGauge($.breakerState.name, {
      unit: $.breakerState.unit,
      description: $.breakerState.description,
    }),
    breakerTransitions: counter($.breakerTransitions),
    budgetBalance: meter.createObservableGauge($.budgetBalance.name, {
      unit: $.budgetBalance.unit,
      description: $.budgetBalance.description,
    }),
    ejections: counter($.ejections),
    serverDeadline: histogram($.serverDeadline),
    serverRefused: counter($.serverRefused),
    dedup: counter($.dedup),
  };
}
