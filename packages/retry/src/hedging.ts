import { ConfigError, integerOption, numberOption, objectOption } from '@grpc-resilience/status';
import { HedgeAllowance } from './hedge-allowance';
import { LATENCY_WINDOW_SIZE, LatencyWindow } from './latency-window';

/**
 * Hedging of idempotent unary calls (`hedging: true` takes every default). Finagle's
 * `BackupRequestFilter` is the model: the delay is a percentile of the method's recent latency,
 * and the extra load is capped.
 */
export interface HedgingOptions {
  /**
   * Percentile of the method's recent first-attempt latency after which a hedge is sent, from
   * 0.5 to 0.999. Default `1 - maxExtraLoad` (0.95 by default, the "tail at scale" choice), as
   * Finagle derives it, so that the calls slow enough to hedge are about as many as the cap
   * allows. grpc-js: `hedgingPolicy.hedgingDelay`, which is fixed.
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
   * Hedges allowed per hedgeable call, from 0 to 1 (used in thousandths, rounded down). Default
   * 0.05. A bucket that starts empty earns this per hedgeable call, so from a client's first
   * call its hedges never exceed this share of its calls; at most 10 are banked for a burst of
   * slow calls. Each hedge is also taken from the retry budget. 0 sends no hedge. Finagle:
   * `BackupRequestFilter`'s `maxExtraLoad`.
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

const MIN_PERCENTILE = 0.5;
const MAX_PERCENTILE = 0.999;

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
  const maxExtraLoad = numberOption(`${path}.maxExtraLoad`, input.maxExtraLoad, 0.05, {
    min: 0,
    max: 1,
  });
  // Finagle's single knob: the delay is the latency that about `maxExtraLoad` of calls exceed.
  const percentile = Math.min(MAX_PERCENTILE, Math.max(MIN_PERCENTILE, 1 - maxExtraLoad));
  return Object.freeze({
    percentile: numberOption(`${path}.percentile`, input.percentile, percentile, {
      min: MIN_PERCENTILE,
      max: MAX_PERCENTILE,
    }),
    minDelayMs,
    maxDelayMs,
    minSamples: integerOption(`${path}.minSamples`, input.minSamples, 50, {
      min: 1,
      max: LATENCY_WINDOW_SIZE,
    }),
    maxExtraLoad,
  });
}

/**
 * The hedging state of one retry interceptor (one client, so one target): a latency window per
 * method and the {@link HedgeAllowance} that caps hedges at `maxExtraLoad` per hedgeable call.
 */
export class Hedging {
  private readonly windows = new Map<string, LatencyWindow>();
  private readonly allowance: HedgeAllowance;

  constructor(readonly options: ResolvedHedgingOptions) {
    this.allowance = new HedgeAllowance(options.maxExtraLoad);
  }

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
    this.allowance.recordCall();
  }

  /** Whether the cap allows a hedge now (take it with {@link spend}). */
  get canHedge(): boolean {
    return this.allowance.available;
  }

  /** Takes the hedge {@link canHedge} allowed. */
  spend(): void {
    this.allowance.tryTake();
  }
}
