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
  deadlineToMs,
  isFromTrailers,
  readDedupScope,
  type DedupScope,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import type { GiveUpReason, ResolvedRetryOptions } from './options';
import { AttemptListener, type AttemptOwner } from './attempt-listener';
import { RequestPipe, type RequestPipeOwner } from './request-pipe';
import { decideRetry } from './retry-policy';
import { isRetryable, nextRetryState, type RetryState, type RetryTransition } from './retry-state';

type NextCall = (options: InterceptorOptions) => InterceptingCallInterface;
type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];

const NO_RESPONSE = Symbol('no response');

/**
 * One logical call made of one or more attempts (gRFC A6 semantics at the interceptor level),
 * moving through the phases of {@link RetryState}. What the caller writes goes through a
 * {@link RequestPipe}: kept for replay, handed to each attempt in order, with backpressure past
 * `maxBufferBytes` (which commits the call).
 *
 * A single response (unary, client stream) is held, headers included, until its status, so it
 * never commits before the end; a streaming response commits on its first header or message.
 * The backoff timer keeps the process alive, as grpc-js's own pending call does.
 */
export class RetryingCall implements InterceptingCallInterface, AttemptOwner, RequestPipeOwner {
  private state: RetryState = 'attempting';
  private attempt: InterceptingCallInterface | undefined;
  private attempts = 0;
  private listener: Partial<InterceptingListener> = {};
  private metadata!: Metadata;
  private readonly requests: RequestPipe;
  private readPending = false;
  private cancelled = false;
  /** A single-response call's headers and response, held until its status says they stand. */
  private headers: Metadata | undefined;
  private response: unknown = NO_RESPONSE;
  /** The current attempt received response headers; and the dedup scope they declared. */
  private headersReceived = false;
  private declaredScope: DedupScope | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  /** The caller's cancel, kept when it comes before `start`. */
  private cancelStatus: StatusObject | undefined;

  constructor(
    private readonly callOptions: InterceptorOptions,
    private readonly nextCall: NextCall,
    private readonly options: ResolvedRetryOptions,
    private readonly idempotent: boolean,
  ) {
    this.requests = new RequestPipe(callOptions.method_definition, options.maxBufferBytes, this);
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
    this.startAttempt(metadata);
  }

  private move(transition: RetryTransition): void {
    this.state = nextRetryState(this.state, transition);
  }

  private startAttempt(metadata: Metadata): void {
    const attempt = this.nextCall(this.callOptions);
    this.attempts++;
    this.attempt = attempt;
    attempt.start(metadata, new AttemptListener(this, attempt));
    this.requests.attach(attempt);
    if (this.readPending) attempt.startRead();
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
    this.attempt?.startRead();
  }

  cancelWithStatus(code: Status, details: string): void {
    if (this.state === 'finished' || this.cancelled) return;
    this.cancelled = true;
    this.requests.close();
    if (this.attempt === undefined) {
      // Backing off, or not started: no attempt would report a status.
      const status = { code, details, metadata: new Metadata() };
      if (this.backoffTimer !== undefined) this.finish(status);
      else this.cancelStatus = status;
      return;
    }
    this.attempt.cancelWithStatus(code, details);
  }

  getPeer(): string {
    return this.attempt?.getPeer() ?? '';
  }

  getAuthContext(): ReturnType<InterceptingCallInterface['getAuthContext']> {
    return this.attempt?.getAuthContext() ?? null;
  }

  private commit(): void {
    this.move('commit');
    this.requests.commit();
  }

  /** @internal */
  onMetadata(attempt: InterceptingCallInterface, metadata: Metadata): void {
    if (attempt !== this.attempt || this.state === 'finished') return;
    this.headersReceived = true;
    if (this.options.dedupScopes !== undefined) this.declaredScope = readDedupScope(metadata);
    if (!this.callOptions.method_definition.responseStream) {
      // Nothing reaches the caller before the status, so a retry stays invisible: a server
      // killed between its headers and its trailers is retried like one killed before.
      this.headers = metadata;
      return;
    }
    if (this.state !== 'committed') this.commit();
    this.listener.onReceiveMetadata?.(metadata);
  }

