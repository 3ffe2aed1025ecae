/**
 * The least time a call to an endpoint spends outside its server (network, the client's own
 * queue) lately: the minimum of `client-measured − server-reported` over the last one to two
 * windows, as BBR keeps its minimum RTT. Two windows, so that a new window starting never
 * forgets the floor at once and lets one queued sample stand in for it. Not added to the
 * estimate: under a CPU-bound client it holds that client's queue, unevenly per endpoint
 * (docs/load-balancing.md); it puts an answer without a report on the reported scale.
 */
export class NetworkFloor {
  /** The minimum of the current window, and of the one before it; Infinity: none yet. */
  private current = Infinity;
  private previous = Infinity;
  private windowStart = 0;

  /** Whether any report has been observed: until then the floor is 0 and unused. */
  get known(): boolean {
    return this.current !== Infinity;
  }

  /** The floor, ms; 0 before any observation. */
  get ms(): number {
    const least = this.current < this.previous ? this.current : this.previous;
    return least === Infinity ? 0 : least;
  }

  /** One call's time outside the server, ms, at `now`; windows of `windowMs`. */
  observe(outsideMs: number, now: number, windowMs: number): void {
    if (this.current === Infinity || now - this.windowStart >= windowMs) {
      this.previous = this.current;
      this.current = outsideMs;
      this.windowStart = now;
    } else if (outsideMs < this.current) {
      this.current = outsideMs;
    }
  }
}
