import { Metadata, ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';

/*
 * An endpoint's load report: the server's own time for a call, sent in the call's trailers, and
 * read by the p2c picker, which then weighs an endpoint by what is its own rather than by a
 * latency that also carries the client's queue (docs/load-balancing.md). gRPC's standard for
 * per-call reports is ORCA (`endpoint-load-metrics-bin`, a protobuf `OrcaLoadReport`, read by
 * grpc-js's `weighted_round_robin`); it has no field for a call's time and costs a protobuf
 * encode and decode per call, so the layer sends one decimal number instead.
 */

/**
 * Trailer with the server's time for the call, ms with fractions (`'2.07'`): from the call's
 * arrival at the load-report interceptor to its status. The `grpc-resilience-` prefix marks it
 * as the layer's; a status carrying it still carries the peer's `content-type`, so
 * `isFromTrailers` still tells it came from a peer.
 */
export const SERVER_MS_METADATA_KEY = 'grpc-resilience-server-ms';

type NextCall = ConstructorParameters<typeof ServerInterceptingCall>[0];
type PartialStatus = Parameters<ServerInterceptingCall['sendStatus']>[0];

/**
 * The call, timed from its arrival: a subclass rather than a responder, so a call costs one
 * object, one clock read at each end and one metadata set.
 */
class TimedCall extends ServerInterceptingCall {
  private readonly arrivedAt = performance.now();

  constructor(next: NextCall) {
    super(next);
  }

  override sendStatus(status: PartialStatus): void {
    const serverMs = performance.now() - this.arrivedAt;
    // In place, as the layer's other trailers are set: grpc-js copies the trailers it sends.
    const metadata = status.metadata ?? (status.metadata = new Metadata());
    // Hundredths of a ms; the shortest decimal of a whole number of hundredths has at most two
    // fractional digits and never an exponent below 1e21. About 100 ns less than `toFixed(2)`.
    metadata.set(SERVER_MS_METADATA_KEY, String(Math.round(serverMs * 100) / 100));
    super.sendStatus(status);
  }
}

/**
 * A server interceptor that reports the server's own time for each call to the client's
 * balancer, in the {@link SERVER_MS_METADATA_KEY} trailer. Outermost in the server's list, so
 * the time covers every other interceptor and the handler. Calls with a response stream are
 * passed through untouched: the balancer does not time them. The gRPC equivalent is a per-call
 * ORCA report (grpc-js's `grpc.server_call_metric_recording` server option).
 */
export function createLoadReportInterceptor(): ServerInterceptor {
  // grpc-js types an interceptor's result as the class, but chains them as the interface its
  // argument has, so handing a stream's call on unwrapped is what a pass-through does.
  return (method, call) =>
    method.responseStream ? (call as ServerInterceptingCall) : new TimedCall(call);
}

/**
 * The server time a call's trailers report, ms, or -1 when there is none or it is malformed (not
 * a plain decimal number of zero or more): the caller then measures as if no report existed.
 */
export function reportedServerMs(trailers: Metadata | undefined): number {
  if (trailers === undefined) return -1;
  const value = trailers.get(SERVER_MS_METADATA_KEY)[0];
  return typeof value === 'string' && DECIMAL_MS.test(value) ? Number(value) : -1;
}

/** What the interceptor writes: digits, maybe a fraction; no sign, exponent or spaces. */
const DECIMAL_MS = /^\d{1,9}(?:\.\d{1,6})?$/;
