import {
  Metadata,
  status as Status,
  type InterceptingListener,
  type InterceptorOptions,
  type StatusObject,
} from '@grpc/grpc-js';
import type { InterceptingCallInterface } from '@grpc-resilience/status';
import type { GiveUpReason, ResolvedRetryOptions } from './options';
import { decideRetry } from './retry-policy';

type NextCall = (options: InterceptorOptions) => InterceptingCallInterface;
type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];

/** Trailer added to a call's final status when it took more than one attempt. */
export const ATTEMPTS_METADATA_KEY = 'grpc-resilience-attempts';

const NO_RESPONSE = Symbol('no response');
const REPLAY_DONE = -1;

/** Listener of one attempt: forwards only while that attempt is the current one. */
class AttemptListener implements InterceptingListener {
  constructor(
    private readonly owner: RetryingCall,
    private readonly attempt: InterceptingCallInterface,
  ) {}
  onReceiveMetadata(metadata: Metadata): void {
    this.owner.onMetadata(this.attempt, metadata);
  }
  onReceiveMessage(message: unknown): void {
    this.owner.onMessage(this.attempt, message);
  }
  onReceiveStatus(status: StatusObject): void {
    this.owner.onStatus(this.attempt, status);
  }
}

/**
 * One logical call made of one or more attempts (gRFC A6 semantics at the interceptor level).
 * Until the call commits, it keeps the request messages and, after a retryable failure, starts a
 * new attempt that replays them in order. A streaming response commits on its first header or
 * message (the caller has seen part of it, so a retry could duplicate it), any call when the
 * replay buffer overflows; after that, an error is final. A single response (unary, client
 * stream) is held, headers included, until its status, so it never commits before the end.
 */
export class RetryingCall implements InterceptingCallInterface {
  private attempt: InterceptingCallInterface | undefined;
  private attempts = 0;
  private listener!: Partial<InterceptingListener>;
  private metadata!: Metadata;
  /** Request messages for replay; undefined once committed. */
  private buffer: unknown[] | undefined = [];
  private bufferBytes = 0;
  private halfClosed = false;
  private readPending = false;
  /** A single-response call's headers and response, held until its status says they stand. */
  private headers: Metadata | undefined;
  private response: unknown = NO_RESPONSE;
  private committed = false;
  private finished = false;
  private cancelled = false;
  private backoffTimer: NodeJS.Timeout | undefined;
  /** Kept messages already sent to the current attempt; REPLAY_DONE when it is up to date. */
  private replayed = REPLAY_DONE;
  private commitAfterReplay = false;
  /** The caller's stream writer waiting on the current attempt, released if that attempt fails. */
  private pendingRelease: (() => void) | undefined;

  constructor(
    private readonly callOptions: InterceptorOptions,
    private readonly nextCall: NextCall,
    private readonly options: ResolvedRetryOptions,
    private readonly idempotent: boolean,
  ) {}

