import { functionOption, integerOption, numberOption } from '@grpc-resilience/status';
import { resolveHedgingOptions, type HedgingOptions, type ResolvedHedgingOptions } from './hedging';

/** A hedge about to be sent. */
export interface HedgeEvent {
  method: string;
  /** The hedge's attempt number (2 when it hedges the first attempt). */
  attempt: number;
  /** How long the live attempt had gone unanswered: the method's hedge delay. */
  delayMs: number;
  /** The endpoint the hedge is asked to avoid, when the live attempt had one. */
  avoidPeer: string | undefined;
}

/** Options of the retry layer about each attempt's time: per-attempt timeouts and hedging. */
export interface AttemptOptions {
  /**
   * Time one attempt of an idempotent call may take before the layer cancels it and retries,
   * within the overall deadline, ms, from 1 to 600000. Default none (each attempt may use the
   * whole deadline). Armed only when a retry could follow (idempotent, attempts left), and only
   * until a streaming response commits. Envoy: `per_try_timeout`; grpc-js: none.
   */
  perAttemptTimeoutMs?: number;
  /**
   * No retry or hedge starts with less time left before the deadline than this share of one
   * attempt's time (`perAttemptTimeoutMs` when set and shorter, else the call's whole timeout),
   * from 0 to 1. Default 0.1. The caller then gets the last real status. 0: only the rule that
   * no backoff sleeps past the deadline. grpc-js, Envoy: none.
   */
  minAttemptShare?: number;
  /**
   * Hedging of idempotent unary calls: a second attempt, to another endpoint, when the first has
   * not answered within a percentile of the method's recent latency. Default false; true takes
   * the defaults of {@link HedgingOptions}. grpc-js: `hedgingPolicy` (fixed delay, no cap on
   * extra load); Finagle: `BackupRequestFilter`.
   */
  hedging?: boolean | HedgingOptions;
  /** Called before each hedge is sent. */
  onHedge?: (event: HedgeEvent) => void;
}

export interface ResolvedAttemptOptions {
  readonly perAttemptTimeoutMs: number | undefined;
  readonly minAttemptShare: number;
  readonly hedging: ResolvedHedgingOptions | undefined;
  readonly onHedge: ((event: HedgeEvent) => void) | undefined;
}

export const ATTEMPT_OPTION_KEYS = [
  'perAttemptTimeoutMs',
  'minAttemptShare',
  'hedging',
  'onHedge',
] as const;

/** Validates and defaults {@link AttemptOptions} (part of `resolveRetryOptions`). */
export function resolveAttemptOptions(
  path: string,
  input: Record<string, unknown>,
): ResolvedAttemptOptions {
  return {
    perAttemptTimeoutMs:
      input.perAttemptTimeoutMs === undefined
        ? undefined
        : integerOption(`${path}.perAttemptTimeoutMs`, input.perAttemptTimeoutMs, 0, {
            min: 1,
            max: 600_000,
          }),
    minAttemptShare: numberOption(`${path}.minAttemptShare`, input.minAttemptShare, 0.1, {
      min: 0,
      max: 1,
    }),
    hedging: resolveHedgingOptions(`${path}.hedging`, input.hedging),
    onHedge:
      input.onHedge === undefined
        ? undefined
        : functionOption(`${path}.onHedge`, input.onHedge, () => undefined),
  };
}
