import {
  ConfigError,
  enumOption,
  functionOption,
  integerOption,
  numberOption,
  objectOption,
} from '@grpc-resilience/status';
import type { BreakerStateChange } from './state-change';

/** First wait before a probe, ms: a blip of a second or two costs about that, not 30 s. */
export const DEFAULT_HALF_OPEN_AFTER_MS = 1000;
/** Longest wait between probes while they keep failing, ms (Finagle's and Envoy's 30 s). */
export const DEFAULT_MAX_HALF_OPEN_AFTER_MS = 30_000;
/** Each failed probe makes the next wait this much longer: 1 s, 1.5 s, 2.25 s, … 30 s. */
export const DEFAULT_HALF_OPEN_BACKOFF_MULTIPLIER = 1.5;
/** An application's error (UNKNOWN, INTERNAL, DATA_LOSS, an off-table code) counts 1/5. */
export const DEFAULT_APPLICATION_FAILURE_WEIGHT = 0.2;

/** Options of {@link createCircuitBreakerInterceptor}. */
export interface CircuitBreakerOptions {
  /**
   * Open after this many failed calls in a row, each weighed (see `applicationFailureWeight`).
   * A call is a logical call when the breaker sits outside the retry, as the channel factory puts
   * it. Default 5. Range 1..10000. cockatiel `ConsecutiveBreaker`; Envoy outlier detection's
   * `consecutive_5xx`; Finagle `FailureAccrualFactory` consecutive failures (5).
   */
  consecutiveFailures?: number;
  /**
   * How much one failure the server's application answered with counts: UNKNOWN (what a Node
   * handler's thrown Error becomes), INTERNAL, DATA_LOSS, or a code outside the table (402…), all
   * sent in the server's trailers. A transport failure, a local deadline and UNAVAILABLE,
   * DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED count 1. With 0.2, five such errors in a row count as
   * one failure, and a success in between wipes them. Default 0.2. Range 0..1 (0: never counted).
   * Envoy splits the same way: `consecutive_gateway_failure` (502/503/504) beside
   * `consecutive_5xx`; Finagle asks its `ResponseClassifier`.
   */
  applicationFailureWeight?: number;
  /**
   * Also open when, of the last `windowSize` calls, at least `threshold` (0..1) failed, once
   * `minimumCalls` have been seen. Counted in calls, not time, so it trips at low traffic too
   * (cockatiel's CountBreaker; its time-sampled breaker needs a minimum rate). Default off.
   */
  failureRate?: false | { threshold?: number; windowSize?: number; minimumCalls?: number };
  /**
   * Wait this long after opening before the first probe. Default 1000 ms. Range 1..3600000.
   * cockatiel `halfOpenAfter`; Envoy `base_ejection_time` (30 s); Finagle's probe backoff start (5 s).
   */
  halfOpenAfterMs?: number;
  /**
   * Each failed probe lengthens the wait before the next (`halfOpenBackoffMultiplier`) up to
   * this; a probe that succeeds closes
   * the circuit and starts the next opening from `halfOpenAfterMs` again. Default 30000 ms, or
   * `halfOpenAfterMs` when that is larger. Range `halfOpenAfterMs`..3600000 (equal: no growth).
   * cockatiel `halfOpenAfter: new ExponentialBackoff({ initialDelay, maxDelay })`; Envoy
   * `max_ejection_time`.
   */
  maxHalfOpenAfterMs?: number;
  /**
   * Each failed probe multiplies the wait before the next by this, up to `maxHalfOpenAfterMs`:
   * 1 s, 1.5 s, 2.25 s, 3.4 s, … by default, so an outage of a few seconds ends in about a second
   * of its end, while a long one is probed about every 30 s. Default 1.5. Range 1..10 (1: no
   * growth). cockatiel `ExponentialBackoff.exponent`; Finagle `Backoff.exponential` multiplier;
   * Envoy grows `base_ejection_time` linearly instead.
   */
  halfOpenBackoffMultiplier?: number;
  /** Calls let through at once while half-open; the rest are rejected at once. Default 1. */
  halfOpenProbes?: number;
  /** One breaker for the whole target, or one per method. Default `target`. */
  scope?: 'target' | 'method';
  /** Name of the target in details and events. Default `target`. */
  target?: string;
  /** Cap on concurrent calls; over it calls fail RESOURCE_EXHAUSTED at once. Default off. */
  bulkhead?: false | { maxConcurrent: number };
  /**
   * Told of every state change of every circuit (for metrics and logs); called through
   * `callUserCode`, so a listener that throws costs no call its outcome. Default none. Same as
   * subscribing with `onStateChange()` on the interceptor; cockatiel `onStateChange`.
   */
  onStateChange?: (change: BreakerStateChange) => void;
  /** Clock (ms), injectable for tests. Default `Date.now`. */
  now?: () => number;
}

