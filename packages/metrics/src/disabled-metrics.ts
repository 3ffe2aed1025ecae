import { createNoopMeter } from '@opentelemetry/api';
import { ConfigError } from '@grpc-resilience/status';
import { CountedSeries } from './counted-series';
import type { Instruments } from './instruments';
import { INSTRUMENTS } from './names';

/**
 * The instruments recorded on a call's path, which a client or server may turn off by name
 * (gRPC's OpenTelemetry plugins: `DisableMetrics`). The others (breaker state and transitions,
 * the budget's balance, ejections) cost nothing per call; a View with `AggregationType.DROP`
 * removes them from the output.
 */
const PER_CALL = [
  'attemptStarted',
  'attemptDuration',
  'attemptSentBytes',
  'attemptRcvdBytes',
  'callDuration',
  'retries',
  'transparentRetries',
  'hedges',
  'retryDelay',
  'deadlineHeadroom',
  'callRefused',
  'retryStopped',
  'serverStarted',
  'serverDuration',
  'serverSentBytes',
  'serverRcvdBytes',
  'serverDeadline',
  'serverRefused',
  'dedup',
] as const satisfies readonly (keyof typeof INSTRUMENTS)[];

type PerCallKey = (typeof PER_CALL)[number];

const KEY_BY_NAME: ReadonlyMap<string, PerCallKey> = new Map(
  PER_CALL.map((key) => [INSTRUMENTS[key].name, key]),
);

/** Validates `disabledMetrics`: instrument names recorded per call. */
export function resolveDisabledMetrics(path: string, value: unknown): ReadonlySet<PerCallKey> {
  if (value === undefined) return new Set();
  const names =
    typeof value === 'object' && value !== null && Symbol.iterator in value
      ? [...(value as Iterable<unknown>)]
      : undefined;
  const keys = names?.map((name) => (typeof name === 'string' ? KEY_BY_NAME.get(name) : undefined));
  if (!keys || keys.some((key) => key === undefined)) {
    throw new ConfigError(
      path,
      `must list instrument names recorded per call (${[...KEY_BY_NAME.keys()].join(', ')})`,
      value,
    );
  }
  return new Set(keys as PerCallKey[]);
}

const noopMeter = createNoopMeter();
const NOOP_COUNTER = noopMeter.createCounter('');
const NOOP_HISTOGRAM = noopMeter.createHistogram('');

/**
 * `instruments` with the disabled ones replaced by instruments that record nothing: the call
 * path keeps its shape and pays a call to an empty function. Counted series get cells no
 * collection reads.
 */
export function withoutDisabled(
  instruments: Instruments,
  disabled: ReadonlySet<PerCallKey>,
): Instruments {
  if (disabled.size === 0) return instruments;
  const own: Record<string, unknown> = { ...instruments };
  for (const key of disabled) {
    const instrument = instruments[key];
    own[key] =
      instrument instanceof CountedSeries
        ? new CountedSeries(undefined)
        : 'record' in instrument
          ? NOOP_HISTOGRAM
          : NOOP_COUNTER;
  }
  return own as unknown as Instruments;
}

/**
 * False when both size histograms of a side (client attempts or server calls) are off: then the
 * (de)serializers are not wrapped.
 */
export function countsSizes(disabled: ReadonlySet<PerCallKey>, side: 'client' | 'server'): boolean {
  return side === 'client'
    ? !(disabled.has('attemptSentBytes') && disabled.has('attemptRcvdBytes'))
    : !(disabled.has('serverSentBytes') && disabled.has('serverRcvdBytes'));
}
