import { status as Status } from '@grpc/grpc-js';
import {
  isChannelClosed,
  isEnhanceYourCalm,
  isMessageTooLarge,
  isNeverSent,
  statusOrigin,
  type StatusContext,
  type StatusLike,
  type StatusOrigin,
} from './origin';

/** Who caused a failure: the caller (fix the request), the server or network (try later), neither. */
export type StatusFault = 'caller' | 'server' | 'none';

/** The static class of a status code (the table in docs/architecture.md), before looking at one status. */
export interface StatusCodeClass {
  readonly code: Status;
  /** The code's name as in the gRPC spec, e.g. `UNAVAILABLE`. */
  readonly name: string;
  /** May be retried when the method is idempotent (or the server deduplicates by key). */
  readonly retryableIfIdempotent: boolean;
  /**
   * May be retried when the method is not idempotent. At the code level this is never the case;
   * {@link classifyStatus} allows it for a request that provably never reached the server.
   */
  readonly retryableIfNotIdempotent: boolean;
  /** Counts as a failure of the server for a circuit breaker or outlier ejection. */
  readonly breakerFailure: boolean;
  readonly fault: StatusFault;
}

/** The classification of one status, taking its origin into account. */
export interface StatusClass extends StatusCodeClass {
  readonly origin: StatusOrigin;
  /** The request never reached the server's application; safe to retry even if not idempotent. */
  readonly neverSent: boolean;
}

function codeClass(
  code: Status,
  retryableIfIdempotent: boolean,
  breakerFailure: boolean,
  fault: StatusFault,
): StatusCodeClass {
  return Object.freeze({
    code,
    name: Status[code],
    retryableIfIdempotent,
    retryableIfNotIdempotent: false,
    breakerFailure,
    fault,
  });
}

/*
 * Defaults from docs/architecture.md "Status classification". DEADLINE_EXCEEDED is not retryable here: the
 * overall deadline is final (grpc-js and gRFC A6 never retry it either); the retry package alone
 * may retry the expiry of a per-attempt timeout it set itself. ABORTED is a concurrency conflict:
 * retrying an idempotent call helps, and it says nothing of the server's health.
 */
const CODE_TABLE: readonly StatusCodeClass[] = Object.freeze([
  codeClass(Status.OK, false, false, 'none'),
  codeClass(Status.CANCELLED, false, false, 'caller'),
  codeClass(Status.UNKNOWN, false, true, 'server'),
  codeClass(Status.INVALID_ARGUMENT, false, false, 'caller'),
  codeClass(Status.DEADLINE_EXCEEDED, false, true, 'server'),
  codeClass(Status.NOT_FOUND, false, false, 'caller'),
  codeClass(Status.ALREADY_EXISTS, false, false, 'caller'),
  codeClass(Status.PERMISSION_DENIED, false, false, 'caller'),
  codeClass(Status.RESOURCE_EXHAUSTED, true, true, 'server'),
  codeClass(Status.FAILED_PRECONDITION, false, false, 'caller'),
  codeClass(Status.ABORTED, true, false, 'none'),
  codeClass(Status.OUT_OF_RANGE, false, false, 'caller'),
  codeClass(Status.UNIMPLEMENTED, false, false, 'caller'),
  codeClass(Status.INTERNAL, false, true, 'server'),
  codeClass(Status.UNAVAILABLE, true, true, 'server'),
  codeClass(Status.DATA_LOSS, false, true, 'server'),
  codeClass(Status.UNAUTHENTICATED, false, false, 'caller'),
]);

/** A code outside 0..16 (a misbehaving peer) is treated like UNKNOWN. */
const UNKNOWN_CLASS = CODE_TABLE[Status.UNKNOWN];

/** The static class of a code: no allocation, safe on the hot path. */
export function classifyStatusCode(code: number): StatusCodeClass {
  return CODE_TABLE[code] ?? UNKNOWN_CLASS;
}

/** The code's name, e.g. `UNAVAILABLE`; `CODE_42` for a code outside the spec. */
export function statusName(code: number): string {
  return CODE_TABLE[code]?.name ?? `CODE_${code}`;
}

/** The stream broke under the call: the server's application never answered with this code. */
const TRANSPORT_FAILURE: Omit<StatusCodeClass, 'code' | 'name'> = Object.freeze({
  retryableIfIdempotent: true,
  retryableIfNotIdempotent: false,
  breakerFailure: true,
  fault: 'server',
});

/** The caller's own error, produced locally: never retried, never counted against the server. */
const CALLER_ERROR: Omit<StatusCodeClass, 'code' | 'name'> = Object.freeze({
  retryableIfIdempotent: false,
  retryableIfNotIdempotent: false,
  breakerFailure: false,
  fault: 'caller',
});

/**
 * Classifies one status, refining the code's class by its origin (docs/architecture.md):
 * - a request that never reached the server is retryable even when not idempotent;
 * - a message over a size limit is the caller's error: not retried, not counted;
 * - so is the connection a server's ping enforcement closed (ENHANCE_YOUR_CALM, GOAWAY
 *   `too_many_pings`; origin local, since the client's keepalive caused it): the keepalive is
 *   misconfigured for that healthy server, and a retry on a new connection pings just the same;
 * - a CANCELLED the caller did not ask for, or an INTERNAL that grpc-js made up for a stream reset
 *   without a gRPC status (`Received RST_STREAM with code N`), is a transport failure: retryable
 *   when idempotent, counted by the breaker.
 */
export function classifyStatus(status: StatusLike, context?: StatusContext): StatusClass {
  const base = classifyStatusCode(status.code);
  if (status.code === Status.OK) return { ...base, origin: 'server', neverSent: false };
  const origin = statusOrigin(status, context);
  const neverSent = isNeverSent(status, context);
  if (isMessageTooLarge(status) || isChannelClosed(status) || isEnhanceYourCalm(status))
    return { ...base, ...CALLER_ERROR, origin, neverSent };
  if (neverSent) return { ...base, retryableIfNotIdempotent: true, origin, neverSent };
  if (
    origin === 'transport' &&
    (status.code === Status.CANCELLED || status.code === Status.INTERNAL)
  ) {
    return { ...base, ...TRANSPORT_FAILURE, origin, neverSent };
  }
  if (status.code === Status.CANCELLED && origin === 'server') {
    // A server (e.g. one shutting down) ended the call: not the caller's doing.
    return { ...base, ...TRANSPORT_FAILURE, origin, neverSent };
  }
  return { ...base, origin, neverSent };
}
