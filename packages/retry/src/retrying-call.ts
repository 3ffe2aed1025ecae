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
  classifyStatus,
  RETRY_STOPPED_METADATA_KEY,
  deadlineToMs,
  isFromTrailers,
  readDedupScope,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import type { GiveUpReason, ResolvedRetryOptions } from './options';
import { Attempt, NO_RESPONSE, type AttemptOwner } from './attempt-listener';
import {
  ATTEMPT_TIMEOUT_CODE,
  attemptTimeoutDetails,
  avoidablePeer,
  hasUsefulTimeLeft,
  localStatus,
  nextAttemptMetadata,
  perAttemptTimeoutFor,
  withPickedPeerSlot,
  type CallClock,
} from './attempt-timing';
import { markHedgeLost } from './budgeted-attempt';
import type { Hedging } from './hedging';
import type { LatencyWindow } from './latency-window';
import { RequestPipe, type RequestPipeOwner } from './request-pipe';
import { decideRetry, isRetryableStatus } from './retry-policy';
import { isRetryable, nextRetryState, type RetryState, type RetryTransition } from './retry-state';

type NextCall = (options: InterceptorOptions) => InterceptingCallInterface;
/** An interceptor each attempt passes (the adaptive budget's), as grpc-js calls one. */
type AttemptGate = (options: InterceptorOptions, next: NextCall) => unknown;
type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];

/** Details of the cancel a hedged call's losing attempt gets. */
export const HEDGE_LOST_DETAILS = 'hedge: another attempt answered first';

/**
 * One logical call made of one or more attempts (gRFC A6 semantics at the interceptor level),
 * moving through the phases of {@link RetryState}. What the caller writes goes through a
 * {@link RequestPipe}: kept for replay, handed to each attempt in order, with backpressure past
 * `maxBufferBytes` (which commits the call).
 *
 * A single response (unary, client stream) is held, headers included, until its status, so it
 * never commits before the end; a streaming response commits on its first header or message.
 * An idempotent unary call may be hedged: a second attempt beside the first, the first success
 * wins. Timers a pending call waits on (backoff, hedge delay, per-attempt timeout) keep the
 * process alive, as grpc-js's own pending call does.
 */
export class RetryingCall implements InterceptingCallInterface, AttemptOwner, RequestPipeOwner {
  private state: RetryState = 'attempting';
  /** The attempt the request pipe serves: the only live one, or the first of a hedged pair. */
  private attempt: Attempt | undefined;
  /** A hedge live beside `attempt`. */
  private hedge: Attempt | undefined;
  private attempts = 0;
  private listener: Partial<InterceptingListener> = {};
  private metadata!: Metadata;
  private readonly requests: RequestPipe;
  private readPending = false;
  private cancelled = false;
  private backoffTimer: NodeJS.Timeout | undefined;
  private hedgeTimer: NodeJS.Timeout | undefined;
  /** The caller's cancel, kept when it comes before `start`. */
  private cancelStatus: StatusObject | undefined;
  /** While backing off: the failed attempt's status, the caller's if no attempt follows. */
  private lastStatus: StatusObject | undefined;
  /** The status of the last attempt that failed and was retried: what a server last said. */
  private retriedStatus: StatusObject | undefined;
  /** Endpoints whose attempts failed: later attempts ask the balancer to avoid them. */
  private failedPeers: string[] | undefined;
  /** The method's latency window, when the call may be hedged. */
  private readonly window: LatencyWindow | undefined;
  private readonly clock: CallClock = { startedAt: 0, deadline: Infinity };

  constructor(
    private readonly callOptions: InterceptorOptions,
    private readonly nextCall: NextCall,
    private readonly options: ResolvedRetryOptions,
    private readonly idempotent: boolean,
    private readonly hedging?: Hedging,
    private readonly gate?: AttemptGate,
  ) {
    const method = callOptions.method_definition;
    this.requests = new RequestPipe(method, options.maxBufferBytes, this);
    if (hedging !== undefined && idempotent && !method.requestStream && !method.responseStream)
      this.window = hedging.window(method.path);
  }

  /** The call's phase (for tests and diagnostics). */
  get phase(): RetryState {
    return this.state;
  }

  /** Bytes of request messages the call holds now, as on the wire (for tests and diagnostics). */
  get bufferedBytes(): number {
    return this.requests.bytes;
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
    this.clock.startedAt = this.options.now();
    this.clock.deadline = deadlineToMs(this.callOptions.deadline) ?? Infinity;
    if (this.window !== undefined) this.hedging!.recordCall();
    this.startAttempt(metadata);
  }

