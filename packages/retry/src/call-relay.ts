import type {
  InterceptingListener,
  InterceptorOptions,
  Metadata,
  StatusObject,
} from '@grpc/grpc-js';
import { readDedupScope, type InterceptingCallInterface } from '@grpc-resilience/status';
import { NO_RESPONSE, type Attempt, type AttemptOwner } from './attempt-listener';
import type { CallAttempts } from './call-attempts';
import { RequestRelay } from './request-relay';

/** The listener of a call not started yet: shared, so a call allocates none of its own. */
const NO_LISTENER: Partial<InterceptingListener> = Object.freeze({});

/**
 * The plumbing between the caller and a logical call's attempts, in both directions. What the
 * caller writes is the {@link RequestRelay}'s (kept for replay, handed to each attempt in
 * order). What attempts answer reaches the caller: a single response (unary, client stream) is
 * held, headers included, until its status, so a retry stays invisible and the call never
 * commits before the end; a streaming response reaches the caller at once, which commits the
 * call. The decisions (retry, hedge, give up) are the subclass's. A base class rather than a
 * member, so a call costs no extra allocation.
 */
export abstract class CallRelay extends RequestRelay implements AttemptOwner {
  /** The caller's listener. */
  protected listener: Partial<InterceptingListener> = NO_LISTENER;
  /** The caller asked for a message that has not come yet: a new attempt is asked too. */
  protected readPending = false;
  private readonly responseStream: boolean;

  constructor(
    method: InterceptorOptions['method_definition'],
    maxBufferBytes: number,
    protected readonly attempts: CallAttempts,
    /** Whether to read the dedup scope each server declares in its response headers. */
    private readonly readsScopes: boolean,
  ) {
    super(method, maxBufferBytes);
    this.responseStream = method.responseStream;
  }

  /** Whether `attempt`'s reports still count: it is live, and the call has not finished. */
  protected abstract isLive(attempt: Attempt): boolean;

  /** A streaming response reaches the caller: no other attempt may replace it now. */
  protected abstract onResponseStarted(): void;

  /** @internal */
  abstract onStatus(attempt: Attempt, status: StatusObject): void;

  startRead(): void {
    this.readPending = true;
    this.attempts.startRead();
  }

  getPeer(): string {
    return this.attempts.live?.call.getPeer() ?? '';
  }

  getAuthContext(): ReturnType<InterceptingCallInterface['getAuthContext']> {
    return this.attempts.live?.call.getAuthContext() ?? null;
  }

  /** @internal */
  onMetadata(attempt: Attempt, metadata: Metadata): void {
    if (!this.isLive(attempt)) return;
    attempt.headersReceived = true;
    if (this.readsScopes) attempt.declaredScope = readDedupScope(metadata);
    if (!this.responseStream) {
      // Nothing reaches the caller before the status, so a retry stays invisible: a server
      // killed between its headers and its trailers is retried like one killed before.
      attempt.headers = metadata;
      return;
    }
    this.onResponseStarted();
    this.listener.onReceiveMetadata?.(metadata);
  }

  /** @internal */
  onMessage(attempt: Attempt, message: unknown): void {
    if (!this.isLive(attempt)) return;
    if (!this.responseStream) {
      // grpc-js passes a null message before a failed single-response call's status: only the
      // status tells whether this response stands.
      attempt.response = message;
      return;
    }
    this.onResponseStarted();
    this.readPending = false;
    this.listener.onReceiveMessage?.(message);
  }

  /** Delivers the call's one status to the caller, after `from`'s held headers and response. */
  protected deliver(status: StatusObject, from: Attempt | undefined): void {
    if (from?.headers !== undefined) this.listener.onReceiveMetadata?.(from.headers);
    if (from !== undefined && from.response !== NO_RESPONSE) {
      this.readPending = false;
      this.listener.onReceiveMessage?.(from.response);
    }
    this.listener.onReceiveStatus?.(status);
  }
}
