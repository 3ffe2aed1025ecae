import { functionOption, integerOption, numberOption, objectOption } from '@grpc-resilience/status';
import type { ResolvedThrottleOptions } from './client-throttle';

/**
 * Options of the client-side throttle (SRE book ch. 21) of {@link AdaptiveRetryBudget}.
 * Envoy's admission_control filter and Finagle's NackAdmissionFilter are its published peers.
 */
export interface ThrottleOptions {
  /**
   * K: the servers may refuse up to 1 - 1/K of attempts before anything is throttled. Default 2
   * (the SRE book's), from 1 to 10. Envoy: 1 / `sr_threshold`.
   */
  acceptsMultiplier?: number;
  /**
   * The sliding window over which requests and accepts are counted, ms. Default 1000, from 100
   * to 600000. Short, so that the throttle lets traffic through again within about a second of
   * an outage's end (a simulation of 200 calls/s: about 50% of calls pass 0.5 s after, 96% after
   * 1 s, all after 1.5 s; with 2000, all only after 2.5 s). Envoy: `sampling_window` (60 s); the
   * SRE book: 2 minutes, for overload rather than outages.
   */
  windowMs?: number;
  /**
   * The largest share of attempts refused locally. Default 0.8 (Envoy's
   * `max_rejection_probability`), from 0 to 1: the rest keep probing the servers.
   */
  maxRejectRatio?: number;
  /**
   * Below this many requests in the window nothing is throttled, so one failed call of a quiet
   * client does not refuse the next. Default 6, from 0 to 1e6: one more than the attempts of one
   * call at the default `maxAttempts` (5). Envoy: `rps_threshold` (per second).
   */
  minRequests?: number;
}

/** Options of the adaptive budget: `budget: { kind: 'adaptive', ... }` (the default kind). */
export interface AdaptiveBudgetOptions {
  kind?: 'adaptive';
  /**
   * Tokens each logical call deposits; a retry or hedge takes 1 and gets it back when a server
   * accepts it. In a total outage retries are held to about `ratio` per call (and the throttle
   * refuses most first attempts). Default 0.2, from 0 to 10: with 0.1, a 25% failure rate spent
   * the balance now and then (failing retries cost about 0.08 per call, and a burst of them
   * outruns a thin margin). gRPC's `retryThrottling.tokenRatio`; Finagle's `percentCanRetry`.
   */
  ratio?: number;
  /**
   * The most tokens banked, and the starting balance: how many failing retries a burst may take
   * before deposits limit them. Default 10, from 1 to 1e6. gRPC's `retryThrottling.maxTokens`.
   */
  maxTokens?: number;
  /** The client-side throttle, or false to retry-budget only. Default: on, with its defaults. */
  throttle?: false | ThrottleOptions;
  /** Clock (ms), injectable. Default `Date.now`. */
  now?: () => number;
  /** Random in [0, 1) for the throttle's draw, injectable. Default `Math.random`. */
  random?: () => number;
}

export interface ResolvedAdaptiveBudgetOptions {
  readonly ratio: number;
  readonly maxTokens: number;
  readonly throttle: ResolvedThrottleOptions | undefined;
  readonly now: () => number;
  readonly random: () => number;
}

const ADAPTIVE_KEYS = ['kind', 'ratio', 'maxTokens', 'throttle', 'now', 'random'] as const;
const THROTTLE_KEYS = ['acceptsMultiplier', 'windowMs', 'maxRejectRatio', 'minRequests'] as const;

/** Validates and defaults the adaptive budget's options; throws `ConfigError` naming the option. */
export function resolveAdaptiveBudgetOptions(
  options: AdaptiveBudgetOptions | undefined,
  path = 'retry.budget',
): ResolvedAdaptiveBudgetOptions {
  const input = objectOption(path, options, ADAPTIVE_KEYS);
  return Object.freeze({
    ratio: numberOption(`${path}.ratio`, input.ratio, 0.2, { min: 0, max: 10 }),
    maxTokens: numberOption(`${path}.maxTokens`, input.maxTokens, 10, { min: 1, max: 1e6 }),
    throttle:
      input.throttle === false ? undefined : resolveThrottle(`${path}.throttle`, input.throttle),
    now: functionOption(`${path}.now`, input.now, Date.now),
    random: functionOption(`${path}.random`, input.random, Math.random),
  });
}

/** One more than a call's attempts at the default `maxAttempts`: one failed call throttles nothing. */
const DEFAULT_MIN_REQUESTS = 6;

function resolveThrottle(path: string, value: unknown): ResolvedThrottleOptions {
  const input = objectOption(path, value, THROTTLE_KEYS);
  return Object.freeze({
    acceptsMultiplier: numberOption(`${path}.acceptsMultiplier`, input.acceptsMultiplier, 2, {
      min: 1,
      max: 10,
    }),
    windowMs: integerOption(`${path}.windowMs`, input.windowMs, 1000, { min: 100, max: 600_000 }),
    maxRejectRatio: numberOption(`${path}.maxRejectRatio`, input.maxRejectRatio, 0.8, {
      min: 0,
      max: 1,
    }),
    minRequests: integerOption(`${path}.minRequests`, input.minRequests, DEFAULT_MIN_REQUESTS, {
      min: 0,
      max: 1e6,
    }),
  });
}
