import { SlidingCounts } from './sliding-counts';

/** Resolved options of {@link ClientThrottle} (see `ThrottleOptions` for each one's meaning). */
export interface ResolvedThrottleOptions {
  readonly acceptsMultiplier: number;
  readonly windowMs: number;
  readonly maxRejectRatio: number;
  readonly minRequests: number;
}

const REQUESTS = 0;
const ACCEPTS = 1;

/**
 * Client-side adaptive throttling (Google SRE book, ch. 21 "Handling Overload"): over a sliding
 * window the client counts the attempts it wanted to send (`requests`, those it refused itself
 * included) and those the servers accepted (`accepts`), and refuses a new attempt locally with
 * probability `max(0, (requests - K * accepts) / (requests + 1))`. While at least 1 in K attempts
 * is accepted nothing is refused; in a total outage almost everything is, so the client stops
 * sending most first attempts too, not only retries, and sheds the load on its own side.
 *
 * Two bounds keep it from hurting more than it saves, as Envoy's admission_control does: the
 * probability never exceeds `maxRejectRatio`, so some attempts always probe the servers and it
 * recovers within about (window / K) * ln(1 / (1 - maxRejectRatio)) once they accept again; and
 * fewer than `minRequests` requests in the window are never throttled, so one failed call of a
 * quiet client does not refuse the next.
 */
export class ClientThrottle {
  private readonly counts: SlidingCounts;

  constructor(
    private readonly options: ResolvedThrottleOptions,
    now: () => number,
    private readonly random: () => number,
  ) {
    this.counts = new SlidingCounts(2, options.windowMs, now);
  }

  /** The probability that the next attempt is refused locally, from 0 to `maxRejectRatio`. */
  rejectProbability(): number {
    this.counts.advance();
    return this.currentProbability();
  }

  /**
   * Whether to send the next attempt. A refusal counts as a request that was not accepted, as
   * in the SRE book: while the servers accept nothing, refusals keep the probability up. One
   * clock read: every attempt asks.
   */
  admit(): boolean {
    const p = this.rejectProbability();
    if (p === 0 || this.random() >= p) return true;
    this.counts.put(REQUESTS);
    return false;
  }

  /** Records the outcome of an attempt that was sent: accepted by a server, or not. */
  record(accepted: boolean): void {
    this.counts.advance();
    this.counts.put(REQUESTS);
    if (accepted) this.counts.put(ACCEPTS);
  }

  /** Requests and accepts in the window (for tests and diagnostics). */
  get window(): { requests: number; accepts: number } {
    this.counts.advance();
    return { requests: this.counts.current(REQUESTS), accepts: this.counts.current(ACCEPTS) };
  }

  /** The probability as of the window's last move. */
  private currentProbability(): number {
    const requests = this.counts.current(REQUESTS);
    if (requests < this.options.minRequests) return 0;
    const excess = requests - this.options.acceptsMultiplier * this.counts.current(ACCEPTS);
    if (excess <= 0) return 0;
    return Math.min(this.options.maxRejectRatio, excess / (requests + 1));
  }
}
