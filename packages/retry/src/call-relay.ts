import type { InterceptingListener, Metadata, StatusObject } from '@grpc/grpc-js';
import { readDedupScope, type InterceptingCallInterface } from '@grpc-resilience/status';
import { NO_RESPONSE, type Attempt, type AttemptOwner } from './attempt-listener';
import { CallAttempts } from './call-attempts';
import type { DedupScopes } from './dedup-scopes';

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
export abstract class CallRelay extends CallAttempts implements AttemptOwner {
  /** The caller's listener. */
  protected listener: Partial<InterceptingListener> = NO_LISTENER;
  /** The caller asked for a message that has not come yet: a new attempt is asked too. */
  protected readPending = false;

  /**
   * The target's record of declared dedup scopes, when this client keeps one: every answer adds
   * to it, an idempotent call's too (with `serverDeduplicates: true`, per-process stores seen
   * answering from two servers refuse keyed retries, whichever call showed them).
   */
  protected scopesToWatch(): DedupScopes | undefined {
    return this.options.dedupScopes;
  }

  /** Whether `attempt`'s reports still count: it is live, and the call has not finished. */
  protected abstract isLive(attempt: Attempt): boolean;

  /** A streaming response reaches the caller: no other attempt may replace it now. */
  protected abstract onResponseStarted(): void;

  startRead(): void {
    this.readPending = true;
    this.readFromAttempts();
  }

  getPeer(): string {
    return this.liveAttempt?.call.getPeer() ?? '';
  }

  getAuthContext(): ReturnType<InterceptingCallInterface['getAuthContext']> {
    return this.liveAttempt?.call.getAuthContext() ?? null;
  }

  /** @internal */
  onMetadata(attempt: Attempt, metadata: Metadata): void {
    if (!this.isLive(attempt)) return;
    attempt.headersReceived = true;
    if (this.scopesToWatch() !== undefined) attempt.declaredScope = readDedupScope(metadata);
    if (!this.callOptions.method_definition.responseStream) {
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
    if (!this.callOptions.method_definition.responseStream) {
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
