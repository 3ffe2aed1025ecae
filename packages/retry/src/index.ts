export { createRetryInterceptor } from './retry-interceptor';
// One home in status; re-exported where it was first published.
export { ATTEMPTS_METADATA_KEY } from '@grpc-resilience/status';
export { DedupScopes, type ObservedDedupScope } from './dedup-scopes';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget';
export { AdaptiveRetryBudget } from './adaptive-budget';
export { ClientThrottle } from './client-throttle';
export type { AdaptiveBudgetOptions, ThrottleOptions } from './adaptive-budget-options';
export {
  resolveBudget as resolveRetryBudget,
  type BudgetOption,
  type FixedBudgetOptions,
  type AnyRetryBudget,
} from './budget-options';
/** gRFC A6's pushback trailer, defined once in the status package (re-exported for callers). */
export { PUSHBACK_METADATA_KEY } from '@grpc-resilience/status';
export { assertNoNativeRetries } from './native-retries';
export type { HedgingOptions } from './hedging';
export type { AttemptOptions, HedgeEvent } from './attempt-options';
export {
  resolveRetryOptions,
  RETRY_OPTION_KEYS,
  DEFAULT_RETRYABLE_CODES,
  type RetryOptions,
  type RetryGate,
  type ResolvedRetryOptions,
  type RetryEvent,
  type GiveUpEvent,
  type GiveUpReason,
} from './options';
