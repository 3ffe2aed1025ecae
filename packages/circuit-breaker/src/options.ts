import {
  ConfigError,
  enumOption,
  functionOption,
  integerOption,
  numberOption,
  objectOption,
} from '@grpc-resilience/status';

/** Options of {@link createCircuitBreakerInterceptor}. */
export interface CircuitBreakerOptions {
  /** Open after this many server-side failures in a row. Default 5. */
  consecutiveFailures?: number;
  /**
   * Also open when, of the last `windowSize` calls, at least `threshold` (0..1) failed, once
   * `minimumCalls` have been seen. Counted in calls, not time, so it trips at low traffic too
   * (cockatiel's CountBreaker; its time-sampled breaker needs a minimum rate). Default off.
   */
  failureRate?: false | { threshold?: number; windowSize?: number; minimumCalls?: number };
  /** Wait this long while open before letting probes through. Default 30000 ms. */
  halfOpenAfterMs?: number;
  /** When above `halfOpenAfterMs`, each failed probe doubles the wait up to this. Default: no growth. */
  maxHalfOpenAfterMs?: number;
  /** Calls let through at once while half-open; the rest are rejected at once. Default 1. */
  halfOpenProbes?: number;
  /** One breaker for the whole target, or one per method. Default `target`. */
  scope?: 'target' | 'method';
  /** Name of the target in details and events. Default `target`. */
  target?: string;
  /** Cap on concurrent calls; over it calls fail RESOURCE_EXHAUSTED at once. Default off. */
  bulkhead?: false | { maxConcurrent: number };
  /** Clock (ms), injectable for tests. Default `Date.now`. */
  now?: () => number;
}

export interface ResolvedCircuitBreakerOptions {
  readonly consecutiveFailures: number;
  readonly failureRate: { threshold: number; windowSize: number; minimumCalls: number } | undefined;
  readonly halfOpenAfterMs: number;
  readonly maxHalfOpenAfterMs: number;
  readonly halfOpenProbes: number;
  readonly scope: 'target' | 'method';
  readonly target: string;
  readonly maxConcurrent: number | undefined;
  readonly now: () => number;
}

const KEYS = [
  'consecutiveFailures',
  'failureRate',
  'halfOpenAfterMs',
  'maxHalfOpenAfterMs',
  'halfOpenProbes',
  'scope',
  'target',
  'bulkhead',
  'now',
] as const;

/** Validates and defaults {@link CircuitBreakerOptions}; throws `ConfigError` naming the option. */
export function resolveCircuitBreakerOptions(
  options: CircuitBreakerOptions | undefined,
  path = 'breaker',
): ResolvedCircuitBreakerOptions {
  const input = objectOption(path, options, KEYS);
  const halfOpenAfterMs = integerOption(`${path}.halfOpenAfterMs`, input.halfOpenAfterMs, 30_000, {
    min: 1,
    max: 3_600_000,
  });
  const maxHalfOpenAfterMs = integerOption(
    `${path}.maxHalfOpenAfterMs`,
    input.maxHalfOpenAfterMs,
    halfOpenAfterMs,
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
      threshold: numberOption(`${path}.failureRate.threshold`, rate.threshold, 0.5, {
        min: 0.01,
        max: 1,
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
    failureRate,
    halfOpenAfterMs,
    maxHalfOpenAfterMs,
    halfOpenProbes: integerOption(`${path}.halfOpenProbes`, input.halfOpenProbes, 1, {
      min: 1,
      max: 1000,
    }),
    scope: enumOption(`${path}.scope`, input.scope, 'target', ['target', 'method'] as const),
    target,
    maxConcurrent,
    now: functionOption(`${path}.now`, input.now, Date.now),
  });
}
