/** Slots a window is cut into: counts leave the window a tenth of it at a time. */
const SLOTS = 10;

/**
 * A few running sums over a sliding time window (the retry budget's calls and retries, the
 * throttle's requests and accepts). The window is cut into ten slots; a slot is cleared when its
 * time comes round again, so a count leaves the window between 0.9 and 1 window after it was
 * added. Rotation is lazy, on the next read or write: no timer, nothing to unref or clear.
 * A decision that reads or adds several series moves the window once ({@link advance}, one
 * clock read), then reads them ({@link current}) and adds to them ({@link put}) at that instant.
 */
export class SlidingCounts {
  private readonly slots: Float64Array;
  private readonly sums: Float64Array;
  private readonly slotMs: number;
  private slot = 0;
  private slotEndsAt: number;

  constructor(
    private readonly series: number,
    windowMs: number,
    private readonly now: () => number,
  ) {
    this.slots = new Float64Array(series * SLOTS);
    this.sums = new Float64Array(series);
    this.slotMs = windowMs / SLOTS;
    this.slotEndsAt = now() + this.slotMs;
  }

  /** Adds `amount` to series `index` now. */
  add(index: number, amount = 1): void {
    this.advance();
    this.put(index, amount);
  }

  /** The sum of series `index` over the window that ends now. */
  sum(index: number): number {
    this.advance();
    return this.sums[index];
  }

  /** The sum of series `index` over the window as of the last {@link advance}. */
  current(index: number): number {
    return this.sums[index];
  }

  /** Adds `amount` to series `index` at the instant of the last {@link advance}. */
  put(index: number, amount = 1): void {
    this.slots[this.slot * this.series + index] += amount;
    this.sums[index] += amount;
  }

  /**
   * Moves the window to now, clearing the slots whose time has passed; returns the clock's
   * reading, the one clock read of a decision.
   */
  advance(): number {
    const now = this.now();
    if (now < this.slotEndsAt) return now;
    const passed = Math.min(SLOTS, Math.floor((now - this.slotEndsAt) / this.slotMs) + 1);
    for (let i = 0; i < passed; i++) {
      this.slot = (this.slot + 1) % SLOTS;
      for (let s = 0; s < this.series; s++) this.slots[this.slot * this.series + s] = 0;
    }
    this.slotEndsAt += passed * this.slotMs;
    if (this.slotEndsAt <= now) this.slotEndsAt = now + this.slotMs;
    // Recomputed rather than decremented, so fractional deposits leave no rounding drift.
    this.sums.fill(0);
    for (let i = 0; i < SLOTS; i++)
      for (let s = 0; s < this.series; s++) this.sums[s] += this.slots[i * this.series + s];
    return now;
  }
}
