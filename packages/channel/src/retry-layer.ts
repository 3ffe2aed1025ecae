import type { Interceptor } from '@grpc/grpc-js';
import type { CircuitBreakerInterceptor } from '@grpc-resilience/circuit-breaker';
import { attemptLogHooks, type LayerLogger } from '@grpc-resilience/logging';
import {
  AdaptiveRetryBudget,
  DedupScopes,
  RetryBudget,
  createRetryInterceptor,
  resolveRetryBudget,
  type AnyRetryBudget,
  type RetryOptions,
} from '@grpc-resilience/retry';
import { objectOption, type MethodTable } from '@grpc-resilience/status';

/**
 * The retry interceptor as the factory wires it: idempotency from the merged method table, one
 * budget and one record of the servers' declared dedup scopes per target (a keyed call's retry
 * may land on any of its servers), and the attempt records of the logger beside the caller's
 * own hooks. The retry interceptor asks the adaptive budget's throttle before each attempt and
 * tells the budget how each ended, itself; given the client's `breaker` (outside the retry), it
 * asks the breaker's `retryGate` before each retry and hedge, so no attempt gate goes in the
 * chain below the retry.
 */
export function createRetryLayer(
  retry: unknown,
  methods: MethodTable,
  logger: LayerLogger | undefined,
  shared: { budget?: AnyRetryBudget; dedupScopes?: DedupScopes },
  breaker?: CircuitBreakerInterceptor,
): Interceptor {
  // The shape only: createRetryInterceptor names a wrong key `retry.<key>`.
  const input = objectOption('retry', retry) as RetryOptions;
  const hooks = logger ? attemptLogHooks(logger) : undefined;
  const { onRetry, onGiveUp, onHedge } = input;
  let budget = input.budget;
  if (
    budget !== false &&
    !(budget instanceof RetryBudget || budget instanceof AdaptiveRetryBudget)
  ) {
    budget = shared.budget ??= resolveRetryBudget('retry.budget', budget);
  }
  return createRetryInterceptor({
    ...input,
    methods,
    budget,
    dedupScopes: input.dedupScopes ?? (shared.dedupScopes ??= new DedupScopes()),
    retryGate: input.retryGate ?? breaker?.retryGate,
    onRetry: hooks || onRetry ? (event) => (hooks?.onRetry(event), onRetry?.(event)) : undefined,
    onGiveUp:
      hooks || onGiveUp ? (event) => (hooks?.onGiveUp(event), onGiveUp?.(event)) : undefined,
    onHedge: hooks || onHedge ? (event) => (hooks?.onHedge(event), onHedge?.(event)) : undefined,
  });
}
