import {
  Metadata,
  status as Status,
  type InterceptingListener,
  type InterceptorOptions,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ATTEMPTS_METADATA_KEY,
  callUserCode,
  RETRY_STOPPED_METADATA_KEY,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import type { GiveUpReason, ResolvedRetryOptions } from './options';
import type { Attempt } from './attempt-listener';
import {
  ATTEMPT_TIMEOUT_CODE,
  attemptTimeoutDetails,
  hasUsefulTimeLeft,
  localStatus,
  nextAttemptMetadata,
  perAttemptTimeoutFor,
} from './attempt-timing';
import { observeDedupScope, type NextCall } from './call-attempts';
import { CallRelay } from './call-relay';
import { decideRetry } from './retry-policy';
import { isRetryable, nextRetryState, type RetryState, type RetryTransition } from './retry-state';

/**
 * One logical call made of one or more attempts (gRFC A6 semantics at the interceptor level),
 * moving through the phases of {@link RetryState}: here, what starts, retries and ends it.
 * The plumbing between the caller, the request pipe and the attempts is the {@link CallRelay}
 * it extends, and the attempts' bookkeeping is the `CallAttempts` that extends in turn. An idempotent unary call of a
 * client with hedging on is a `HedgedCall`, which fills in the hooks below; other calls carry
 * nothing of hedging. Timers a pending call waits on (backoff, hedge delay, per-attempt
 * timeout) keep the process alive, as grpc-js's own pending call does.
 */
export class RetryingCall extends CallRelay implements InterceptingCallInterface {
  protected state: RetryState = 'attempting';
  /** The caller's request metadata (never changed: a retry or a hedge sends a copy). */
  protected metadata!: Metadata;
  protected cancelled = false;
  private backoffTimer: NodeJS.Timeout | undefined;
  /** The caller's cancel, kept when it comes before `start`. */
  private cancelStatus: StatusObject | undefined;
  /**
   * The status of the last attempt that failed and was retried: what a server last said, and,
   * while backing off, the caller's status if no attempt follows.
   */
  private retriedStatus: StatusObject | undefined;

  constructor(
    callOptions: InterceptorOptions,
    nextCall: NextCall,
    options: ResolvedRetryOptions,
    idempotent: boolean,
  ) {
    super(callOptions, nextCall, options, idempotent);
  }

  /** The call's phase (for tests and diagnostics). */
  get phase(): RetryState {
    return this.state;
  }

  start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.metadata = metadata;
    if (listener) this.listener = listener;
    if (this.cancelStatus !== undefined) {
      // Cancelled before it started (by an interceptor above): end it as grpc-js would, later.
      const status = this.cancelStatus;
      process.nextTick(() => this.finish(status));
      return;
    }
    this.options.budget?.recordCall();
    const now = this.options.now();
    this.startClock(now);
    this.onCallStart();
    this.startAttempt(metadata, now);
  }

  // Hooks a hedged call fills in; a plain call needs none of them.
  /** The call starts its first attempt. */
  protected onCallStart(): void {}
  /** The attempt the request pipe serves has started. */
  protected onAttemptStarted(): void {}
  /** No hedge may follow now (the attempt timed out or failed, or the call finished). */
  protected clearHedgeTimer(): void {}
  /** The metadata an attempt starts with; `now` is when it starts. */
  protected attemptMetadata(metadata: Metadata, _attempt: Attempt, _now: number): Metadata {
    return metadata;
  }
  /** An attempt succeeded; the call finishes with it next. */
  protected onAttemptOk(_attempt: Attempt): void {}

  protected move(transition: RetryTransition): void {
    this.state = nextRetryState(this.state, transition);
  }

  /** Starts the attempt the request pipe serves; `now` is the clock's reading, when just read. */
  private startAttempt(metadata: Metadata, now = this.options.now()): void {
    const attempt = this.launch(metadata, false, now);
    // An attempt refused synchronously below has already been dealt with (retry or finish).
    if (attempt.ended) return;
    this.attachRequest(attempt.call);
    if (this.readPending) attempt.call.startRead();
    this.armAttemptTimer(attempt);
    this.onAttemptStarted();
  }

  /**
   * Makes and starts one attempt: the one the pipe serves, or a hedge beside it. It is the
   * call's before it starts, so a status reported at once finds it live.
   */
  protected launch(metadata: Metadata, asHedge: boolean, now = this.options.now()): Attempt {
    const attempt = this.makeAttempt(asHedge);
    if (asHedge) this.move('hedge');
    attempt.call.start(this.attemptMetadata(metadata, attempt, now), attempt);
    return attempt;
  }

  protected armAttemptTimer(attempt: Attempt): void {
    if (this.options.perAttemptTimeoutMs === undefined) return;
    const ms = perAttemptTimeoutFor(this.options, this.idempotent, this.attemptCount, this);
    if (ms !== undefined) attempt.timer = setTimeout(() => this.onAttemptTimeout(attempt, ms), ms);
  }

  private onAttemptTimeout(attempt: Attempt, ms: number): void {
    attempt.timer = undefined;
    if (attempt.ended || this.state === 'finished') return;
    attempt.timedOut = true;
    // A hedged pair carries on with the other attempt; a lone attempt's retry waits for its status.
    if (this.state === 'attempting' || this.state === 'replaying') {
      this.clearHedgeTimer();
      this.move('attempt-timeout');
    }
    attempt.call.cancelWithStatus(ATTEMPT_TIMEOUT_CODE, attemptTimeoutDetails(ms));
  }

  onOverLimit(): void {
    if (this.state !== 'committed') this.commit();
  }

  onCaughtUp(): void {
    if (this.state === 'replaying') this.move('caught-up');
  }

  cancelWithStatus(code: Status, details: string): void {
    if (this.state === 'finished' || this.cancelled) return;
    this.cancelled = true;
    this.closeRequest();
    const attempt = this.liveAttempt;
    if (attempt === undefined || attempt.timedOut) {
      // Backing off, cut by its per-attempt timeout (grpc-js ignores a second cancel), or not
      // started: no attempt would report the caller's status.
      const status = localStatus(code, details);
      if (attempt !== undefined || this.backoffTimer !== undefined) this.finish(status);
      else this.cancelStatus = status;
      return;
    }
    attempt.call.cancelWithStatus(code, details);
    this.hedgeAttempt?.call.cancelWithStatus(code, details);
  }

  private commit(): void {
    this.move('commit');
    this.commitRequest();
    // Once the caller has seen part of a response, or no retry can follow, only the overall
    // deadline bounds the attempt (Envoy ignores per_try_timeout once the response started).
    this.liveAttempt?.clearTimer();
  }

  protected isLive(attempt: Attempt): boolean {
    return this.state !== 'finished' && this.isCurrentAttempt(attempt);
  }

  protected onResponseStarted(): void {
    if (this.state !== 'committed') this.commit();
  }

  /** @internal */
  override onStatus(attempt: Attempt, status: StatusObject): void {
    this.recordAttemptOutcome(attempt, status);
    if (!this.isLive(attempt)) return;
    attempt.ended = true;
    attempt.clearTimer();
    const scopes = this.scopesToWatch();
    if (scopes !== undefined) observeDedupScope(scopes, attempt, status);
    if (status.code === Status.OK) {
      this.onAttemptOk(attempt);
      return this.finish(status, attempt);
    }
    if (this.cancelled) return this.finish(status, attempt);
    this.onAttemptFailed(attempt, status);
  }

  /** An attempt failed and the caller has not cancelled: retry, or give up and say why. */
  protected onAttemptFailed(attempt: Attempt, status: StatusObject): void {
    const method = this.callOptions.method_definition.path;
    this.clearHedgeTimer();
    if (!isRetryable(this.state)) return this.giveUp(method, status, 'committed', attempt);
    const keyed = this.metadata.get(this.options.idempotencyKeyHeader).length > 0;
    const decision = decideRetry(status, this.factsAfter(attempt, keyed), this.options);
    if (!decision.retry) {
      // A retry the throttle refused sent nothing: the caller (and the breaker above) gets the
      // failure that made the call retry, not the local refusal that hides it.
      if (decision.reason === 'throttled' && this.retriedStatus !== undefined)
        return this.giveUp(method, this.retriedStatus, 'throttled');
      return this.giveUp(method, status, decision.reason, attempt);
    }
    this.move('retry');
    this.dropFailedAttempt(attempt);
    this.retriedStatus = status;
    this.detachRequest();
    // A pending call waits on this timer: it keeps the process alive, as grpc-js's call would.
    this.backoffTimer = setTimeout(() => this.onBackoffElapsed(), decision.delayMs);
    // Last: the hook may cancel the call, or write to it, and finds it backing off.
    callUserCode('the onRetry hook', this.options.onRetry, {
      method,
      attempt: this.attemptCount,
      delayMs: decision.delayMs,
      status,
    });
  }

  private onBackoffElapsed(): void {
    this.backoffTimer = undefined;
    if (this.state === 'finished') return;
    const status = this.retriedStatus!;
    // The timer may have fired late: the rule holds when the attempt would start.
    if (!hasUsefulTimeLeft(this, this.options)) {
      return this.giveUp(this.callOptions.method_definition.path, status, 'deadline');
    }
    if (this.state === 'backing-off') this.move('resume');
    const count = this.attemptCount;
    const metadata = nextAttemptMetadata(this.metadata, count, this.peersToAvoid());
    try {
      this.startAttempt(metadata);
    } catch (error) {
      // grpc-js refuses a call on a client closed meanwhile; this timer must not throw.
      const details = `retry not started: ${error instanceof Error ? error.message : String(error)}`;
      this.finish(localStatus(Status.UNAVAILABLE, details));
    }
  }

  protected giveUp(
    method: string,
    status: StatusObject,
    reason: GiveUpReason,
    attempt?: Attempt,
  ): void {
    // The call's record (logging, metrics) says why it was not retried (further).
    status.metadata?.set(RETRY_STOPPED_METADATA_KEY, reason);
    callUserCode('the onGiveUp hook', this.options.onGiveUp, {
      method,
      attempts: this.attemptCount,
      reason,
      status,
    });
    this.finish(status, attempt);
  }

  /** Delivers the call's one status (with `from`'s held headers and response), once. */
  private finish(status: StatusObject, from?: Attempt): void {
    if (this.state === 'finished') return;
    this.move('finish');
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.clearHedgeTimer();
    this.closeRequest();
    this.abandonAttempts(from);
    const count = this.attemptCount;
    if (count > 1) status.metadata?.set(ATTEMPTS_METADATA_KEY, String(count));
    this.deliver(status, from);
  }
}
