import type { Interceptor } from '@grpc/grpc-js';
import { AttributeCache } from './attributes';
import { BreakerStates, type ObservableBreaker } from './breaker-states';
import { BudgetBalances, type ObservableBudget } from './budget-balances';
import { createClientAttemptInterceptor } from './client-attempt-metrics';
import { createClientCallInterceptor } from './client-call-metrics';
import { countsSizes, withoutDisabled } from './disabled-metrics';
import { instrumentsOf, type Instruments } from './instruments';
import { ATTR_REASON, ATTR_TARGET, PACKAGE_VERSION } from './names';
import { resolveMetricsOptions, type MetricsOptions } from './options';

/** A client's metrics: two interceptors for the chain and the listeners for the layer's events. */
export interface ClientMetrics {
  /** Outermost in the chain (outside retries): per-call instruments. */
  readonly callInterceptor: Interceptor;
  /** Innermost (inside retry and breaker, next to grpc-js): per-attempt instruments. */
  readonly attemptInterceptor: Interceptor;
  /** Counts the breaker's transitions and observes its circuits' states; `dispose()` stops. */
  watchBreaker(breaker: ObservableBreaker): { dispose(): void };
  /** Observes the retry budget's balance when metrics are collected; `dispose()` stops. */
  watchBudget(budget: ObservableBudget): { dispose(): void };
  /** An endpoint the balancer ejected, by reason (`consecutive-failures`, `failure-rate`, …). */
  recordEjection(reason: string): void;
}

const breakerStates = new WeakMap<Instruments, BreakerStates>();
const budgetBalances = new WeakMap<Instruments, BudgetBalances>();

/**
 * The client metrics, or `undefined` when no meter provider is registered (nothing to record: the
 * layer then adds no interceptor and a call pays nothing). Put `callInterceptor` first in the
 * chain and `attemptInterceptor` last.
 */
export function createClientMetrics(options?: MetricsOptions): ClientMetrics | undefined {
  const resolved = resolveMetricsOptions(options);
  const instruments = instrumentsOf(resolved.meterProvider, PACKAGE_VERSION);
  if (!instruments) return undefined;
  // What this client records; the breaker and budget observers stay keyed by the provider's.
  const recorded = withoutDisabled(instruments, resolved.disabledMetrics);
  const attributes = new AttributeCache(
    resolved.target,
    resolved.methods,
    resolved.maxMethods,
    recorded.attemptStarted,
  );
  const ejection = new Map<string, Readonly<Record<string, string>>>();
  return {
    callInterceptor: createClientCallInterceptor(recorded, attributes),
    attemptInterceptor: createClientAttemptInterceptor(
      recorded,
      attributes,
      countsSizes(resolved.disabledMetrics, 'client'),
    ),
    watchBreaker(breaker) {
      let states = breakerStates.get(instruments);
      if (!states) breakerStates.set(instruments, (states = new BreakerStates(instruments)));
      return states.watch(breaker, resolved.target);
    },
    watchBudget(budget) {
      let balances = budgetBalances.get(instruments);
      if (!balances) budgetBalances.set(instruments, (balances = new BudgetBalances(instruments)));
      return balances.watch(budget, resolved.target);
    },
    recordEjection(reason) {
      let set = ejection.get(reason);
      if (!set) {
        set = Object.freeze({ [ATTR_TARGET]: resolved.target, [ATTR_REASON]: String(reason) });
        ejection.set(reason, set);
      }
      instruments.ejections.add(1, set);
    },
  };
}
