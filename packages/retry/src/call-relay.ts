import type {
  InterceptingListener,
  InterceptorOptions,
  Metadata,
  StatusObject,
} from '@grpc/grpc-js';
import { readDedupScope, type InterceptingCallInterface } from '@grpc-resilience/status';
import { NO_RESPONSE, type Attempt, type AttemptOwner } from './attempt-listener';
import type { CallAttempts } from './call-attempts';
import { RequestPipe, type RequestPipeOwner } from './request-pipe';

type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];

/**
 * The plumbing between the caller and a logical call's attempts, in both directions. What the
 * caller writes goes into the {@link RequestPipe} (kept for replay, handed to each attempt in
 * order). What attempts answer reaches the caller: a single response (unary, client stream) is
 * held, headers included, until its status, so a retry stays invisible and the call never
 * commits before the end; a streaming response reaches the caller at once, which commits the
 * call. The decisions (retry, hedge, give up) are the subclass's. A base class rather than a
 * member, so a call costs no extra allocation.
 */
export abstract class CallRelay implements AttemptOwner, RequestPipeOwner {
  /** The caller's listener. */
  protected listener: Partial<InterceptingListener> = {};
  /** The caller asked for a message that has not come yet: a new attempt is asked too. */
  protected readPending = false;
  protected readonly requests: RequestPipe;
  private readonly responseStream: boolean;

  constructor(
    method: InterceptorOptions['method_definition'],
    maxBufferBytes: number,
    protected readonly attempts: CallAttempts,
    /** Whether to read the dedup scope each server declares in its response headers. */
    private readonly readsScopes: boolean,
  ) {
    this.requests = new RequestPipe(method, maxBufferBytes, this);
    this.responseStream = method.responseStream;
  }

  /** Whether `attempt`'s reports still count: it is live, and the call has not finished. */
  protected abstract isLive(attempt: Attempt): boolean;

  /** A streaming response reaches the caller: no other attempt may replace it now. */
  protected abstract onResponseStarted(): void;

  /** @internal */
  abstract onStatus(attempt: Attempt, status: StatusObject): void;
  /** @internal The kept messages passed `maxBufferBytes`: this attempt, or the next, is the last. */
  abstract onOverLimit(): void;
  /** @internal The replaying attempt has been handed every kept message. */
  abstract onCaughtUp(): void;

  /** Bytes of request messages the call holds now, as on the wire (for tests and diagnostics). */
  get bufferedBytes(): number {
    return this.requests.bytes;
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
