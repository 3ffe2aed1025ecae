import { status as Status } from '@grpc/grpc-js';
import { statusOrigin, type StatusLike } from './origin';

/**
 * Key under which a call with a response stream (server-streaming or bidi) carries its own
 * deadline (ms since the epoch) in its request metadata's *options* (`Metadata.setOptions`, never
 * written to the wire). The deadline interceptor sets it; the load balancer reads it, because
 * grpc-js hands a picker only `PickArgs { metadata, extraPickInfo }` and its `onCallEnded` only
 * the code, details and trailers, never the method or its shape (grpc-js 1.14 picker.ts,
 * load-balancing-call.ts); the metadata it picks with is a `clone()`, which keeps the options.
 * `Symbol.for`, so that two installed copies of this package still agree on it.
 */
export const LONG_LIVED_CALL_KEY: unique symbol = Symbol.for('grpc-resilience.long-lived-call');

/**
 * Whether a call with a response stream ended by its own deadline: grpc-js's local timer ended
 * it, or the deadline had passed when the status came (the server's timer for the same deadline
 * won the race). For a long-lived stream that is its normal end, never a failure of the server;
 * a unary call that times out is not asked about here and still counts.
 *
 * @param streamDeadline the call's deadline, ms since the epoch; undefined when the call has no
 *   response stream (or no deadline).
 */
export function isStreamOwnDeadline(
  status: StatusLike,
  streamDeadline: number | undefined,
  now: () => number = Date.now,
): boolean {
  return (
    status.code === Status.DEADLINE_EXCEEDED &&
    streamDeadline !== undefined &&
    (statusOrigin(status) === 'local' || now() >= streamDeadline)
  );
}
