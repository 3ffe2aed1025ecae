export {
  createCircuitBreakerInterceptor,
  type CircuitBreakerInterceptor,
} from './breaker-interceptor';
export {
  CircuitBreaker,
  type BreakerState,
  type BreakerStateChange,
  type Admission,
} from './circuit-breaker';
export {
  resolveCircuitBreakerOptions,
  type CircuitBreakerOptions,
  type ResolvedCircuitBreakerOptions,
} from './options';
