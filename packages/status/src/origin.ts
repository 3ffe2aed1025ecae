import { status as Status } from '@grpc/grpc-js';
import { REASON_METADATA_KEY } from './rejected-call';

/**
 * Where a status came from:
 * - `local`: made up by the client library without an answer from the server (its own deadline
 *   timer, no connection established, the channel closed, a message over the size limit, a
 *   cancellation the caller asked for). The request never reached the server's application, except
 *   for a local deadline or cancellation, which can fire while the server is working, and for
 *   the server's ping enforcement closing the connection (GOAWAY `too_many_pings`): grpc-js makes
 *   that status up too, and its cause is the client's own keepalive, whatever the server was doing.
 * - `transport`: the stream or connection broke under the call (reset, dropped, refused stream);
 *   the server never sent a gRPC status. The request may or may not have been processed.
 * - `server`: a status the server (or a proxy speaking gRPC) returned in trailers.
 */
export type StatusOrigin = 'local' | 'transport' | 'server';

/** What the observer of a call knows beyond the status itself. All optional. */
export interface StatusContext {
  /**
   * Whether response headers arrived before the status. A grpc-js server that rejects a request
   * answers trailers-only, so a size-limit error after headers is the client's own receive limit.
   */
  headersReceived?: boolean;
  /** Whether the caller itself cancelled the call (then CANCELLED is the caller's own doing). */
  cancelledByCaller?: boolean;
}

/**
 * The reason of a status the layer made up to refuse a call (an open circuit, the bulkhead,
 * throttling, a deadline too short to start), or undefined. Only a status that carries the reason
 * and nothing a peer sent is the layer's own: a server's refusal (its limiter's `overloaded`), or
 * a handler that passes on a refusal its own client got, carries the same trailer from the wire
 * and is that server's answer.
 */
export function layerRefusalReason(status: StatusLike): string | undefined {
  const reason = status.metadata?.getMap()[REASON_METADATA_KEY];
  return typeof reason === 'string' && !isFromTrailers(status) ? reason : undefined;
}

function isLayerRefusal(status: StatusLike): boolean {
  return layerRefusalReason(status) !== undefined;
}

/** Whether this attempt heard from the peer at all: its headers, or trailers with its status. */
function heardFromPeer(status: StatusLike, context: StatusContext | undefined): boolean {
  return context?.headersReceived === true || isFromTrailers(status);
}

/** A status as grpc-js hands it over: a `StatusObject` or a `ServiceError` (both carry these). */
export interface StatusLike {
  code: number;
  details?: string;
  /** The HTTP/2 RST_STREAM code; grpc-js sets it only when the stream was reset under the call. */
  rstCode?: number;
  /** Trailers: empty on every status grpc-js makes up, never empty on one a server sent. */
  metadata?: { getMap(): Record<string, unknown> } | null;
}

/** Keys the layer itself adds to a status on the client; they say nothing of the wire. */
const LAYER_KEY_PREFIX = 'grpc-resilience-';

/**
 * Whether the status arrived in trailers from the peer: the structural signal that wins over any
 * text. grpc-js makes up every local and transport status with empty metadata (subchannel-call,
 * load-balancing-call, resolving-call), while a peer's trailers always carry something: a
 * Trailers-Only response carries at least `content-type` (gRPC over HTTP/2 spec), which grpc-js
 * keeps in the status metadata. So a server that forwards another call's local error text
 * ("No connection established", "Stream refused by server") is still a server answering.
 */
export function isFromTrailers(status: StatusLike): boolean {
  const map = status.metadata?.getMap();
  if (map === undefined) return false;
  for (const key in map) if (!key.startsWith(LAYER_KEY_PREFIX)) return true;
  return false;
}

/*
 * grpc-js gives no structured field for "made up locally", so the few of its messages relied on
 * are matched here and nowhere else, each with a test that provokes it for real
 * (origin.loopback.test.ts). Sources: grpc-js 1.14 src/resolving-call.ts (deadline),
 * picker.ts / load-balancer-pick-first.ts / load-balancer-round-robin.ts (no connection),
 * internal-channel.ts (channel closed), resolver-dns.ts (name resolution), compression-filter.ts
 * and stream-decoder.ts (message size), call.ts (client cancel), subchannel-call.ts (resets,
 * ENHANCE_YOUR_CALM).
 */
const LOCAL_DEADLINE = /^Deadline exceeded( after |$)/;
const LOCAL_UNAVAILABLE =
  /^(?:[a-z_]+: )?No connection established|^Channel closed before call started|^Name resolution failed|^Failed to parse/;
const LOCAL_SEND_TOO_LARGE = /^Attempted to send message with a size larger than/;
const RECEIVE_TOO_LARGE =
  /^Received message (?:larger than max|that decompresses to a size larger than)/;
/**
 * Details of the CANCELLED with which the deadline package ends a call because the incoming call
 * it was made for ended (cancel propagation). grpc-js hands a balancer's `onCallEnded` only the
 * code and these details, so the cause travels in them: no policy may blame the server for it.
 */
