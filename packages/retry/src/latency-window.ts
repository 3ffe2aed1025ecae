/** Latencies kept per method: enough for a 99th percentile, small enough to sort cheaply. */
const WINDOW_SIZE = 256;
/** The percentile is recomputed after this many new samples, not on every call. */
const RECOMPUTE_EVERY = 16;

/**
 * The latest latencies of one method's successful attempts, and a percentile of them (nearest
 * rank). Count-based rather than time-based, so a quiet method keeps what it learnt; recomputed
 * every few samples by sorting a copy (about 256 numbers), so the hot path only writes one slot.
 */
export class LatencyWindow {
  private readonly samples = new Float64Array(WINDOW_SIZE);
  private count = 0;
  private sinceComputed = 0;
  private cached: number | undefined;

  constructor(
    /** The percentile, from 0 to 1 exclusive (0.95 for the 95th). */
    private readonly percentile: number,
    /** Samples needed before any value is given (the warm-up). */
    private readonly minSamples: number,
  ) {}

  /** Records one successful attempt's latency, in ms. */
  record(ms: number): void {
    this.samples[this.count % WINDOW_SIZE] = ms;
    this.count++;
    if (++this.sinceComputed >= RECOMPUTE_EVERY) this.cached = undefined;
  }

  /** The percentile of the window, in ms; undefined while warming up. */
  value(): number | undefined {
    if (this.count < this.minSamples) return undefined;
    if (this.cached === undefined) {
      const n = Math.min(this.count, WINDOW_SIZE);
      const sorted = this.samples.slice(0, n).sort();
      this.cached = sorted[Math.max(0, Math.ceil(this.percentile * n) - 1)];
      this.sinceComputed = 0;
    }
    return this.cached;
  }
}

/** How many latencies a window keeps (the warm-up cannot ask for more). */
export const LATENCY_WINDOW_SIZE = WINDOW_SIZE;
