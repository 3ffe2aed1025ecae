/** A breaker's state, named as in docs/architecture.md. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** A change of state, as listeners (logging, metrics) hear it. */
export interface BreakerStateChange {
  /** The target, or `target method` with method scope. */
  name: string;
  from: BreakerState;
  to: BreakerState;
  /**
   * With `to: 'open'`: ms until the next probe may go (grows while probes fail, see
   * `maxHalfOpenAfterMs`). Undefined otherwise.
   */
  probeAfterMs?: number;
}
