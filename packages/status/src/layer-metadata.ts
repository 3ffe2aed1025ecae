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