  /** @internal */
  onMessage(attempt: InterceptingCallInterface, message: unknown): void {
    if (attempt !== this.attempt || this.state === 'finished') return;
    if (!this.callOptions.method_definition.responseStream) {
      // grpc-js passes a null message before a failed single-response call's status: only the
      // status tells whether this response stands.
      this.response = message;
      return;
    }
    if (this.state !== 'committed') this.commit();
    this.readPending = false;
    this.listener.onReceiveMessage?.(message);
  }

  /** @internal */
  onStatus(attempt: InterceptingCallInterface, status: StatusObject): void {
    if (attempt !== this.attempt || this.state === 'finished') return;
    const headersReceived = this.headersReceived;
    this.observeDedupScope(attempt, status, headersReceived);
    if (status.code === Status.OK || this.cancelled) return this.finish(status);
    const method = this.callOptions.method_definition.path;
    if (!isRetryable(this.state)) return this.giveUp(method, status, 'committed');
    const decision = decideRetry(
      status,
      {
        attempts: this.attempts,
        idempotent: this.idempotent,
        keyed: this.metadata.get(this.options.idempotencyKeyHeader).length > 0,
        deadline: deadlineToMs(this.callOptions.deadline) ?? Infinity,
        headersReceived,
      },
      this.options,
    );
    if (!decision.retry) return this.giveUp(method, status, decision.reason);
    this.move('retry');
    this.attempt = undefined;
    this.headers = undefined;
    this.response = NO_RESPONSE;
    this.headersReceived = false;
    this.declaredScope = undefined;
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

  private onBackoffElapsed(): void {
    this.backoffTimer = undefined;
    if (this.state === 'finished') return;
    if (this.state === 'backing-off') this.move('resume');
    const metadata = this.metadata.clone();
    metadata.set('grpc-previous-rpc-attempts', String(this.attempts));
    try {
      this.startAttempt(metadata);
    } catch (error) {
      // grpc-js refuses a call on a client closed meanwhile; this timer must not throw.
      const details = `retry not started: ${error instanceof Error ? error.message : String(error)}`;
      this.finish({ code: Status.UNAVAILABLE, details, metadata: new Metadata() });
    }
  }

  /** Learns, from any answer of a server, what its dedup store covers (see DedupScopes). */
  private observeDedupScope(
    attempt: InterceptingCallInterface,
    status: StatusObject,
    headersReceived: boolean,
  ): void {
    const scopes = this.options.dedupScopes;
    if (scopes === undefined) return;
    // An OK always comes from the server; a failure only when it came with headers or trailers.
    const answered = status.code === Status.OK || headersReceived || isFromTrailers(status);
    if (!answered) return;
    // A server that sends headers declares its scope there; only a trailers-only answer carries
    // it in the trailers alone.
    const scope = headersReceived ? this.declaredScope : readDedupScope(status.metadata);
    scopes.observe(attempt.getPeer(), scope ?? 'none');
  }

  private giveUp(method: string, status: StatusObject, reason: GiveUpReason): void {
    // The call's record (logging, metrics) says why it was not retried (further).
    status.metadata?.set(RETRY_STOPPED_METADATA_KEY, reason);
    callUserCode('the onGiveUp hook', this.options.onGiveUp, {
      method,
      attempts: this.attempts,
      reason,
      status,
    });
    this.finish(status);
  }

  private finish(status: StatusObject): void {
    if (this.state === 'finished') return;
    this.move('finish');
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.requests.close();
    if (this.attempts > 1) status.metadata?.set(ATTEMPTS_METADATA_KEY, String(this.attempts));
    if (this.headers !== undefined) this.listener.onReceiveMetadata?.(this.headers);
    if (this.response !== NO_RESPONSE) {
      this.readPending = false;
      this.listener.onReceiveMessage?.(this.response);
    }
    this.listener.onReceiveStatus?.(status);
  }
}
