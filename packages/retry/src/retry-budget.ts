import { functionOption, integerOption, numberOption, objectOption } from '@grpc-resilience/status';

/** Options of {@link RetryBudget}. */
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

const SLOTS = 10;

/**
 * Limits retries to a share of calls, so an outage is not multiplied into a retry storm
 * (Finagle's RetryBudget, Linkerd's retry budget). Each logical call deposits `ratio`; each retry
 * withdraws 1; deposits older than `windowMs` expire. A separate reserve refills at
 * `minPerSecond` (at most `minPerSecond` banked), for services with little traffic.
 * In a total outage, N calls make at most N * (1 + ratio) attempts plus the reserve.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly minPerSecond: number;
  private readonly slotMs: number;
  private readonly now: () => number;
  private readonly calls = new Float64Array(SLOTS);
  private readonly retries = new Float64Array(SLOTS);
  private slot = 0;
  private slotEndsAt: number;
  private reserve: number;
  private reserveAt: number;

  constructor(options: RetryBudgetOptions = {}, path = 'retry.budget') {
    const input = objectOption(path, options, ['ratio', 'minPerSecond', 'windowMs', 'now']);
    this.ratio = numberOption(`${path}.ratio`, input.ratio, 0.2, { min: 0, max: 10 });
    this.minPerSecond = numberOption(`${path}.minPerSecond`, input.minPerSecond, 10, {
      min: 0,
      max: 1e6,
    });
    const windowMs = integerOption(`${path}.windowMs`, input.windowMs, 10_000, {
      min: 100,
      max: 3_600_000,
    });
    this.slotMs = windowMs / SLOTS;
    this.now = functionOption(`${path}.now`, input.now, Date.now);
    const now = this.now();
    this.slotEndsAt = now + this.slotMs;
    this.reserve = this.minPerSecond;
    this.reserveAt = now;
  }

  /** Records one logical call (its first attempt). Cheap: the hot path calls it. */
  recordCall(): void {
    this.rotate();
    this.calls[this.slot]++;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryAcquire(): boolean {
    const now = this.rotate();
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < SLOTS; i++) {
      calls += this.calls[i];
      retries += this.retries[i];
    }
    if (this.ratio * calls - retries >= 1) {
      this.retries[this.slot]++;
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

  /** Moves to the slot of now, clearing slots whose time has passed; returns now. */
  private rotate(): number {
    const now = this.now();
    if (now < this.slotEndsAt) return now;
    const passed = Math.min(SLOTS, Math.floor((now - this.slotEndsAt) / this.slotMs) + 1);
    for (let i = 0; i < passed; i++) {
      this.slot = (this.slot + 1) % SLOTS;
      this.calls[this.slot] = 0;
      this.retries[this.slot] = 0;
    }
    this.slotEndsAt += passed * this.slotMs;
    if (this.slotEndsAt <= now) this.slotEndsAt = now + this.slotMs;
    return now;
  }
}
