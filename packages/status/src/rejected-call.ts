import {
  InterceptingCall,
  Metadata,
  type InterceptingListener,
  type StatusObject,
  type status as Status,
} from '@grpc/grpc-js';

import type { InterceptingCallInterface } from './forwarding-call';

/** Request metadata / trailer key that says why the layer itself ended a call. */
export const REASON_METADATA_KEY = 'grpc-resilience-reason';

/**
 * The reason of a call refused, unrun, because less of its deadline was left than a useful
 * attempt needs: by the client's deadline layer (local) or by a server on arrival. The breaker
 * reads the server's as the caller's budget, not the target's health.
 */
export const DEADLINE_BUDGET_REASON = 'deadline-budget';

/** A call that never touches the network: nothing is sent, every operation is a no-op. */
class NeverSentCall implements InterceptingCallInterface {
  private listener: Partial<InterceptingListener> | undefined;
  private ended = false;

  constructor(private readonly status: StatusObject) {}

  start(_metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.listener = listener;
    // Asynchronously, like a real call: the caller attaches its handlers after start returns.
    process.nextTick(() => this.end(this.status));
  }

  cancelWithStatus(code: Status, details: string): void {
    process.nextTick(() => this.end({ code, details, metadata: new Metadata() }));
  }

  private end(status: StatusObject): void {
    if (this.ended || !this.listener) return;
    this.ended = true;
    this.listener.onReceiveStatus?.(status);
  }

  getPeer(): string {
    return '';
  }
  sendMessageWithContext(context: { callback?: () => void }): void {
    context.callback?.();
  }
  sendMessage(): void {}
  startRead(): void {}
  halfClose(): void {}
  getAuthContext(): null {
    return null;
  }
}

/**
 * An intercepting call that ends at once with `status` and sends nothing: how an interceptor
 * refuses a call (no budget left, circuit open) without throwing from a callback. The trailers
 * carry `grpc-resilience-reason: <reason>` so callers and logs can tell who ended it.
 */
export function rejectedCall(code: Status, details: string, reason: string): InterceptingCall {
  const metadata = new Metadata();
  metadata.set(REASON_METADATA_KEY, reason);
  return new InterceptingCall(new NeverSentCall({ code, details, metadata }));
}
