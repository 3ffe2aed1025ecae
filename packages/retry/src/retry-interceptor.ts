import type { InterceptingCall, Interceptor } from '@grpc/grpc-js';
import { AdaptiveRetryBudget } from './adaptive-budget';
import { HedgedCall } from './hedged-call';
import { Hedging } from './hedging';
import { resolveRetryOptions, type RetryOptions } from './options';
import { RetryingCall } from './retrying-call';

/**
 * A grpc-js client interceptor that retries failed calls when that can succeed and is safe:
 * only retryable statuses; only idempotent methods, requests that never reached the server, or
 * keyed calls to deduplicating servers; at most `maxAttempts`; full-jitter exponential backoff or
 * the server's pushback; never sleeping past the deadline; within a retry budget; streams only
 * until committed; optionally a per-attempt timeout and hedging of idempotent unary calls. Put it
 * inside the deadline interceptor, so that one deadline covers every attempt, and keep grpc-js's
 * own `retryPolicy` out of the service config. With the adaptive budget, the layer asks its
 * throttle before each attempt and tells the budget how each one ended, itself: no interceptor
 * level, no object per attempt between the retry layer and grpc-js.
 */
export function createRetryInterceptor(options?: RetryOptions): Interceptor {
  const resolved = resolveRetryOptions(options);
  // One attempt per call: no retry, no hedge, so no retry gate; the throttle still admits each.
  if (resolved.maxAttempts === 1)
    return resolved.budget instanceof AdaptiveRetryBudget
      ? resolved.budget.interceptor
      : (callOptions, nextCall) => nextCall(callOptions) as InterceptingCall;
  // One client, one target: hedge delays and the hedge allowance are learnt per interceptor.
  const hedging = resolved.hedging === undefined ? undefined : new Hedging(resolved.hedging);
  return (callOptions, nextCall) => {
    const method = callOptions.method_definition;
    const idempotent = resolved.methods.lookup(method.path)?.idempotent ?? false;
    // Streams and non-idempotent calls are never hedged: they carry nothing of hedging.
    const call =
      hedging !== undefined && idempotent && !method.requestStream && !method.responseStream
        ? new HedgedCall(callOptions, nextCall, resolved, hedging)
        : new RetryingCall(callOptions, nextCall, resolved, idempotent);
    // grpc-js uses only the interface of what an interceptor returns (see deadline-interceptor).
    return call as unknown as InterceptingCall;
  };
}
