/**
 * Trailers the client layer adds to a call's final status, read by callers, logs and metrics.
 * One home for their names, so the packages that write and read them cannot drift apart.
 */

/** Attempts the call took, set when it took more than one. */
export const ATTEMPTS_METADATA_KEY = 'grpc-resilience-attempts';

/**
 * Why the retry layer did not retry a failed call (further): `non-retryable`, `not-idempotent`,
 * `max-attempts`, `budget`, `deadline`, `pushback`, `committed`, `circuit-open`, `bulkhead`.
 */
export const RETRY_STOPPED_METADATA_KEY = 'grpc-resilience-retry-stopped';
