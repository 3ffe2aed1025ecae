import type { InterceptorOptions, Metadata, status as Status, StatusObject } from '@grpc/grpc-js';
import { callUserCode, classifyStatus } from '@grpc-resilience/status';
import type { Attempt } from './attempt-listener';
import { hasUsefulTimeLeft, nextAttemptMetadata, withPickedPeerSlot } from './attempt-timing';
import { peerOf, type NextCall } from './call-attempts';
import type { Hedging } from './hedging';
import type { LatencyWindow } from './latency-window';
import type { ResolvedRetryOptions } from './options';
import { isRetryableStatus } from './retry-policy';
import { RetryingCall } from './retrying-call';

/**
 * An idempotent unary call of a client with hedging on: a {@link RetryingCall} that, when its
 * attempt has not answered within the method's hedge delay, sends a second attempt (a hedge)
 * beside it, to another endpoint, if the hedge cap and the retry budget allow. The first
 * success wins and the other attempt is cancelled. Hedging's part of the call's state lives
 * here: the method's latency window, and the timer after which a hedge is due.
 */
export class HedgedCall extends RetryingCall {
  private readonly window: LatencyWindow;
  private hedgeTimer: NodeJS.Timeout | undefined;

  constructor(
    callOptions: InterceptorOptions,
    nextCall: NextCall,
    options: ResolvedRetryOptions,
    private readonly hedging: Hedging,
  ) {
    super(callOptions, nextCall, options, true);
    this.window = hedging.window(callOptions.method_definition.path);
  }

  /** The call earns its share of a hedge (see HedgeAllowance). */
  protected override onCallStart(): void {
    this.hedging.recordCall();
  }

  /** Arms the hedge timer, unless no attempt may follow or the method is still warming up. */
  protected override onAttemptStarted(): void {
    if (this.attemptCount >= this.options.maxAttempts) return;
    const delayMs = this.hedging.delayMs(this.window);
    if (delayMs === undefined) return;
    // The call waits on it as on its attempt: it keeps the process alive.
    this.hedgeTimer = setTimeout(() => this.onHedgeDelay(delayMs), delayMs);
  }

  protected override clearHedgeTimer(): void {
    if (this.hedgeTimer === undefined) return;
    clearTimeout(this.hedgeTimer);
    this.hedgeTimer = undefined;
  }

  /**
   * Each attempt asks the picker where it went (grpc-js's `getPeer()` says `unknown` until a
   * unary attempt commits), on its own copy: the caller's metadata stays untouched. Its start time
   * is noted for the latency window.
   */
  protected override attemptMetadata(metadata: Metadata, attempt: Attempt, now: number): Metadata {
    attempt.startedAt = now;
    const own = metadata === this.metadata ? metadata.clone() : metadata;
    return withPickedPeerSlot(own, attempt);
  }

  /**
   * Records the first attempt's latency: when its hedge won, at least the time until then. Only
   * the hedge's own latency would drop slow first attempts from the window, lower the
   * percentile, and send hedges where they do not help.
   */
  protected override onAttemptOk(attempt: Attempt): void {
    this.window.record(this.options.now() - (this.liveAttempt ?? attempt).startedAt!);
  }

  /**
   * One of a hedged pair failed. A failure a retry could cure leaves the other attempt to
   * answer (gRFC A6's non-fatal status); any other is the call's answer (A6's fatal status).
   */
  protected override onAttemptFailed(attempt: Attempt, status: StatusObject): void {
    if (this.state !== 'hedging') return super.onAttemptFailed(attempt, status);
    if (isFatalInPair(attempt, status, this.options.retryableCodes)) {
      return this.giveUp(this.callOptions.method_definition.path, status, 'non-retryable', attempt);
    }
    this.move('hedge-dropped');
    this.adoptRequest(this.dropFromPair(attempt).call);
  }

  /** The live attempt has not answered within the hedge delay: send a hedge if allowed. */
  private onHedgeDelay(delayMs: number): void {
    this.hedgeTimer = undefined;
    const first = this.liveAttempt;
    if (this.state !== 'attempting' || this.cancelled || first === undefined) return;
    if (!this.isRequestComplete || !hasUsefulTimeLeft(this, this.options)) return;
    // The hedge cap first, so the shared budget is not spent on a hedge the cap refuses.
    if (!this.hedging.canHedge) return;
    if (this.options.budget && !this.options.budget.tryAcquire()) return;
    this.hedging.spend();
    const avoidPeer = peerOf(first);
    const peers = this.peersToAvoid(avoidPeer);
    const metadata = nextAttemptMetadata(this.metadata, this.attemptCount, peers);
    let hedge: Attempt;
    try {
      hedge = this.launch(metadata, true);
    } catch {
      return; // a client closed meanwhile: the first attempt reports that
    }
    if (!hedge.ended) {
      this.copyRequestTo(hedge.call);
      if (this.readPending) hedge.call.startRead();
      this.armAttemptTimer(hedge);
    }
    callUserCode('the onHedge hook', this.options.onHedge, {
      method: this.callOptions.method_definition.path,
      attempt: this.attemptCount,
      delayMs,
      avoidPeer,
    });
  }
}

/** Whether a failure of one attempt of a hedged pair is the call's answer (A6's fatal status). */
function isFatalInPair(
  attempt: Attempt,
  status: StatusObject,
  retryableCodes: ReadonlySet<Status>,
): boolean {
  if (attempt.timedOut) return false;
  const cls = classifyStatus(status, { headersReceived: attempt.headersReceived });
  return !isRetryableStatus(status, cls, retryableCodes);
}
