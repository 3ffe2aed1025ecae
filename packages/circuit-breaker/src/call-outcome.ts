import { status as Status, type StatusObject } from '@grpc/grpc-js';
import {
  DEADLINE_BUDGET_REASON,
  PUSHBACK_METADATA_KEY,
  REASON_METADATA_KEY,
  classifyStatus,
  isStreamOwnDeadline,
  layerRefusalReason,
  readRetryInfoMs,
} from '@grpc-resilience/status';

/**
 * What the end of one call tells of its target:
 * - `success`: it answered OK;
 * - `answered`: the server answered with the caller's error (INVALID_ARGUMENT, NOT_FOUND, …):
 *   alive, and nothing to count;
 * - `failure`: the target could not serve it (no connection, a reset, a local deadline) or said
 *   so itself (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED): counts 1;
 * - `application-failure`: the server's application answered with UNKNOWN (a Node handler's
 *   thrown Error), INTERNAL, DATA_LOSS or a code outside the table: the process is up and
 *   answering, and such errors are as often one caller's bad input as a sick service, so they
 *   count `applicationFailureWeight`;
 * - `shed`: the server refused the call, unrun, to protect itself: RESOURCE_EXHAUSTED with
 *   `grpc-retry-pushback-ms` or a `google.rpc.RetryInfo` (what an adaptive concurrency limit
 *   answers), or DEADLINE_EXCEEDED with `grpc-resilience-reason: deadline-budget` (less time left
 *   than its calls take). It is up and answering at once, so it counts as a success for the
 *   breaker (it ends a run of failures), and a probe so answered closes the circuit. Opening would fail for a second or more every call the server
 *   would have admitted; the retry's pushback and the client throttle slow the caller;
 * - `neutral`: nothing learnt (the caller cancelled, a stream ended by its own deadline, the
 *   layer itself refused the call before sending it).
 */
export type CallOutcome =
  'success' | 'answered' | 'shed' | 'failure' | 'application-failure' | 'neutral';

/**
 * Codes a server's application answers with when its own code failed. `code` is the class's, so
 * a code outside the table (402…) reads as UNKNOWN. Every other counted failure (UNAVAILABLE,
 * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, a server ending the call with CANCELLED as it shuts
 * down) says the target cannot serve now, the same as not reaching it.
 */
function isApplicationCode(code: number): boolean {
  return code === Status.UNKNOWN || code === Status.INTERNAL || code === Status.DATA_LOSS;
}

/**
 * Reads a call's end through the status package's classification (the one place that decides
 * what is the server's fault); only the weighing of the server's own failures is the breaker's.
 *
 * @param streamDeadline the deadline of a call with a response stream (ms since the epoch), else
 *   undefined: a watch that ran its course is no failure.
 */
export function callOutcome(
  status: StatusObject,
  cancelledByCaller: boolean,
  streamDeadline: number | undefined,
): CallOutcome {
  if (status.code === Status.OK) return 'success';
  if (isStreamOwnDeadline(status, streamDeadline)) return 'neutral';
  // A refusal of the layer's own (a retry throttle, an inner breaker or bulkhead) carries its
  // reason and no trailers from a peer: it sent nothing, so it tells nothing of the target.
  if (layerRefusalReason(status) !== undefined) return 'neutral';
  const cls = classifyStatus(status, { cancelledByCaller });
  if (cls.origin === 'server' && isServerShedding(status)) return 'shed';
  if (!cls.breakerFailure) return cls.origin === 'server' ? 'answered' : 'neutral';
  if (cls.origin === 'server' && isApplicationCode(cls.code)) return 'application-failure';
  return 'failure';
}

/**
 * A RESOURCE_EXHAUSTED a server sent with a retry hint: load shedding, not a quota or a sick
 * target (gRFC A6's pushback is the server's own "not now"); a negative pushback ("do not
 * retry") is still the server speaking for itself, so any hint counts. Or the DEADLINE_EXCEEDED
 * that `@grpc-resilience/server`'s admission answers, unrun, to a call with less time left than
 * its calls take: the caller's budget, not the target's health.
 */
function isServerShedding(status: StatusObject): boolean {
  if (status.code === Status.DEADLINE_EXCEEDED)
    return status.metadata.get(REASON_METADATA_KEY)[0] === DEADLINE_BUDGET_REASON;
  if (status.code !== Status.RESOURCE_EXHAUSTED) return false;
  if (status.metadata.get(PUSHBACK_METADATA_KEY).length > 0) return true;
  return readRetryInfoMs(status.metadata) !== undefined;
}
