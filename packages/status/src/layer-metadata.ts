/**
 * Trailers the client layer adds to a call's final status, read by callers, logs and metrics.
 * One home for their names, so the packages that write and read them cannot drift apart.
 */

/** Attempts the call took, set when it took more than one. */
export const ATTEMPTS_METADATA_KEY = 'grpc-resilience-attempts';

/**
 * Why the retry layer did not retry a failed call (further), one of the retry package's
 * `GiveUpReason`s:
 * - `non-retryable`: the status is not worth retrying (code not retryable, the overall deadline,
 *   a message over a size limit, the caller's cancel);
 * - `not-idempotent`: retrying could run a side effect twice;
 * - `max-attempts`: `maxAttempts` were made;
 * - `budget`: the target's retry budget had no token left;
 * - `deadline`: the backoff would outlast the deadline, or the next attempt would start with
 *   less than its useful share of it;
 * - `pushback`: the server's `grpc-retry-pushback-ms` said not to retry, or could not be read;
 * - `retry-info`: the server's `google.rpc.RetryInfo` could not be read;
 * - `throttled`: the target's client-side throttle refused the attempt locally;
 * - `committed`: part of a streaming response had reached the caller;
 * - `circuit-open`, `bulkhead`: the layer's own circuit breaker or bulkhead refused the attempt.
 */
export const RETRY_STOPPED_METADATA_KEY = 'grpc-resilience-retry-stopped';

/**
 * Request metadata a retry or a hedge carries to ask the balancer for another endpoint: the
 * peer address (`host:port`, as grpc-js's `call.getPeer()` gives it) of the attempt that just
 * failed or is still outstanding. Several values may be set. The load-balancer's picker skips
 * those endpoints when another ready one exists; it is advice, never a reason to fail a call.
 */
export const AVOID_PEER_METADATA_KEY = 'grpc-resilience-avoid-peer';

/**
 * Metadata option (grpc-js shares a `Metadata`'s options with its clones, so it reaches the
 * balancer's picker with the attempt's metadata) where the picker writes the endpoint it picked
 * for the attempt: `slot.peer = 'host:port'`. grpc-js's `getPeer()` says 'unknown' until an
 * attempt commits, which a live unary attempt has not: a hedge learns its first attempt's
 * endpoint only from this.
 */
export const PICKED_PEER_KEY: unique symbol = Symbol.for('grpc-resilience.picked-peer');

/** What the picker fills in. */
export interface PickedPeerSlot {
  peer: string | undefined;
}