  private move(transition: RetryTransition): void {
    this.state = nextRetryState(this.state, transition);
  }

  private startAttempt(metadata: Metadata): void {
    const attempt = this.launch(metadata, false);
    // An attempt refused synchronously below has already been dealt with (retry or finish).
    if (attempt.ended) return;
    this.requests.attach(attempt.call);
    if (this.readPending) attempt.call.startRead();
    this.armAttemptTimer(attempt);
    this.armHedgeTimer();
  }

  /**
   * Makes and starts one attempt: the one the pipe serves, or a hedge beside it. It is the
   * call's before it starts, so a status reported at once finds it live.
   */
  private launch(metadata: Metadata, asHedge: boolean): Attempt {
    const attempt = new Attempt(this, this.options.now());
    // A call that may be hedged asks the picker where each attempt went (on its own copy: the
    // caller's metadata stays untouched).
    if (this.window !== undefined) {
      const own = metadata === this.metadata ? metadata.clone() : metadata;
      metadata = withPickedPeerSlot(own, attempt);
    }
    attempt.call =
      this.gate === undefined
        ? this.nextCall(this.callOptions)
        : (this.gate(this.callOptions, this.nextCall) as InterceptingCallInterface);
    this.attempts++;
    if (asHedge) {
      this.hedge = attempt;
      this.move('hedge');
    } else {
      this.attempt = attempt;
    }
    attempt.call.start(metadata, attempt);
    return attempt;
  }

