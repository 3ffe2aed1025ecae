export {
  createCircuitBreakerInterceptor,
  type CircuitBreakerInterceptor,
} from './breaker-interceptor';
export { CircuitBreaker, type Admission } from './circuit-breaker';
export { callOutcome, type CallOutcome } from './call-outcome';
export { BALANCED_BREAKER_OPTIONS } from './presets';
export { type BreakerState, type BreakerStateChange } from './state-change';
export {
  resolveCircuitBreakerOptions,
  DEFAULT_HALF_OPEN_AFTER_MS,
  DEFAULT_MAX_HALF_OPEN_AFTER_MS,
  DEFAULT_APPLICATION_FAILURE_WEIGHT,
  DEFAULT_HALF_OPEN_BACKOFF_MULTIPLIER,
  type CircuitBreakerOptions,
  type ResolvedCircuitBreakerOptions,
} from './options';