export interface ResolvedCircuitBreakerOptions {
  readonly consecutiveFailures: number;
  readonly applicationFailureWeight: number;
  readonly failureRate: { threshold: number; windowSize: number; minimumCalls: number } | undefined;
  readonly halfOpenAfterMs: number;
  readonly maxHalfOpenAfterMs: number;
  readonly halfOpenBackoffMultiplier: number;
  readonly halfOpenProbes: number;
  readonly scope: 'target' | 'method';
  readonly target: string;
  readonly maxConcurrent: number | undefined;
  readonly onStateChange: ((change: BreakerStateChange) => void) | undefined;
  readonly now: () => number;
}

const KEYS = [
  'consecutiveFailures',
  'applicationFailureWeight',
  'failureRate',
  'halfOpenAfterMs',
  'maxHalfOpenAfterMs',
  'halfOpenBackoffMultiplier',
  'halfOpenProbes',
  'scope',
  'target',
  'bulkhead',
  'onStateChange',
  'now',
] as const;

/** Validates and defaults {@link CircuitBreakerOptions}; throws `ConfigError` naming the option. */
export function resolveCircuitBreakerOptions(
  options: CircuitBreakerOptions | undefined,
  path = 'breaker',
): ResolvedCircuitBreakerOptions {
  const input = objectOption(path, options, KEYS);
  const halfOpenAfterMs = integerOption(
    `${path}.halfOpenAfterMs`,
    input.halfOpenAfterMs,
    DEFAULT_HALF_OPEN_AFTER_MS,
    { min: 1, max: 3_600_000 },
  );
  const maxHalfOpenAfterMs = integerOption(
    `${path}.maxHalfOpenAfterMs`,
    input.maxHalfOpenAfterMs,
    Math.max(DEFAULT_MAX_HALF_OPEN_AFTER_MS, halfOpenAfterMs),
    {
      min: 1,
      max: 3_600_000,
    },
  );
  if (maxHalfOpenAfterMs < halfOpenAfterMs) {
    throw new ConfigError(
      `${path}.maxHalfOpenAfterMs`,
      `must not be below halfOpenAfterMs (${halfOpenAfterMs})`,
      maxHalfOpenAfterMs,
    );
  }
  let failureRate: ResolvedCircuitBreakerOptions['failureRate'];
  if (input.failureRate !== undefined && input.failureRate !== false) {
    const rate = objectOption(`${path}.failureRate`, input.failureRate, [
      'threshold',
      'windowSize',
      'minimumCalls',
    ]);
    const windowSize = integerOption(`${path}.failureRate.windowSize`, rate.windowSize, 100, {
      min: 2,
      max: 100_000,
    });
    failureRate = {
      // cockatiel's CountBreaker takes a threshold strictly between 0 and 1.
      threshold: numberOption(`${path}.failureRate.threshold`, rate.threshold, 0.5, {
        min: 0.01,
        max: 0.99,
      }),
      windowSize,
      minimumCalls: integerOption(
        `${path}.failureRate.minimumCalls`,
        rate.minimumCalls,
        Math.min(20, windowSize),
        {
          min: 1,
          max: windowSize,
        },
      ),
    };
  }
  let maxConcurrent: number | undefined;
  if (input.bulkhead !== undefined && input.bulkhead !== false) {
    const bulkhead = objectOption(`${path}.bulkhead`, input.bulkhead, ['maxConcurrent']);
    if (bulkhead.maxConcurrent === undefined) {
      throw new ConfigError(
        `${path}.bulkhead.maxConcurrent`,
        'is required with a bulkhead',
        undefined,
      );
    }
    maxConcurrent = integerOption(`${path}.bulkhead.maxConcurrent`, bulkhead.maxConcurrent, 0, {
      min: 1,
      max: 1_000_000,
    });
  }
  const target = input.target ?? 'target';
  if (typeof target !== 'string')
    throw new ConfigError(`${path}.target`, 'must be a string', target);
  return Object.freeze({
    consecutiveFailures: integerOption(
      `${path}.consecutiveFailures`,
      input.consecutiveFailures,
      5,
      { min: 1, max: 10_000 },
    ),
    applicationFailureWeight: numberOption(
      `${path}.applicationFailureWeight`,
      input.applicationFailureWeight,
      DEFAULT_APPLICATION_FAILURE_WEIGHT,
      { min: 0, max: 1 },
    ),
    failureRate,
    halfOpenAfterMs,
    maxHalfOpenAfterMs,
    halfOpenBackoffMultiplier: numberOption(
      `${path}.halfOpenBackoffMultiplier`,
      input.halfOpenBackoffMultiplier,
      DEFAULT_HALF_OPEN_BACKOFF_MULTIPLIER,
      { min: 1, max: 10 },
    ),
    halfOpenProbes: integerOption(`${path}.halfOpenProbes`, input.halfOpenProbes, 1, {
      min: 1,
      max: 1000,
    }),
    scope: enumOption(`${path}.scope`, input.scope, 'target', ['target', 'method'] as const),
    target,
    maxConcurrent,
    onStateChange:
      input.onStateChange === undefined
        ? undefined
        : functionOption(`${path}.onStateChange`, input.onStateChange, () => undefined),
    now: functionOption(`${path}.now`, input.now, Date.now),
  });
}
