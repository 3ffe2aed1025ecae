import { ConfigError, integerOption, numberOption, objectOption } from '@grpc-resilience/status';
import { LATENCY_WINDOW_SIZE, LatencyWindow } from './latency-window';

/**
 * Hedging of idempotent unary calls (`hedging: true` takes every default). Finagle's
 * `BackupRequestFilter` is the model: the delay is a percentile of the method's recent latency,
 * and the extra load is capped.
 */
export interface HedgingOptions {
  /**
   * Percentile of the method's recent successful-attempt latency after which a hedge is sent,
   * from 0.5 to 0.999. Default 0.95 (the "tail at scale" choice; Finagle derives it from its
   * `maxExtraLoad`). grpc-js: `hedgingPolicy.hedgingDelay`, which is fixed.
   */
  percentile?: number;
  /** Floor of the hedge delay, ms, from 0 to 60000. Default 10. */
  minDelayMs?: number;
  /** Cap of the hedge delay, ms, from `minDelayMs` to 600000. Default 1000. */
  maxDelayMs?: number;
  /**
   * Warm-up: successful attempts a method needs before it is hedged, from 1 to 256. Default 50.
   * Until then nothing is hedged (a percentile of few samples is noise).
   */
  minSamples?: number;
  /**
   * Hedges allowed per hedgeable call, from 0 to 1. Default 0.05 (5 % extra attempts at most,
   * plus a burst of 10). Each hedge is also taken from the retry budget. Finagle:
   * `maxExtraLoad`.
   */
  maxExtraLoad?: number;
}

export interface ResolvedHedgingOptions {
  readonly percentile: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly minSamples: number;
  readonly maxExtraLoad: number;
}

const HEDGING_OPTION_KEYS = [
  'percentile',
  'minDelayMs',
  'maxDelayMs',
  'minSamples',
  'maxExtraLoad',
] as const;

/** Hedges that may be spent at once after a quiet spell. */
const BURST = 10;

/** Validates `hedging`: false or absent turns it off, true takes the defaults. */
export function resolveHedgingOptions(
  path: string,
  value: unknown,
): ResolvedHedgingOptions | undefined {
  if (value === undefined || value === false) return undefined;
  const input = objectOption(path, value === true ? {} : value, HEDGING_OPTION_KEYS);
  const minDelayMs = integerOption(`${path}.minDelayMs`, input.minDelayMs, 10, {
    min: 0,
    max: 60_000,
  });
  const maxDelayMs = integerOption(`${path}.maxDelayMs`, input.maxDelayMs, 1000, {
    min: 0,
    max: 600_000,
  });
  if (maxDelayMs < minDelayMs) {
    throw new ConfigError(
      `${path}.maxDelayMs`,
      `must not be below minDelayMs (${minDelayMs})`,
      maxDelayMs,
    );
  }
  return Object.freeze({
    percentile: numberOption(`${path}.percentile`, input.percentile, 0.95, {
      min: 0.5,
      max: 0.999,
    }),
    minDelayMs,
    maxDelayMs,
    minSamples: integerOption(`${path}.minSamples`, input.minSamples, 50, {
      min: 1,
      max: LATENCY_WINDOW_SIZE,
    }),
    maxExtraLoad: numberOption(`${path}.maxExtraLoad`, input.maxExtraLoad, 0.05, {
      min: 0,
      max: 1,
    }),
  });
}

/**
 * The hedging state of one retry interceptor (one client, so one target): a latency window per
 * method and the allowance that caps hedges at `maxExtraLoad` per hedgeable call (a token
 * bucket: each call adds `maxExtraLoad`, each hedge takes 1, at most {@link BURST} banked).
 */
export class Hedging {
  private readonly windows = new Map<string, LatencyWindow>();
  private tokens = 0;

  constructor(readonly options: ResolvedHedgingOptions) {}

  /** The latency window of a method (made on first use; a client has a fixed set of methods). */
  window(method: string): LatencyWindow {
    let window = this.windows.get(method);
    if (window === undefined) {
      window = new LatencyWindow(this.options.percentile, this.options.minSamples);
      this.windows.set(method, window);
    }
    return window;
  }

  /** The hedge delay for a method, in ms; undefined while it warms up. */
  delayMs(window: LatencyWindow): number | undefined {
    const value = window.value();
    if (value === undefined) return undefined;
    return Math.min(this.options.maxDelayMs, Math.max(this.options.minDelayMs, Math.ceil(value)));
  }

  /** A hedgeable call started: it earns its share of a hedge. */
  recordCall(): void {
    this.tokens = Math.min(BURST, this.tokens + this.options.maxExtraLoad);
  }

  /** Whether a hedge is allowed now (take it with {@link spend}). */
  get canHedge(): boolean {
    return this.tokens >= 1;
  }

  spend(): void {
    this.tokens -= 1;
  }
}
