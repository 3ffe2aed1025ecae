/** Tokens are counted in thousandths, so twenty deposits of 0.05 make exactly one hedge. */
const MILLI = 1000;

/**
 * Hedges that may be banked after a quiet spell: slow calls come in bursts (one server stalls,
 * several calls wait on it at once), and a bank of one would hedge only the first of them.
 */
export const HEDGE_BURST = 10;

/**
 * The cap on hedges, after Finagle's `BackupRequestFilter`, whose `RetryBudget` lets only
 * `maxExtraLoad` of requests send a backup. A token bucket: each hedgeable call deposits
 * `maxExtraLoad` (rounded down to thousandths), a hedge takes one whole token, at most
 * {@link HEDGE_BURST} are banked, and the bucket starts empty. Hence, by construction:
 *
 * - from the first call on, hedges <= floor(maxExtraLoad x calls);
 * - over any run of N later calls, hedges <= maxExtraLoad x N + what the bucket held when the
 *   run began (at most {@link HEDGE_BURST}).
 *
 * There is no time-based reserve (Finagle's has 10/s): a quiet client must not hedge more than
 * its share. No timer, no allocation: two integers.
 */
export class HedgeAllowance {
  /** Thousandths of a hedge. */
  private milliTokens = 0;
  private readonly deposit: number;

  /** `maxExtraLoad`: hedges allowed per hedgeable call, from 0 to 1. */
  constructor(maxExtraLoad: number) {
    // Down, so the cap never exceeds the share asked for (0.0504 gives 0.050).
    this.deposit = Math.floor(maxExtraLoad * MILLI + 1e-9);
  }

  /** A hedgeable call started: it earns its share of a hedge. */
  recordCall(): void {
    this.milliTokens = Math.min(HEDGE_BURST * MILLI, this.milliTokens + this.deposit);
  }

  /** Takes one hedge if a whole one is banked; false (and nothing taken) otherwise. */
  tryTake(): boolean {
    if (this.milliTokens < MILLI) return false;
    this.milliTokens -= MILLI;
    return true;
  }

  /** Whether a hedge could be taken now, without taking it. */
  get available(): boolean {
    return this.milliTokens >= MILLI;
  }

  /** Hedges banked now, fractions included (for tests and diagnostics). */
  get tokens(): number {
    return this.milliTokens / MILLI;
  }
}
