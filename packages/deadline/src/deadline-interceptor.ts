import {
  status as Status,
  type InterceptingCall,
  type InterceptingListener,
  type Interceptor,
  type Metadata,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ForwardingCall,
  PROPAGATED_CANCEL_PREFIX,
  rejectedCall,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import { currentCallContext, type CallContext } from './call-context';
import { deadlineToMs, resolveDeadlineOptions, type DeadlineOptions } from './options';

/**
 * A client interceptor that puts a deadline on every call: the caller's own (never extended),
 * else the method's `timeoutMs`, else `defaultMs`. Inside a server handler served with
 * {@link createServerContextInterceptor}, the call also inherits the incoming call's deadline
 * (minus a margin) and is cancelled with it. A call with less than `minBudgetMs` left fails at
 * once with DEADLINE_EXCEEDED and is never sent.
 *
 * The success path outside a handler adds no wrapper: it sets `options.deadline` in place
 * (grpc-js hands each interceptor its own copy) and returns grpc-js's own next call.
 */
export function createDeadlineInterceptor(options?: DeadlineOptions): Interceptor {
  const { defaultMs, minBudgetMs, methods, propagate, propagationMarginMs } =
    resolveDeadlineOptions(options);

  return (callOptions, nextCall) => {
    const now = Date.now();
    const path = callOptions.method_definition.path;
    let deadline = deadlineToMs(callOptions.deadline);
    if (deadline === undefined || Number.isNaN(deadline)) {
      deadline = now + (methods.lookup(path)?.timeoutMs ?? defaultMs);
    }
    const context = propagate ? currentCallContext() : undefined;
    if (context !== undefined) {
      if (context.cancelled !== undefined) {
        return rejectedCall(
          Status.CANCELLED,
          `${path} not sent: the incoming call ${context.method} ended (${context.cancelled})`,
          'incoming-call-ended',
        );
      }
      const inherited = context.deadline - propagationMarginMs;
      if (inherited < deadline) deadline = inherited;
    }
    const remaining = deadline - now;
    if (remaining < minBudgetMs || remaining <= 0) {
      return rejectedCall(
        Status.DEADLINE_EXCEEDED,
        `${path} not sent: ${Math.max(0, remaining)} ms left of its deadline, below the minimum of ${minBudgetMs} ms`,
        'deadline-budget',
      );
    }
    callOptions.deadline = deadline;
    // grpc-js uses only the interface of what an interceptor returns, so the next call can be
    // handed back unwrapped; its type says InterceptingCall for no runtime reason.
    const call = nextCall(callOptions) as InterceptingCall;
    return context === undefined
      ? call
      : (new LinkedCall(call, context) as unknown as InterceptingCall);
  };
}

/** Cancels the call when the incoming call is cancelled; stops listening when the call ends. */
class LinkedCall extends ForwardingCall {
  private unsubscribe: (() => void) | undefined;
  constructor(
    next: InterceptingCallInterface,
    private readonly context: CallContext,
  ) {
    super(next);
  }
  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.unsubscribe = this.context.onCancel((reason) =>
      this.next.cancelWithStatus(
        Status.CANCELLED,
        `${PROPAGATED_CANCEL_PREFIX}${this.context.method} (${reason})`,
      ),
    );
    super.start(metadata, listener);
  }
  override onReceiveStatus(status: StatusObject): void {
    this.unsubscribe?.();
    super.onReceiveStatus(status);
  }
}
