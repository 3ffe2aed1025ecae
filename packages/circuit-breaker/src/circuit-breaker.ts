import {
  CircuitState,
  ConsecutiveBreaker,
  CountBreaker,
  EventEmitter,
  ExponentialBackoff,
  type GeneratorFn,
  type IBackoff,
  type IBreaker,
  type IDisposable,
} from 'cockatiel';
import type { CallOutcome } from './call-outcome';
import type { ResolvedCircuitBreakerOptions } from './options';
import type { BreakerState, BreakerStateChange } from './state-change';

/** Whether a call may go, and if so whether it is a half-open probe. */
export type Admission = 'pass' | 'probe' | 'reject';

/** Weights that add up to 1 in floating point may land a hair below it (0.1 × 10). */
const WHOLE_FAILURE = 1 - 1e-9;

/**
 * cockatiel's `noJitterGenerator` always doubles; this one grows by the options' `exponent`
 * (`halfOpenBackoffMultiplier`). No jitter: each process probes once per wait, so processes
 * probing together add a handful of calls, not a storm.
 */
const probeWaitGenerator: GeneratorFn<number> = (attempt = 0, options) => [
  Math.round(Math.min(options.maxDelay, options.initialDelay * options.exponent ** attempt)),
  attempt + 1,
];

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
  /** When the current or last half-open phase began, ms. */
  private halfOpenSince = 0;
  private probesInFlight = 0;
  /** Weight of the application failures since the last whole failure or success, below 1. */
  private credit = 0;
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

  /**
   * Whether the circuit refuses calls right now: open, and its wait not over. Reads one field
   * while closed. For the attempt gate, which must let a probe's own retries through.
   */
  isRefusing(): boolean {
    return this.state === 'open' && this.options.now() < this.openUntil;
  }

  /** Decides whether a call goes. The hot path reads one field while closed. */
  admit(): Admission {
    if (this.state === 'closed') return 'pass';
    if (this.state === 'open') {
      const now = this.options.now();
      if (now < this.openUntil) return 'reject';
      this.halfOpenSince = now;
      this.transition('half-open');
    }
    if (this.probesInFlight >= this.options.halfOpenProbes) return 'reject';
    this.probesInFlight++;
    return 'probe';
  }

  /**
   * Records how a call admitted by {@link admit} ended (see `CallOutcome`). A probe closes the
   * circuit when the server answered at all (OK, the caller's error, its application's error, a
   * refusal to shed load: the target is up), and opens it again, for a longer wait, when it could not serve.
   */
  record(outcome: CallOutcome, probe: boolean): void {
    if (probe) {
      this.probesInFlight--;
      if (this.state !== 'half-open' || outcome === 'neutral') return;
      return outcome === 'failure' ? this.open() : this.close();
    }
    if (this.state !== 'closed') return; // a call admitted before the circuit opened
    // A server shedding load answered at once: as alive as a success, so it ends a run of
    // failures (at 3x a limited server's capacity, the few calls that still timed out between
    // its refusals otherwise added up to five and opened the circuit).
    if (outcome === 'success' || outcome === 'shed') {
      this.credit = 0;
      this.breaker.success(CircuitState.Closed);
    } else if (outcome === 'failure') {
      this.fail();
    } else if (outcome === 'application-failure') {
      // Weighed: cockatiel's breakers count whole failures, so the weights add up to one first.
      this.credit += this.options.applicationFailureWeight;
      if (this.credit >= WHOLE_FAILURE) {
        this.credit -= 1;
        this.fail();
      }
    }
  }

  private fail(): void {
    if (this.breaker.failure(CircuitState.Closed)) this.open();
  }

  /**
   * Opens for the next wait of the probe backoff. After a failed probe the wait runs from when
   * the probes began, not from their end: a probe's own retries and timeouts do not push the next
   * one back, so probes start one wait apart.
   */
  private open(): void {
    const now = this.options.now();
    this.backoff = (this.backoff ?? this.newBackoff()).next(undefined);
    const from = this.state === 'half-open' ? this.halfOpenSince : now;
    this.openUntil = from + this.backoff.duration;
    this.credit = 0;
    this.transition('open', Math.max(0, this.openUntil - now));
  }

  /** Closing forgets the probe backoff: the next opening waits `halfOpenAfterMs` again. */
  private close(): void {
    this.backoff = undefined;
    this.breaker.success(CircuitState.HalfOpen);
    this.transition('closed');
  }

  private newBackoff() {
    const { halfOpenAfterMs, maxHalfOpenAfterMs, halfOpenBackoffMultiplier } = this.options;
    // With max == initial, or a multiplier of 1, the wait stays constant.
    return new ExponentialBackoff({
      initialDelay: halfOpenAfterMs,
      maxDelay: maxHalfOpenAfterMs,
      exponent: halfOpenBackoffMultiplier,
      generator: probeWaitGenerator,
    });
  }

  private transition(to: BreakerState, probeAfterMs?: number): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.changes.emit(
      probeAfterMs === undefined
        ? { name: this.name, from, to }
        : { name: this.name, from, to, probeAfterMs },
    );
  }
}
