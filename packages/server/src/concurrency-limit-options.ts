import { integerOption, numberOption, objectOption } from '@grpc-resilience/status';

/** Options of {@link ConcurrencyLimit}. Every field is optional. */
export interface ConcurrencyLimitOptions {
  /**
   * The limit before any measurement, calls. Default 20 (Netflix Gradient2's initial limit), from
   * `minLimit` to `maxLimit`. grpc-js reads many requests' headers in one socket read, before any
   * handler has run or any latency is known: a start of 1000 admitted a first burst of hundreds
   * whole and blocked the event loop for seconds. Until the first window past tolerance the limit
   * doubles each window it is in use with latency within tolerance (a slow start, as TCP's), so a
   * service with more in flight reaches its level within a few windows.
   */
  initialLimit?: number;
  /**
   * The limit never goes below this, calls. Default 4 (Envoy `min_concurrency`: 3; Netflix keeps
   * a queue of 4 above the gradient's limit): below that the server idles between calls while
   * it spends its time refusing others.
   */
  minLimit?: number;
  /** The limit never goes above this, calls. Default 10000 (Envoy `max_concurrency_limit`: 1000). */
  maxLimit?: number;
  /**
   * How far the average latency of a window may rise above the unloaded latency before the limit
   * shrinks, as a ratio. Default 1.25 (Envoy adaptive_concurrency's default buffer of 25%;
   * Netflix Gradient2 `rttTolerance` 1.5), from 1.05 to 10. The limit settles where admitted
   * calls wait about this much of their unloaded time on average, and its overshoots set the
   * tail: at 3x a pool's capacity, 1.5 gave a p99 of 2.0 to 2.2 times the work, 1.25 gave 1.85.
   */
  latencyTolerance?: number;
  /**
   * Latency within this many ms of the unloaded never counts as queueing, whatever the ratio.
   * Default 5, from 0 to 10000. Timers and scheduling on a busy machine add a few ms to any
   * call: with 5 ms calls, 25% is 1.25 ms, and at half load a bench run had the limit pinned at
   * its minimum by that jitter alone (88,723 of 100,000 calls refused). Envoy and Netflix have
   * no such floor; their calls are not timed by one busy event loop.
   */
  latencySlackMs?: number;
  /** Length of a measuring window, ms. Default 100, from 10 to 10000 (Envoy's sample window). */
  windowMs?: number;
  /** Completed calls a window needs before it moves the limit. Default 10, from 1 to 10000. */
  minWindowSamples?: number;
  /**
   * The unloaded latency is the least seen, raised by this ratio each window so that it follows
   * a service that became slower for good. Default 1.001 per window (about x1.8 per minute at
   * 100 ms windows), from 1 to 2 (Envoy instead re-measures it every `min_rtt_calc_interval`).
   */
  minLatencyDrift?: number;
  /**
   * Event-loop delay (p99 over a window) above which the limit shrinks whatever the latency, ms.
   * Default 100, from 1 to 60000; 0 turns the check off.
   */
  eventLoopDelayMs?: number;
}

/** Resolved {@link ConcurrencyLimitOptions}. */
export interface ResolvedConcurrencyLimitOptions {
  readonly initialLimit: number;
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly latencyTolerance: number;
  readonly latencySlackMs: number;
  readonly windowMs: number;
  readonly minWindowSamples: number;
  readonly minLatencyDrift: number;
  readonly eventLoopDelayMs: number;
}

export const CONCURRENCY_LIMIT_KEYS = [
  'initialLimit',
  'minLimit',
  'maxLimit',
  'latencyTolerance',
  'latencySlackMs',
  'windowMs',
  'minWindowSamples',
  'minLatencyDrift',
  'eventLoopDelayMs',
];

/** Validates and defaults {@link ConcurrencyLimitOptions}; a bad one throws a `ConfigError`. */
export function resolveConcurrencyLimitOptions(
  options: ConcurrencyLimitOptions | undefined,
  path: string,
  input = objectOption(path, options, CONCURRENCY_LIMIT_KEYS),
): ResolvedConcurrencyLimitOptions {
  const at = (key: string) => (path === '' ? key : `${path}.${key}`);
  // A `maxLimit` below the default `minLimit` lowers that default rather than failing.
  const cap = input.maxLimit;
  const minDefault =
    typeof cap === 'number' && Number.isInteger(cap) && cap >= 1 ? Math.min(4, cap) : 4;
  const minLimit = integerOption(at('minLimit'), input.minLimit, minDefault, {
    min: 1,
    max: 100_000,
  });
  const maxLimit = integerOption(at('maxLimit'), input.maxLimit, 10_000, {
    min: minLimit,
    max: 100_000,
  });
  return Object.freeze({
    initialLimit: integerOption(
      at('initialLimit'),
      input.initialLimit,
      clamp(20, minLimit, maxLimit),
      {
        min: minLimit,
        max: maxLimit,
      },
    ),
    minLimit,
    maxLimit,
    latencyTolerance: numberOption(at('latencyTolerance'), input.latencyTolerance, 1.25, {
      min: 1.05,
      max: 10,
    }),
    latencySlackMs: numberOption(at('latencySlackMs'), input.latencySlackMs, 5, {
      min: 0,
      max: 10_000,
    }),
    windowMs: integerOption(at('windowMs'), input.windowMs, 100, { min: 10, max: 10_000 }),
    minWindowSamples: integerOption(at('minWindowSamples'), input.minWindowSamples, 10, {
      min: 1,
      max: 10_000,
    }),
    minLatencyDrift: numberOption(at('minLatencyDrift'), input.minLatencyDrift, 1.001, {
      min: 1,
      max: 2,
    }),
    eventLoopDelayMs: integerOption(at('eventLoopDelayMs'), input.eventLoopDelayMs, 100, {
      min: 0,
      max: 60_000,
    }),
  });
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
