export { createRetryInterceptor } from './retry-interceptor';
export { RetryingCall } from './retrying-call';
// One home in status; re-exported where it was first published.
export { ATTEMPTS_METADATA_KEY } from '@grpc-resilience/status';
export { DedupScopes, type ObservedDedupScope } from './dedup-scopes';
export { nextRetryState, isRetryable, type RetryState, type RetryTransition } from './retry-state';
export { RetryBudget, type RetryBudgetOptions } from './retry-budget';
export { backoffDelayMs, parsePushback, PUSHBACK_METADATA_KEY } from './backoff';
export {
  decideRetry,
  isKeyedRetrySafe,
  isRetryableStatus,
  type RetryDecision,
  type AttemptFacts,
} from './retry-policy';
export { assertNoNativeRetries } from './native-retries';
export {
  resolveRetryOptions,
  RETRY_OPTION_KEYS,
  DEFAULT_RETRYABLE_CODES,
  type RetryOptions,
  type ResolvedRetryOptions,
  type RetryEvent,
  type GiveUpEvent,
  type GiveUpReason,
} from './options';
