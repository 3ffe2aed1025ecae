import {
  CircuitState,
  ConsecutiveBreaker,
  CountBreaker,
  EventEmitter,
  ExponentialBackoff,
  noJitterGenerator,
  type IBackoff,
  type IBreaker,
  type IDisposable,
} from 'cockatiel';
import type { ResolvedCircuitBreakerOptions } from './options';

/** A breaker's state, named as in docs/architecture.md. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** A change of state. */
export interface BreakerStateChange {
  /** The target, or `target method` with method scope. */
  name: string;
  from: BreakerState;
  to: BreakerState;
}

/** Whether a call may go, and if so whether it is a half-open probe. */
export type Admission = 'pass' | 'probe' | 'reject';

/** Trips when any of its breakers would (consecutive failures, or a failure rate). */
class AnyBreaker implements IBreaker {
  constructor(private readonly breakers: IBreaker[]) {}
  get state(): unknown {
    return this.breakers.map((breaker) => breaker.state);
  }
  set state(value: unknown) {
    (value as unknown[]).forEach((state, i) => (this.breakers[i].state = state));
  }
  success(state: CircuitState): void {
    for (const breaker of this.breakers) breaker.success(state);
  }
  failure(state: CircuitState): boolean {
    let trip = false;
    for (const breaker of this.breakers) trip = breaker.failure(state) || trip;
    return trip;
  }
}

/**
 * One circuit: cockatiel's breakers count (ConsecutiveBreaker, CountBreaker) and its
 * ExponentialBackoff spaces the half-open probes; the admission is ours, synchronous and
 * non-queuing. cockatiel 3's policy makes every caller wait behind the half-open probe; here at
 * most `halfOpenProbes` go and every other call is rejected at once.
 */
export class CircuitBreaker {
  readonly name: string;
  private state: BreakerState = 'closed';
  private readonly breaker: IBreaker;
  private openUntil = 0;
  private probesInFlight = 0;
  private backoff: IBackoff<unknown> | undefined;
  private readonly changes = new EventEmitter<BreakerStateChange>();

  constructor(
    name: string,
    private readonly options: ResolvedCircuitBreakerOptions,
  ) {
    this.name = name;
    const breakers: IBreaker[] = [new ConsecutiveBreaker(options.consecutiveFailures)];
    if (options.failureRate) {
      const { threshold, windowSize, minimumCalls } = options.failureRate;
      breakers.push(
        new CountBreaker({ threshold, size: windowSize, minimumNumberOfCalls: minimumCalls }),
      );
    }
    this.breaker = breakers.length === 1 ? breakers[0] : new AnyBreaker(breakers);
  }

  /** The current state (an open circuit whose wait is over reads `half-open`). */
  get currentState(): BreakerState {
    if (this.state === 'open' && this.options.now() >= this.openUntil) return 'half-open';
    return this.state;
  }

  /** Subscribes to state changes; `dispose()` unsubscribes. */
  onStateChange(listener: (change: BreakerStateChange) => void): IDisposable {
    return this.changes.addListener(listener);
  }

  /** Decides whether a call goes. The hot path reads one field while closed. */
  admit(): Admission {
    if (this.state === 'closed') return 'pass';
    if (this.state === 'open') {
      if (this.options.now() < this.openUntil) return 'reject';
      this.transition('half-open');
    }
    if (this.probesInFlight >= this.options.halfOpenProbes) return 'reject';
    this.probesInFlight++;
    return 'probe';
  }

  /** A call (or probe) succeeded: the server answered. */
  onSuccess(probe: boolean): void {
    if (probe) {
      this.probesInFlight--;
      if (this.state === 'half-open') this.close();
      return;
    }
    if (this.state === 'closed') this.breaker.success(CircuitState.Closed);
  }

  /** A call (or probe) failed in a way that counts against the server. */
  onFailure(probe: boolean): void {
    if (probe) {
      this.probesInFlight--;
      if (this.state === 'half-open') this.open();
      return;
    }
    if (this.state === 'closed' && this.breaker.failure(CircuitState.Closed)) this.open();
  }

  /** A probe ended without telling anything of the server (the caller's error, a cancel). */
  onNeutral(probe: boolean): void {
    if (probe) this.probesInFlight--;
  }

  private open(): void {
    this.backoff = (this.backoff ?? this.newBackoff()).next(undefined);
    this.openUntil = this.options.now() + this.backoff.duration;
    this.transition('open');
  }

  private close(): void {
    this.backoff = undefined;
    this.breaker.success(CircuitState.HalfOpen);
    this.transition('closed');
  }

  private newBackoff() {
    const { halfOpenAfterMs, maxHalfOpenAfterMs } = this.options;
    // Without growth configured (max == initial) the wait stays constant.
    return new ExponentialBackoff({
      initialDelay: halfOpenAfterMs,
      maxDelay: maxHalfOpenAfterMs,
      exponent: 2,
      generator: noJitterGenerator,
    });
  }

  private transition(to: BreakerState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.changes.emit({ name: this.name, from, to });
  }
}