  private armAttemptTimer(attempt: Attempt): void {
    const ms = perAttemptTimeoutFor(this.options, this.idempotent, this.attempts, this.clock);
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

  sendMessageWithContext(context: MessageContext, message: unknown): void {
    this.requests.write(context, message);
  }

  sendMessage(message: unknown): void {
    this.requests.write({}, message);
  }

  halfClose(): void {
    this.requests.halfClose();
  }

  /** @internal The kept messages passed `maxBufferBytes`: this attempt, or the next, is the last. */
  onOverLimit(): void {
    if (this.state !== 'committed') this.commit();
  }

  /** @internal */
  onCaughtUp(): void {
    if (this.state === 'replaying') this.move('caught-up');
  }

  startRead(): void {
    this.readPending = true;
    this.attempt?.call.startRead();
    this.hedge?.call.startRead();
  }

  cancelWithStatus(code: Status, details: string): void {
    if (this.state === 'finished' || this.cancelled) return;
    this.cancelled = true;
    this.requests.close();
    const attempt = this.attempt;
    if (attempt === undefined || attempt.timedOut) {
      // Backing off, cut by its per-attempt timeout (grpc-js ignores a second cancel), or not
      // started: no attempt would report the caller's status.
      const status = localStatus(code, details);
      if (attempt !== undefined || this.backoffTimer !== undefined) this.finish(status);
      else this.cancelStatus = status;
      return;
    }
    attempt.call.cancelWithStatus(code, details);
    this.hedge?.call.cancelWithStatus(code, details);
  }

  getPeer(): string {
    return this.attempt?.call.getPeer() ?? '';
  }

  getAuthContext(): ReturnType<InterceptingCallInterface['getAuthContext']> {
    return this.attempt?.call.getAuthContext() ?? null;
  }

  private commit(): void {
    this.move('commit');
    this.requests.commit();
    // Once the caller has seen part of a response, or no retry can follow, only the overall
    // deadline bounds the attempt (Envoy ignores per_try_timeout once the response started).
    this.attempt?.clearTimer();
  }

  private isLive(attempt: Attempt): boolean {
    return (
      !attempt.ended &&
      this.state !== 'finished' &&
      (attempt === this.attempt || attempt === this.hedge)
    );
  }

  /** @internal */
  onMetadata(attempt: Attempt, metadata: Metadata): void {
    if (!this.isLive(attempt)) return;
    attempt.headersReceived = true;
    if (this.options.dedupScopes !== undefined) attempt.declaredScope = readDedupScope(metadata);
    if (!this.callOptions.method_definition.responseStream) {
      // Nothing reaches the caller before the status, so a retry stays invisible: a server
      // killed between its headers and its trailers is retried like one killed before.
      attempt.headers = metadata;
      return;
    }
    if (this.state !== 'committed') this.commit();
    this.listener.onReceiveMetadata?.(metadata);
  }

  /** @internal */
  onMessage(attempt: Attempt, message: unknown): void {
    if (!this.isLive(attempt)) return;
    if (!this.callOptions.method_definition.responseStream) {
      // grpc-js passes a null message before a failed single-response call's status: only the
      // status tells whether this response stands.
      attempt.response = message;
      return;
    }
    if (this.state !== 'committed') this.commit();
    this.readPending = false;
    this.listener.onReceiveMessage?.(message);
  }

  /** @internal */
  onStatus(attempt: Attempt, status: StatusObject): void {
    if (!this.isLive(attempt)) return;
    attempt.ended = true;
    attempt.clearTimer();
    this.observeDedupScope(attempt, status);
    if (status.code === Status.OK) {
      // The first attempt's latency: when its hedge won, at least the time until then. Only
      // the hedge's own latency would drop slow first attempts from the window, lower the
      // percentile, and send hedges where they do not help.
      this.window?.record(this.options.now() - (this.attempt ?? attempt).startedAt);
      return this.finish(status, attempt);
    }
    if (this.cancelled) return this.finish(status, attempt);
    const method = this.callOptions.method_definition.path;
    if (this.state === 'hedging') return this.onHedgedFailure(attempt, status, method);
    this.clearHedgeTimer();
    if (!isRetryable(this.state)) return this.giveUp(method, status, 'committed', attempt);
    const facts = {
      attempts: this.attempts,
      idempotent: this.idempotent,
      keyed: this.metadata.get(this.options.idempotencyKeyHeader).length > 0,
      startedAt: this.clock.startedAt,
      deadline: this.clock.deadline,
      headersReceived: attempt.headersReceived,
      timedOut: attempt.timedOut,
    };
    const decision = decideRetry(status, facts, this.options);
    if (!decision.retry) {
      // A retry the throttle refused sent nothing: the caller (and the breaker above) gets the
      // failure that made the call retry, not the local refusal that hides it.
      if (decision.reason === 'throttled' && this.retriedStatus !== undefined)
        return this.giveUp(method, this.retriedStatus, 'throttled');
      return this.giveUp(method, status, decision.reason, attempt);
    }
    this.move('retry');
    this.attempt = undefined;
    this.lastStatus = status;
    this.retriedStatus = status;
    this.noteFailedPeer(attempt);
    this.requests.detach();
    // A pending call waits on this timer: it keeps the process alive, as grpc-js's call would.
    this.backoffTimer = setTimeout(() => this.onBackoffElapsed(), decision.delayMs);
    // Last: the hook may cancel the call, or write to it, and finds it backing off.
    callUserCode('the onRetry hook', this.options.onRetry, {
      method,
      attempt: this.attempts,
      delayMs: decision.delayMs,
      status,
    });
  }

  /**
   * One of a hedged pair failed. A failure a retry could cure leaves the other attempt to
   * answer (gRFC A6's non-fatal status); any other is the call's answer (A6's fatal status).
   */
  private onHedgedFailure(attempt: Attempt, status: StatusObject, method: string): void {
    const cls = classifyStatus(status, { headersReceived: attempt.headersReceived });
    if (!attempt.timedOut && !isRetryableStatus(status, cls, this.options.retryableCodes))
      return this.giveUp(method, status, 'non-retryable', attempt);
    const other = attempt === this.attempt ? this.hedge! : this.attempt!;
    this.move('hedge-dropped');
    this.noteFailedPeer(attempt);
    this.attempt = other;
    this.hedge = undefined;
    this.requests.adopt(other.call);
  }

  private noteFailedPeer(attempt: Attempt): void {
    const peer = attempt.peer ?? avoidablePeer(attempt.call.getPeer());
    if (peer === undefined) return;
    if (this.failedPeers === undefined) this.failedPeers = [peer];
    else if (!this.failedPeers.includes(peer)) this.failedPeers.push(peer);
  }

  private onBackoffElapsed(): void {
    this.backoffTimer = undefined;
    if (this.state === 'finished') return;
    const status = this.lastStatus!;
    this.lastStatus = undefined;
    // The timer may have fired late: the rule holds when the attempt would start.
    if (!hasUsefulTimeLeft(this.clock, this.options)) {
      return this.giveUp(this.callOptions.method_definition.path, status, 'deadline');
    }
    if (this.state === 'backing-off') this.move('resume');
    const metadata = nextAttemptMetadata(this.metadata, this.attempts, this.failedPeers ?? []);
    try {
      this.startAttempt(metadata);
    } catch (error) {
      // grpc-js refuses a call on a client closed meanwhile; this timer must not throw.
      const details = `retry not started: ${error instanceof Error ? error.message : String(error)}`;
      this.finish(localStatus(Status.UNAVAILABLE, details));
    }
  }

  private armHedgeTimer(): void {
    const hedging = this.hedging;
    if (this.window === undefined || this.attempts >= this.options.maxAttempts) return;
    const delayMs = hedging!.delayMs(this.window);
    if (delayMs === undefined) return; // warming up
    // The call waits on it as on its attempt: it keeps the process alive.
    this.hedgeTimer = setTimeout(() => this.onHedgeDelay(delayMs), delayMs);
  }

  private clearHedgeTimer(): void {
    if (this.hedgeTimer === undefined) return;
    clearTimeout(this.hedgeTimer);
    this.hedgeTimer = undefined;
  }

  /** The live attempt has not answered within the hedge delay: send a hedge if allowed. */
  private onHedgeDelay(delayMs: number): void {
    this.hedgeTimer = undefined;
    const first = this.attempt;
    if (this.state !== 'attempting' || this.cancelled || first === undefined) return;
    if (!this.requests.isComplete || !hasUsefulTimeLeft(this.clock, this.options)) return;
    const hedging = this.hedging!;
    // The hedge cap first, so the shared budget is not spent on a hedge the cap refuses.
    if (!hedging.canHedge) return;
    if (this.options.budget && !this.options.budget.tryAcquire()) return;
    hedging.spend();
    const avoidPeer = first.peer ?? avoidablePeer(first.call.getPeer());
    const peers =
      avoidPeer === undefined ? this.failedPeers : [...(this.failedPeers ?? []), avoidPeer];
    const metadata = nextAttemptMetadata(this.metadata, this.attempts, peers ?? []);
    const method = this.callOptions.method_definition.path;
    let hedge: Attempt;
    try {
      hedge = this.launch(metadata, true);
    } catch {
      return; // a client closed meanwhile: the first attempt reports that
    }
    if (!hedge.ended) {
      this.requests.copyTo(hedge.call);
      if (this.readPending) hedge.call.startRead();
      this.armAttemptTimer(hedge);
    }
    callUserCode('the onHedge hook', this.options.onHedge, {
      method,
      attempt: this.attempts,
      delayMs,
      avoidPeer,
    });
  }

  /** Learns, from any answer of a server, what its dedup store covers (see DedupScopes). */
  private observeDedupScope(attempt: Attempt, status: StatusObject): void {
    const scopes = this.options.dedupScopes;
    if (scopes === undefined) return;
    // An OK always comes from the server; a failure only when it came with headers or trailers.
    const headersReceived = attempt.headersReceived;
    const answered = status.code === Status.OK || headersReceived || isFromTrailers(status);
    if (!answered) return;
    // A server that sends headers declares its scope there; only a trailers-only answer carries
    // it in the trailers alone.
    const scope = headersReceived ? attempt.declaredScope : readDedupScope(status.metadata);
    scopes.observe(attempt.call.getPeer(), scope ?? 'none');
  }

  private giveUp(
    method: string,
    status: StatusObject,
    reason: GiveUpReason,
    attempt?: Attempt,
  ): void {
    // The call's record (logging, metrics) says why it was not retried (further).
    status.metadata?.set(RETRY_STOPPED_METADATA_KEY, reason);
    callUserCode('the onGiveUp hook', this.options.onGiveUp, {
      method,
      attempts: this.attempts,
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
    this.requests.close();
    this.abandon(this.attempt, from);
    this.abandon(this.hedge, from);
    if (this.attempts > 1) status.metadata?.set(ATTEMPTS_METADATA_KEY, String(this.attempts));
    if (from?.headers !== undefined) this.listener.onReceiveMetadata?.(from.headers);
    if (from !== undefined && from.response !== NO_RESPONSE) {
      this.readPending = false;
      this.listener.onReceiveMessage?.(from.response);
    }
    this.listener.onReceiveStatus?.(status);
  }

  /** Ends an attempt the call no longer needs: the losing side of a hedge. */
  private abandon(attempt: Attempt | undefined, winner: Attempt | undefined): void {
    if (attempt === undefined) return;
    attempt.clearTimer();
    // An attempt the caller's cancel already reached ignores this second cancel.
    if (attempt === winner || attempt.ended || attempt.timedOut) return;
    // A loser of a hedged race keeps its budget token: it added load and bought nothing.
    if (winner !== undefined) markHedgeLost(attempt.call);
    attempt.call.cancelWithStatus(Status.CANCELLED, HEDGE_LOST_DETAILS);
  }
}