  start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.metadata = metadata;
    this.listener = listener ?? {};
    this.options.budget?.recordCall();
    this.startAttempt(metadata);
  }

  private startAttempt(metadata: Metadata): void {
    this.attempts++;
    const attempt = this.nextCall(this.callOptions);
    this.attempt = attempt;
    attempt.start(metadata, new AttemptListener(this, attempt));
    if (this.attempts === 1) return;
    this.replayed = 0;
    this.replay(attempt);
    if (this.readPending) attempt.startRead();
  }

  /**
   * Sends the kept messages to a new attempt one at a time: grpc-js's calls hold a single
   * pending message until the previous write completes. Messages the caller writes meanwhile
   * join the buffer and are sent in turn; the half-close goes last.
   */
  private replay(attempt: InterceptingCallInterface): void {
    if (attempt !== this.attempt) return;
    const buffer = this.buffer ?? [];
    if (this.replayed < buffer.length) {
      const message = buffer[this.replayed++];
      attempt.sendMessageWithContext({ callback: () => this.replay(attempt) }, message);
      return;
    }
    this.replayed = REPLAY_DONE;
    if (this.halfClosed) attempt.halfClose();
    if (this.commitAfterReplay) this.commit();
  }

  /** Whether messages go straight to the current attempt (not waiting for a retry or a replay). */
  private get isDirect(): boolean {
    return this.attempt !== undefined && this.replayed === REPLAY_DONE;
  }

  sendMessageWithContext(context: MessageContext, message: unknown): void {
    if (this.buffer !== undefined) this.keep(message);
    if (!this.isDirect) {
      // Kept for the next attempt or the replay under way, which sends it in turn.
      context.callback?.();
      return;
    }
    if (!this.callOptions.method_definition.requestStream) {
      this.attempt!.sendMessageWithContext(context, message);
      return;
    }
    // A client stream waits for this callback before writing more; an attempt that dies before
    // writing may never call it, so release the writer ourselves, once, at a retry.
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        context.callback?.();
      }
    };
    this.pendingRelease = release;
    this.attempt!.sendMessageWithContext({ ...context, callback: release }, message);
  }

  private keep(message: unknown): void {
    this.buffer!.push(message);
    if (!this.callOptions.method_definition.requestStream) return;
    this.bufferBytes += this.callOptions.method_definition.requestSerialize(message).length;
    if (this.bufferBytes <= this.options.maxBufferBytes) return;
    // Past the limit the call commits: a retry could not replay what is no longer kept. While
    // a retry waits or replays, the buffer is still needed to finish sending.
    if (this.isDirect) this.commit();
    else this.commitAfterReplay = true;
  }

  sendMessage(message: unknown): void {
    this.sendMessageWithContext({}, message);
  }

  halfClose(): void {
    this.halfClosed = true;
    if (this.isDirect) this.attempt!.halfClose();
  }

  startRead(): void {
    this.readPending = true;
    this.attempt?.startRead();
  }

  cancelWithStatus(code: Status, details: string): void {
    this.cancelled = true;
    if (this.backoffTimer !== undefined) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = undefined;
      this.finish({ code, details, metadata: new Metadata() });
      return;
    }
    this.attempt?.cancelWithStatus(code, details);
  }

  getPeer(): string {
    return this.attempt?.getPeer() ?? '';
  }

  getAuthContext(): ReturnType<InterceptingCallInterface['getAuthContext']> {
    return this.attempt?.getAuthContext() ?? null;
  }

  private commit(): void {
    this.committed = true;
    this.buffer = undefined;
  }

  /** @internal */
  onMetadata(attempt: InterceptingCallInterface, metadata: Metadata): void {
    if (attempt !== this.attempt || this.finished) return;
    if (!this.callOptions.method_definition.responseStream) {
      // Nothing reaches the caller before the status, so a retry stays invisible: a server
      // killed between its headers and its trailers is retried like one killed before.
      this.headers = metadata;
      return;
    }
    this.commit();
    this.listener.onReceiveMetadata?.(metadata);
  }

  /** @internal */
  onMessage(attempt: InterceptingCallInterface, message: unknown): void {
    if (attempt !== this.attempt || this.finished) return;
    if (!this.callOptions.method_definition.responseStream) {
      // grpc-js passes a null message before a failed single-response call's status: only the
      // status tells whether this response stands.
      this.response = message;
      return;
    }
    this.commit();
    this.readPending = false;
    this.listener.onReceiveMessage?.(message);
  }

  /** @internal */
  onStatus(attempt: InterceptingCallInterface, status: StatusObject): void {
    if (attempt !== this.attempt || this.finished) return;
    if (status.code === Status.OK || this.cancelled) return this.finish(status);
    const method = this.callOptions.method_definition.path;
    if (this.committed) return this.giveUp(method, status, 'committed');
    const decision = decideRetry(
      status,
      {
        attempts: this.attempts,
        idempotent: this.idempotent,
        keyed: this.metadata.get(this.options.idempotencyKeyHeader).length > 0,
        deadline: deadlineMs(this.callOptions.deadline),
      },
      this.options,
    );
    if (!decision.retry) return this.giveUp(method, status, decision.reason);
    this.options.onRetry?.({ method, attempt: this.attempts, delayMs: decision.delayMs, status });
    this.attempt = undefined;
    this.headers = undefined;
    this.response = NO_RESPONSE;
    this.pendingRelease?.();
    this.pendingRelease = undefined;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      const metadata = this.metadata.clone();
      metadata.set('grpc-previous-rpc-attempts', String(this.attempts));
      this.startAttempt(metadata);
    }, decision.delayMs);
    this.backoffTimer.unref();
  }

  private giveUp(method: string, status: StatusObject, reason: GiveUpReason): void {
    this.options.onGiveUp?.({ method, attempts: this.attempts, reason, status });
    this.finish(status);
  }

  private finish(status: StatusObject): void {
    if (this.finished) return;
    this.finished = true;
    if (this.attempts > 1) status.metadata.set(ATTEMPTS_METADATA_KEY, String(this.attempts));
    if (this.headers !== undefined) this.listener.onReceiveMetadata?.(this.headers);
    if (this.response !== NO_RESPONSE) {
      this.readPending = false;
      this.listener.onReceiveMessage?.(this.response);
    }
    this.listener.onReceiveStatus?.(status);
  }
}

function deadlineMs(deadline: Date | number | undefined): number {
  if (deadline === undefined) return Infinity;
  return deadline instanceof Date ? deadline.getTime() : deadline;
}