export const PROPAGATED_CANCEL_PREFIX = 'Cancelled because the incoming call ended: ';
const LOCAL_CANCEL =
  /^Cancelled on client$|^Cancelled by parent call$|^Cancelled because the incoming call ended: /;
/**
 * grpc-js's details for a stream reset with ENHANCE_YOUR_CALM (subchannel-call.ts). A call in
 * flight gets it when the server's ping enforcement (gRFC A8: grpc-go, Java and C++ servers)
 * answers the client's keepalive with GOAWAY ENHANCE_YOUR_CALM `too_many_pings` and closes the
 * connection: RESOURCE_EXHAUSTED, though the server is not short of anything.
 */
const ENHANCE_YOUR_CALM_DETAILS = 'Bandwidth exhausted or memory limit exceeded';
const TRANSPORT =
  /^Received RST_STREAM with code|^Connection dropped$|^Stream refused by server$|^Write error:|ECONNRESET|ETIMEDOUT|EPIPE/;

/** Tells where a status came from; see {@link StatusOrigin}. */
export function statusOrigin(status: StatusLike, context?: StatusContext): StatusOrigin {
  if (status.code === Status.OK || isFromTrailers(status)) return 'server';
  if (isLayerRefusal(status)) return 'local';
  const details = status.details ?? '';
  switch (status.code) {
    case Status.DEADLINE_EXCEEDED:
      // grpc-js's own server timer also says plain "Deadline exceeded", but it fires at the same
      // instant as the client's; the client's timer is the one that ends the caller's wait.
      return LOCAL_DEADLINE.test(details) ? 'local' : 'server';
    case Status.CANCELLED:
      if (context?.cancelledByCaller || LOCAL_CANCEL.test(details)) return 'local';
      return details === 'Call cancelled' || status.rstCode !== undefined ? 'transport' : 'server';
    case Status.UNAVAILABLE:
      if (LOCAL_UNAVAILABLE.test(details)) return 'local';
      break;
    case Status.RESOURCE_EXHAUSTED:
      if (LOCAL_SEND_TOO_LARGE.test(details)) return 'local';
      if (RECEIVE_TOO_LARGE.test(details))
        return context?.headersReceived === false ? 'server' : 'local';
      if (details === ENHANCE_YOUR_CALM_DETAILS) return 'local';
      break;
  }
  if (TRANSPORT.test(details)) return 'transport';
  // A reset that grpc-js could not map keeps its rstCode; a real trailer never has one.
  if (status.rstCode !== undefined && status.code !== Status.OK) return 'transport';
  return 'server';
}

const CHANNEL_CLOSED = /^Channel closed before call started/;

/**
 * Whether grpc-js failed the call because the caller closed its client or channel: never sent,
 * but the caller's own doing, so neither retried (the channel stays closed) nor counted.
 */
export function isChannelClosed(status: StatusLike): boolean {
  return (
    status.code === Status.UNAVAILABLE &&
    CHANNEL_CLOSED.test(status.details ?? '') &&
    !isFromTrailers(status)
  );
}

/**
 * Whether the server's HTTP/2 layer told the client to calm down (ENHANCE_YOUR_CALM), which in
 * practice is its keepalive enforcement refusing the client's pings (GOAWAY `too_many_pings`).
 * The client's keepalive configuration is at fault, not the server's health: a retry on a new
 * connection pings just the same. Only grpc-js's own text without trailers counts; a server that
 * sends this text in its trailers (forwarding another call's error) answered the call itself.
 */
export function isEnhanceYourCalm(status: StatusLike): boolean {
  return (
    status.code === Status.RESOURCE_EXHAUSTED &&
    status.details === ENHANCE_YOUR_CALM_DETAILS &&
    !isFromTrailers(status)
  );
}

/** Whether the status says a message exceeded a size limit (a caller's error, never retried). */
export function isMessageTooLarge(status: StatusLike): boolean {
  const details = status.details ?? '';
  return (
    status.code === Status.RESOURCE_EXHAUSTED &&
    (LOCAL_SEND_TOO_LARGE.test(details) || RECEIVE_TOO_LARGE.test(details))
  );
}

/**
 * Whether the request provably never reached the server's application: the client never had a
 * connection for it, or the server refused the stream before dispatching it (gRFC A6
 * "transparent retry" cases). Such a call is safe to retry even when it is not idempotent. A
 * status from a peer that answered (headers, or trailers) is never "never sent", whatever its
 * text says: that peer may be forwarding the local error of a call it made after it ran.
 */
export function isNeverSent(status: StatusLike, context?: StatusContext): boolean {
  if (isLayerRefusal(status) && !heardFromPeer(status, context)) return true;
  const details = status.details ?? '';
  const saysNeverSent =
    status.code === Status.UNAVAILABLE
      ? LOCAL_UNAVAILABLE.test(details) || details === 'Stream refused by server'
      : status.code === Status.RESOURCE_EXHAUSTED && LOCAL_SEND_TOO_LARGE.test(details);
  // The text first: looking at the trailers copies them, and most statuses fail the text.
  return saysNeverSent && !heardFromPeer(status, context);
}
