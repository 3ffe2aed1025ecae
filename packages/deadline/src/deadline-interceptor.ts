import { status as Status, type InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import {
  DEADLINE_BUDGET_REASON,
  deadlineToMs,
  isResolvedOptions,
  rejectedCall,
} from '@grpc-resilience/status';
import { currentCallContext } from './call-context';
import { DeadlineCall } from './deadline-call';
import {
  resolveDeadlineOptions,
  type DeadlineOptions,
  type ResolvedDeadlineOptions,
} from './options';

/**
 * A client interceptor that puts a deadline on every call: the caller's own (never extended),
 * else the method's `timeoutMs`, else `streamDefaultMs` for a call with a response stream
 * (server-streaming, bidi) and `defaultMs` for the others. Inside a server handler served with
 * {@link createServerContextInterceptor}, the call also inherits the incoming call's deadline
 * (minus a margin) and is cancelled with it. A call with less than `minBudgetMs` left fails at
 * once with DEADLINE_EXCEEDED and is never sent.
 *
 * The success path of a unary call outside a handler adds no wrapper: it sets `options.deadline`
 * in place (grpc-js hands each interceptor its own copy) and returns grpc-js's own next call.
 * A call with a response stream is marked so that the balancer does not count its own deadline
 * against the backend (see `LONG_LIVED_CALL_KEY`).
 */
export function createDeadlineInterceptor(
  options?: DeadlineOptions | ResolvedDeadlineOptions,
): Interceptor {
  const { defaultMs, streamDefaultMs, minBudgetMs, methods, propagate, propagationMarginMs } =
    isResolvedOptions(options)
      ? (options as ResolvedDeadlineOptions)
      : resolveDeadlineOptions(options as DeadlineOptions | undefined);

  return (callOptions, nextCall) => {
    const now = Date.now();
    const path = callOptions.method_definition.path;
    const streaming = callOptions.method_definition.responseStream;
    let deadline = deadlineToMs(callOptions.deadline);
    if (deadline === undefined || Number.isNaN(deadline)) {
      deadline =
        now + (methods.lookup(path)?.timeoutMs ?? (streaming ? streamDefaultMs : defaultMs));
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
        DEADLINE_BUDGET_REASON,
      );
    }
    callOptions.deadline = deadline;
    // grpc-js uses only the interface of what an interceptor returns, so the next call can be
    // handed back unwrapped; its type says InterceptingCall for no runtime reason.
    const call = nextCall(callOptions) as InterceptingCall;
    if (context === undefined && !streaming) return call;
    return new DeadlineCall(
      call,
      context,
      streaming ? deadline : undefined,
    ) as unknown as InterceptingCall;
  };
}
