import {
  status as Status,
  type InterceptingCall,
  type Interceptor,
  type StatusObject,
} from '@grpc/grpc-js';
import { rejectedCall } from '@grpc-resilience/status';
import { attemptVerdict } from './attempt-verdict';
import {
  resolveAdaptiveBudgetOptions,
  type AdaptiveBudgetOptions,
  type ResolvedAdaptiveBudgetOptions,
} from './adaptive-budget-options';
import { BudgetedAttempt } from './budgeted-attempt';
import { ClientThrottle } from './client-throttle';

/** Details of an attempt the throttle refused. */
const THROTTLED_DETAILS =
  'client-side throttling: the servers of this target accepted too few recent attempts';

/**
 * The adaptive retry budget, one per target: spends on retries that fail, not on retries that
 * succeed, and throttles first attempts too when the servers stop accepting.
 *
 * - Tokens: each logical call deposits `ratio`, up to `maxTokens` (also the starting balance);
 *   a retry (or a hedge) takes 1. When that retry is answered by a server that accepted it, the
 *   token is refunded: it cured a random failure, it did not add load to a sick target. A retry
 *   that fails keeps its token spent. With 20% of attempts failing at random, about 5 retries in
 *   100 calls fail, well within the 20 deposited; in a total outage every retry fails, so retries
 *   are held to `ratio` per call once the starting balance is spent, whatever the call rate: no
 *   reserve refills with time, so a quiet caller cannot amplify an outage either.
 * - Throttle ({@link ClientThrottle}): every attempt, the first included, passes the SRE-book
 *   throttle, which in a total outage refuses most of them locally with UNAVAILABLE and the
 *   trailer `grpc-resilience-reason: throttled`, and lets them through again as the servers
 *   accept.
 *
 * `createRetryInterceptor({ budget })` asks the throttle before each of its attempts and reports
 * how each one ended itself, with no interceptor between; {@link AdaptiveRetryBudget.interceptor}
 * does the same for a chain with another retry layer. No timer: the window slides lazily.
 */
export class AdaptiveRetryBudget {
  readonly kind = 'adaptive';
  /** The target's client-side throttle, or undefined when turned off. */
  readonly throttle: ClientThrottle | undefined;
  /**
   * Admits each attempt through the throttle and reports its outcome to the budget, for a chain
   * with another retry layer: put it right inside that layer. `createRetryInterceptor` does
   * this itself, without it; placed inside it as well, it lets attempts through untouched (never
   * counted twice).
   */
  readonly interceptor: Interceptor;
  /**
   * @internal True while an attempt this budget admitted builds the chain below it
   * (synchronously, in grpc-js): the budget's own interceptor there lets it through, uncounted.
   */
  gating = false;
  private readonly options: ResolvedAdaptiveBudgetOptions;
  /** Thousandths of a token, as gRFC A6's retry throttling keeps them: ten deposits of 0.1 make 1. */
  private milliTokens: number;
  private readonly maxMilliTokens: number;
  private readonly depositMilliTokens: number;

  /** Throws `ConfigError` for a bad option, naming it under `path`. */
  constructor(options: AdaptiveBudgetOptions = {}, path = 'retry.budget') {
    this.options = resolveAdaptiveBudgetOptions(options, path);
    this.maxMilliTokens = Math.round(this.options.maxTokens * 1000);
    this.depositMilliTokens = Math.round(this.options.ratio * 1000);
    this.milliTokens = this.maxMilliTokens;
    const { throttle, now, random } = this.options;
    this.throttle = throttle ? new ClientThrottle(throttle, now, random) : undefined;
    this.interceptor = (callOptions, nextCall) => {
      // The same budget's interceptor again below (a chain written for older versions adds it
      // inside the retry layer): this attempt is already admitted and counted.
      if (this.gating) return nextCall(callOptions) as InterceptingCall;
      const refused = this.refusal();
      if (refused !== undefined)
        return new BudgetedAttempt(refused, this) as unknown as InterceptingCall;
      this.gating = true;
      try {
        return new BudgetedAttempt(nextCall(callOptions), this) as unknown as InterceptingCall;
      } finally {
        this.gating = false;
      }
    };
  }

  /**
   * @internal Asks the throttle about one attempt: undefined to send it, else the call that
   * refuses it locally (UNAVAILABLE, `grpc-resilience-reason: throttled`, nothing sent).
   */
  refusal(): InterceptingCall | undefined {
    if (this.throttle === undefined || this.throttle.admit()) return undefined;
    return rejectedCall(Status.UNAVAILABLE, THROTTLED_DETAILS, 'throttled');
  }

  /** Tokens left now: a retry needs 1 (for tests and diagnostics). */
  get balance(): number {
    return this.milliTokens / 1000;
  }

  /** Records one logical call: deposits `ratio`. Cheap: the hot path calls it. */
  recordCall(): void {
    this.milliTokens = Math.min(this.maxMilliTokens, this.milliTokens + this.depositMilliTokens);
  }

  /** Takes one token for a retry or a hedge; false when fewer than one is left. */
  tryAcquire(): boolean {
    if (this.milliTokens < 1000) return false;
    this.milliTokens -= 1000;
    return true;
  }

  /** Gives back the token of a retry or hedge that turned out not to add load. */
  refund(): void {
    this.milliTokens = Math.min(this.maxMilliTokens, this.milliTokens + 1000);
  }

  /**
   * @internal The outcome of one attempt, from the retry layer (or {@link BudgetedAttempt}): the
   * throttle counts what
   * the servers accepted; a retry's token comes back unless the servers refused it, or it lost a
   * hedged race (`lost`): then it added load that bought nothing, and keeps its token spent, so
   * hedges are held to the budget like failing retries.
   */
  recordAttempt(status: StatusObject, isRetry: boolean, lost = false): void {
    const verdict = attemptVerdict(status);
    if (verdict !== 'ignored') this.throttle?.record(verdict === 'accepted');
    if (isRetry && !lost && verdict !== 'rejected') this.refund();
  }
}
