import {
  status as Status,
  type InterceptorOptions,
  type Metadata,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  callUserCode,
  deadlineToMs,
  isFromTrailers,
  readDedupScope,
  warnUserCode,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import { Attempt, type AttemptOwner } from './attempt-listener';
import { avoidablePeer, type CallClock } from './attempt-timing';
import type { DedupScopes } from './dedup-scopes';
import type { ResolvedRetryOptions } from './options';
import type { AttemptFacts } from './retry-policy';
import { RequestRelay } from './request-relay';

export type NextCall = (options: InterceptorOptions) => InterceptingCallInterface;

/** Details of the cancel a hedged call's losing attempt gets. */
export const HEDGE_LOST_DETAILS = 'hedge: another attempt answered first';

const NO_PEERS: readonly string[] = Object.freeze([]);

/**
 * The bookkeeping of one logical call's attempts: it makes them (the adaptive budget's throttle
 * and, for a retry or a hedge, the retry gate may refuse one locally), reports how each ended
 * to the budget, counts them, knows which are live (the one the request relay serves and, while
 * hedging, the hedge beside it) and which endpoints failed, and holds the call's clock, which
 * every decision to start another attempt reads. A base class of the call, as the request relay
 * is, rather than a member: a call costs one object, not one per concern.
 */
export abstract class CallAttempts extends RequestRelay implements CallClock, AttemptOwner {
  /**
   * The call's whole timeout, from its start to its deadline (ms), undefined with no deadline.
   * Kept instead of the start and the deadline, which as fields would each cost a heap number
   * per call; a whole-ms timeout is a small integer, held in the field itself.
   */
  private timeoutMs: number | undefined;
  /** Attempts made so far, hedges included. */
  protected attemptCount = 0;
  /** The attempt the request relay serves: the only live one, or the first of a hedged pair. */
  protected liveAttempt: Attempt | undefined;
  /** A hedge live beside `liveAttempt`. */
  protected hedgeAttempt: Attempt | undefined;
  /** Endpoints whose attempts failed: later attempts ask the balancer to avoid them. */
  private failedPeers: string[] | undefined;

  constructor(
    protected readonly callOptions: InterceptorOptions,
    private readonly nextCall: NextCall,
    protected readonly options: ResolvedRetryOptions,
    protected readonly idempotent: boolean,
  ) {
    super(callOptions.method_definition, options.maxBufferBytes);
  }

  /** Its absolute deadline (the retry options' clock, ms; Infinity when none). */
  get deadline(): number {
    return deadlineToMs(this.callOptions.deadline) ?? Infinity;
  }

  /** When the logical call started (ms; Infinity with no deadline, when nothing reads it). */
  get startedAt(): number {
    return this.deadline - (this.timeoutMs ?? 0);
  }

  /** The call starts: `now` is the clock's reading, which the time left is measured against. */
  protected startClock(now: number): void {
    const deadline = deadlineToMs(this.callOptions.deadline);
    this.timeoutMs = deadline === undefined ? undefined : deadline - now;
  }

  /** @internal What an attempt reports: the call's plumbing and decisions handle it. */
  abstract onMetadata(attempt: Attempt, metadata: Metadata): void;
  /** @internal */
  abstract onMessage(attempt: Attempt, message: unknown): void;
  /** @internal */
  abstract onStatus(attempt: Attempt, status: StatusObject): void;

  /**
   * Makes the grpc-js call of a new attempt, the one the pipe serves or a hedge, and counts it;
   * the call starts it. Throws when grpc-js refuses (a client closed), counting nothing.
   */
  protected makeAttempt(asHedge: boolean): Attempt {
    const isRetry = this.attemptCount > 0;
    const attempt = new Attempt(this, isRetry);
    attempt.call = this.attemptRefusal(isRetry) ?? this.callBelow();
    this.attemptCount++;
    if (asHedge) this.hedgeAttempt = attempt;
    else this.liveAttempt = attempt;
    return attempt;
  }

  /**
   * Reports how an attempt ended to the adaptive budget: every attempt, an abandoned one
   * included (see AdaptiveRetryBudget.recordAttempt).
   */
  protected recordAttemptOutcome(attempt: Attempt, status: StatusObject): void {
    const budget = this.options.budget;
    if (budget?.kind === 'adaptive') budget.recordAttempt(status, attempt.isRetry, attempt.lost);
  }

  /**
   * A local refusal of the next attempt, in the order of the chain this replaces: the adaptive
   * budget's throttle (every attempt), then the retry gate (a retry or a hedge only: the first
   * attempt was just admitted by the breaker outside). Undefined: send it.
   */
  private attemptRefusal(isRetry: boolean): InterceptingCallInterface | undefined {
    const budget = this.options.budget;
    const refused = budget?.kind === 'adaptive' ? budget.refusal() : undefined;
    const gate = this.options.retryGate;
    if (refused !== undefined || !isRetry || gate === undefined) return refused;
    return gateRefusal(gate, this.callOptions.method_definition.path);
  }

  /** The grpc-js call below the retry layer, made while the adaptive budget marks it admitted. */
  private callBelow(): InterceptingCallInterface {
    const budget = this.options.budget;
    if (budget?.kind !== 'adaptive') return this.nextCall(this.callOptions);
    budget.gating = true;
    try {
      return this.nextCall(this.callOptions);
    } finally {
      budget.gating = false;
    }
  }

  /** What the retry policy weighs about a failed `attempt` (see decideRetry). */
  protected factsAfter(attempt: Attempt, keyed: boolean): AttemptFacts {
    return {
      attempts: this.attemptCount,
      idempotent: this.idempotent,
      keyed,
      startedAt: this.startedAt,
      deadline: this.deadline,
      headersReceived: attempt.headersReceived,
      timedOut: attempt.timedOut,
    };
  }

  /** Whether `attempt` is one of the call's live attempts (not abandoned, not ended). */
  protected isCurrentAttempt(attempt: Attempt): boolean {
    return !attempt.ended && (attempt === this.liveAttempt || attempt === this.hedgeAttempt);
  }

  /** The live attempt failed and the call backs off before the next one. */
  protected dropFailedAttempt(failed: Attempt): void {
    this.liveAttempt = undefined;
    this.noteFailedPeer(failed);
  }

  /** One of a hedged pair failed in a way a retry could cure: the other carries on alone. */
  protected dropFromPair(failed: Attempt): Attempt {
    const other = failed === this.liveAttempt ? this.hedgeAttempt! : this.liveAttempt!;
    this.noteFailedPeer(failed);
    this.liveAttempt = other;
    this.hedgeAttempt = undefined;
    return other;
  }

  /**
   * Endpoints the next attempt should avoid: those that failed, and `alsoAvoid` (a hedge
   * avoids the endpoint of the attempt it races).
   */
  protected peersToAvoid(alsoAvoid?: string): readonly string[] {
    const failed = this.failedPeers ?? NO_PEERS;
    return alsoAvoid === undefined ? failed : [...failed, alsoAvoid];
  }

  /** Passes the caller's read request to every live attempt. */
  protected readFromAttempts(): void {
    this.liveAttempt?.call.startRead();
    this.hedgeAttempt?.call.startRead();
  }

  /** Ends the attempts the call no longer needs: all but `winner`, which delivered its status. */
  protected abandonAttempts(winner: Attempt | undefined): void {
    abandon(this.liveAttempt, winner);
    abandon(this.hedgeAttempt, winner);
  }

  private noteFailedPeer(attempt: Attempt): void {
    const peer = peerOf(attempt);
    if (peer === undefined) return;
    if (this.failedPeers === undefined) this.failedPeers = [peer];
    else if (!this.failedPeers.includes(peer)) this.failedPeers.push(peer);
  }
}

/**
 * The endpoint an attempt went to, when known: the picker's report (grpc-js's `getPeer()` says
 * `unknown` until an attempt commits), else `getPeer()` when it names one endpoint.
 */
export function peerOf(attempt: Attempt): string | undefined {
  return attempt.peer ?? avoidablePeer(attempt.call.getPeer());
}

function abandon(attempt: Attempt | undefined, winner: Attempt | undefined): void {
  if (attempt === undefined) return;
  attempt.clearTimer();
  // An attempt the caller's cancel already reached ignores this second cancel.
  if (attempt === winner || attempt.ended || attempt.timedOut) return;
  // A loser of a hedged race keeps its budget token: it added load and bought nothing.
  if (winner !== undefined) attempt.lost = true;
  attempt.call.cancelWithStatus(Status.CANCELLED, HEDGE_LOST_DETAILS);
}

/** Learns, from any answer of a server, what its dedup store covers (see DedupScopes). */
export function observeDedupScope(
  scopes: DedupScopes,
  attempt: Attempt,
  status: StatusObject,
): void {
  // An OK always comes from the server; a failure only when it came with headers or trailers.
  const headersReceived = attempt.headersReceived;
  const answered = status.code === Status.OK || headersReceived || isFromTrailers(status);
  if (!answered) return;
  // A server that sends headers declares its scope there; only a trailers-only answer carries
  // it in the trailers alone.
  const scope = headersReceived ? attempt.declaredScope : readDedupScope(status.metadata);
  // Most fleets declare nothing: then the peer (a getPeer() down the whole grpc-js chain) is not
  // worth asking for. A server that answered before the first declaration is recorded at its
  // next answer, as a server that had not answered yet would be.
  if (scope === undefined && !scopes.anyDeclared) return;
  scopes.observe(attempt.call.getPeer(), scope ?? 'none');
}

/**
 * Asks a retry gate, which may be the caller's own code: one that throws or answers something
 * that is no call (a `true`, a promise) lets the retry go, with a warning, rather than take the
 * process down from a backoff timer or lose the call's outcome.
 */
function gateRefusal(
  gate: (method: string) => unknown,
  method: string,
): InterceptingCallInterface | undefined {
  const answer = callUserCode('retry.retryGate', gate, method);
  if (answer === undefined || answer === null) return undefined;
  if (typeof (answer as Partial<InterceptingCallInterface>).start === 'function')
    return answer as InterceptingCallInterface;
  warnUserCode(`retry.retryGate answered ${typeof answer}, not a call or undefined`);
  return undefined;
}
