import type { Attributes, ObservableResult } from '@opentelemetry/api';
import { ATTR_CIRCUIT, ATTR_STATE, ATTR_TARGET } from './names';
import type { Instruments } from './instruments';

/** A breaker's state names, as the circuit-breaker package names them. */
export const BREAKER_STATES = Object.freeze(['closed', 'open', 'half-open'] as const);

/** A change of a circuit's state. */
export interface BreakerStateChange {
  /** The circuit: the target, or `target method` with method scope. */
  name: string;
  from: string;
  to: string;
}

/**
 * What the metrics need of a circuit breaker: `createCircuitBreakerInterceptor()`'s result has
 * this shape, and so can anything else that reports circuits.
 */
export interface ObservableBreaker {
  onStateChange(listener: (change: BreakerStateChange) => void): { dispose(): void };
}

/**
 * The circuits of every watched breaker, as one observable gauge per provider: the state a
 * circuit is in reads 1 and the other two 0, so `== 1` on `state="open"` is the alert. A
 * circuit appears at its first change (all start closed).
 */
export class BreakerStates {
  private readonly circuits = new Map<string, { state: string; attributes: Attributes[] }>();
  /** One subscription per breaker: clients of one target share a breaker and watch it each. */
  private readonly watched = new WeakMap<ObservableBreaker, { dispose(): void }>();

  constructor(private readonly instruments: Instruments) {
    instruments.breakerState.addCallback((result) => this.observe(result));
  }

  /** Watches `breaker` of `target`: its transitions count, its circuits' states are observed. */
  watch(breaker: ObservableBreaker, target: string): { dispose(): void } {
    const known = this.watched.get(breaker);
    if (known) return known;
    const subscription = breaker.onStateChange((change) => {
      let circuit = this.circuits.get(change.name);
      if (!circuit) {
        circuit = {
          state: change.from,
          attributes: BREAKER_STATES.map((state) =>
            Object.freeze({
              [ATTR_TARGET]: target,
              [ATTR_CIRCUIT]: change.name,
              [ATTR_STATE]: state,
            }),
          ),
        };
        this.circuits.set(change.name, circuit);
      }
      circuit.state = change.to;
      const entered = BREAKER_STATES.indexOf(change.to as (typeof BREAKER_STATES)[number]);
      if (entered >= 0) this.instruments.breakerTransitions.add(1, circuit.attributes[entered]);
    });
    const watch = {
      dispose: () => {
        this.watched.delete(breaker);
        subscription.dispose();
      },
    };
    this.watched.set(breaker, watch);
    return watch;
  }

  private observe(result: ObservableResult): void {
    for (const { state, attributes } of this.circuits.values()) {
      BREAKER_STATES.forEach((name, i) => result.observe(name === state ? 1 : 0, attributes[i]));
    }
  }
}
