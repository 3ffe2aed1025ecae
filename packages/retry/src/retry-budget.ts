import { functionOption, integerOption, numberOption, objectOption } from '@grpc-resilience/status';
import { SlidingCounts } from './sliding-counts';

/** Options of {@link RetryBudget}, the fixed budget: `budget: { kind: 'fixed', ... }`. */
export interface RetryBudgetOptions {
  /** Retries allowed per call over the window: 0.2 lets 20 retries go for 100 calls. Default 0.2. */
  ratio?: number;
  /** Retries allowed per second regardless of traffic, so a quiet client can still retry. Default 10. */
  minPerSecond?: number;
  /** How long a call's deposit counts, in ms. Default 10000. */
  windowMs?: number;
  /** Clock, injectable for tests. Default `Date.now`. */
  now?: () => number;
}

/** The option names of {@link RetryBudgetOptions}. */
export const FIXED_BUDGET_OPTION_KEYS = ['ratio', 'minPerSecond', 'windowMs', 'now'] as const;

const CALLS = 0;
const RETRIES = 1;

/**
 * The fixed budget: limits retries to a share of calls, so an outage is not multiplied into a
 * retry storm (Finagle's RetryBudget, Linkerd's retry budget). Each logical call deposits
 * `ratio`; each retry withdraws 1; deposits older than `windowMs` expire. A separate reserve
 * refills at `minPerSecond` (at most `minPerSecond` banked), for services with little traffic.
 * In a total outage, N calls make at most N * (1 + ratio) attempts plus the reserve; a retry that
 * succeeds costs as much as one that fails. The default is the adaptive budget
 * ({@link AdaptiveRetryBudget}); this one stays for those who want its fixed arithmetic.
 */
export class RetryBudget {
  readonly kind = 'fixed';
  private readonly ratio: number;
  private readonly minPerSecond: number;
  private readonly now: () => number;
  private readonly counts: SlidingCounts;
  private reserve: number;
  private reserveAt: number;

  constructor(options: RetryBudgetOptions = {}, path = 'retry.budget') {
    const input = objectOption(path, options, [...FIXED_BUDGET_OPTION_KEYS, 'kind']);
    this.ratio = numberOption(`${path}.ratio`, input.ratio, 0.2, { min: 0, max: 10 });
    this.minPerSecond = numberOption(`${path}.minPerSecond`, input.minPerSecond, 10, {
      min: 0,
      max: 1e6,
    });
    const windowMs = integerOption(`${path}.windowMs`, input.windowMs, 10_000, {
      min: 100,
      max: 3_600_000,
    });
    this.now = functionOption(`${path}.now`, input.now, Date.now);
    this.counts = new SlidingCounts(2, windowMs, this.now);
    this.reserve = this.minPerSecond;
    this.reserveAt = this.now();
  }

  /** Records one logical call (its first attempt). Cheap: the hot path calls it. */
  recordCall(): void {
    this.counts.add(CALLS);
  }

  /** Takes one retry from the budget; false when the budget is spent. One clock read. */
  tryAcquire(): boolean {
    const now = this.counts.advance();
    if (this.ratio * this.counts.current(CALLS) - this.counts.current(RETRIES) >= 1) {
      this.counts.put(RETRIES);
      return true;
    }
    this.reserve = Math.min(
      this.minPerSecond,
      this.reserve + ((now - this.reserveAt) * this.minPerSecond) / 1000,
    );
    this.reserveAt = now;
    if (this.reserve >= 1) {
      this.reserve--;
      return true;
    }
    return false;
  }
}
