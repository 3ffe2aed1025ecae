/** Default decay of the latency estimate, ms (Finagle's peak EWMA `decayTime`: 10 s). */
export const DEFAULT_DECAY_MS = 10_000;

/**
 * One endpoint's load as power-of-two-choices weighs it (Finagle's and Linkerd's peak EWMA):
 * calls in flight, and a latency estimate that jumps to any slower observation at once and decays
 * toward faster ones with time constant `decayMs`, so a backend that turns slow loses traffic
 * immediately and earns it back gradually.
 */
export class EndpointLoad {
  /** Calls picked for this endpoint that have not ended. */
  inFlight = 0;
  /** The latency estimate, ms; undefined until the first call ends. */
  private ewmaMs: number | undefined;
  private updatedAt = 0;
  private decayMs = DEFAULT_DECAY_MS;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The estimate, or `fallbackMs` (the other endpoints' mean) before any observation. It decays
   * while nothing is observed, too (Finagle's peak EWMA observes 0 on every read): an endpoint
   * that was slow and then drew no calls earns them back with time, instead of looking slow, and
   * so getting nothing, for ever. `now`: the caller's clock read, when it has one (the picker
   * reads the clock once per pick).
   */
  latencyMs(fallbackMs: number, now = this.now()): number {
    if (this.ewmaMs === undefined) return fallbackMs;
    const idleMs = now - this.updatedAt;
    return idleMs <= 0 ? this.ewmaMs : this.ewmaMs * Math.exp(-idleMs / this.decayMs);
  }

  /** Whether a call has ended here yet. */
  get observed(): boolean {
    return this.ewmaMs !== undefined;
  }

  /**
   * Records a call's time. `lowering` false for a failed call: a fast failure must not make a
   * broken endpoint look fast and attract traffic, so it may raise the estimate, never lower it.
   * `now`: the clock read that ended the call's time, when the caller has it.
   */
  observe(rttMs: number, decayMs: number, lowering = true, now = this.now()): void {
    this.decayMs = decayMs;
    if (this.ewmaMs === undefined || rttMs > this.ewmaMs) {
      this.ewmaMs = rttMs;
    } else if (lowering) {
      const weight = Math.exp(-(now - this.updatedAt) / decayMs);
      this.ewmaMs = this.ewmaMs * weight + rttMs * (1 - weight);
    }
    this.updatedAt = now;
  }

  /** Peak EWMA's cost: latency times the calls it would wait behind (this one included). */
  cost(fallbackMs: number, now = this.now()): number {
    // The +1 ms keeps endpoints that answer in microseconds comparable by their queues.
    return (this.latencyMs(fallbackMs, now) + 1) * (this.inFlight + 1);
  }
}
