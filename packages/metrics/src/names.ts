/**
 * The instruments' names, units and buckets, in one place. gRPC's own (gRFC A66 for calls and
 * attempts, A96 for retries) keep gRPC's names so dashboards built for grpc-go, grpc-java and
 * gRPC C++ work unchanged; what gRPC has no name for carries this project's prefix, because
 * gRFC A79 reserves `grpc.` for gRPC itself.
 */

/** The meter's name (gRFC A66: the library's name). */
export const METER_NAME = '@grpc-resilience/metrics';
/** The prefix of the layer's own instruments and attributes (never `grpc.`, gRFC A79). */
export const OWN_PREFIX = 'grpc_resilience';
/** The meter's version (gRFC A66: the library's version). */
export const PACKAGE_VERSION = '0.1.0';

/** gRFC A66 latency buckets, seconds. */
export const LATENCY_BUCKETS_S: readonly number[] = Object.freeze([
  0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006,
  0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25,
  0.3, 0.4, 0.5, 0.65, 0.8, 1, 2, 5, 10, 20, 50, 100,
]);
/** gRFC A66 size buckets, bytes. */
export const SIZE_BUCKETS_BYTES: readonly number[] = Object.freeze([
  0, 1024, 2048, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456,
  1073741824, 4294967296,
]);
/** gRFC A96 buckets of retries and hedges per call. */
export const RETRY_BUCKETS: readonly number[] = Object.freeze([1, 2, 3, 4, 5]);
/** gRFC A96 buckets of transparent retries per call. */
export const TRANSPARENT_RETRY_BUCKETS: readonly number[] = Object.freeze([1, 2, 3, 4, 5, 10]);
/**
 * Share of the deadline left when a call ends, 0..1. Fine near 0, where a call that nearly ran
 * out of time lands, and at 0.2 (the standard alert: p99 above 80% of the deadline).
 */
export const HEADROOM_BUCKETS: readonly number[] = Object.freeze([
  0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
]);

/** Attribute keys. */
export const ATTR_METHOD = 'grpc.method';
export const ATTR_STATUS = 'grpc.status';
export const ATTR_TARGET = 'grpc.target';
/** Why the layer refused or stopped a call (`circuit-open`, `budget`, …). */
export const ATTR_REASON = `${OWN_PREFIX}.reason`;
/** A circuit breaker's name (its target, or `target method` with method scope). */
export const ATTR_CIRCUIT = `${OWN_PREFIX}.circuit`;
/** A breaker state (`closed`, `open`, `half-open`), or the state a transition went to. */
export const ATTR_STATE = `${OWN_PREFIX}.state`;
/** What the dedup store did with a keyed request (`first`, `replayed`, `waited`, …). */
export const ATTR_OUTCOME = `${OWN_PREFIX}.outcome`;

/** One instrument's identity. */
export interface InstrumentSpec {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly buckets?: readonly number[];
}

function spec(name: string, unit: string, description: string, buckets?: readonly number[]) {
  return Object.freeze({ name, unit, description, buckets });
}

/** Every instrument this package creates. */
export const INSTRUMENTS = Object.freeze({
  // gRFC A66, client, per attempt.
  attemptStarted: spec(
    'grpc.client.attempt.started',
    '{attempt}',
    'Number of client call attempts started.',
  ),
  attemptDuration: spec(
    'grpc.client.attempt.duration',
    's',
    'End-to-end time taken to complete a client call attempt.',
    LATENCY_BUCKETS_S,
  ),
  attemptSentBytes: spec(
    'grpc.client.attempt.sent_total_compressed_message_size',
    'By',
    'Compressed message bytes sent per client call attempt.',
    SIZE_BUCKETS_BYTES,
  ),
  attemptRcvdBytes: spec(
    'grpc.client.attempt.rcvd_total_compressed_message_size',
    'By',
    'Compressed message bytes received per call attempt.',
    SIZE_BUCKETS_BYTES,
  ),
  // gRFC A66, client, per call.
  callDuration: spec(
    'grpc.client.call.duration',
    's',
    'Time taken by gRPC to complete an RPC from application perspective.',
    LATENCY_BUCKETS_S,
  ),
  // gRFC A96, client, per call; nothing is recorded for a call with none.
  retries: spec(
    'grpc.client.call.retries',
    '{retry}',
    'Number of retries during the client call. If there were no retries, 0 is not reported.',
    RETRY_BUCKETS,
  ),
  /**
   * Retries of attempts that never reached the server's application (status's never-sent
   * classification), which the retry layer makes whatever the method's idempotency: A96's
   * transparent retries, counted here and not in `retries`. grpc-js's own, below every
   * interceptor, are not seen.
   */
  transparentRetries: spec(
    'grpc.client.call.transparent_retries',
    '{transparent_retry}',
    'Number of transparent retries during the client call. If there were no transparent retries, 0 is not reported.',
    TRANSPARENT_RETRY_BUCKETS,
  ),
  hedges: spec(
    'grpc.client.call.hedges',
    '{hedge}',
    'Number of hedges during the client call. If there were no hedges, 0 is not reported.',
    RETRY_BUCKETS,
  ),
  retryDelay: spec(
    'grpc.client.call.retry_delay',
    's',
    'Total time of delay while there is no active attempt during the client call.',
    LATENCY_BUCKETS_S,
  ),
  // gRFC A66, server.
  serverStarted: spec('grpc.server.call.started', '{call}', 'Number of server calls started.'),
  serverSentBytes: spec(
    'grpc.server.call.sent_total_compressed_message_size',
    'By',
    'Compressed message bytes sent per server call.',
    SIZE_BUCKETS_BYTES,
  ),
  serverRcvdBytes: spec(
    'grpc.server.call.rcvd_total_compressed_message_size',
    'By',
    'Compressed message bytes received per server call.',
    SIZE_BUCKETS_BYTES,
  ),
  serverDuration: spec(
    'grpc.server.call.duration',
    's',
    'End-to-end time taken to complete a call from server transport perspective.',
    LATENCY_BUCKETS_S,
  ),
  // The layer's own.
  callRefused: spec(
    `${OWN_PREFIX}.client.call.refused`,
    '{call}',
    'Calls the client layer ended without sending them, by reason (circuit-open, bulkhead, throttled, …).',
  ),
  retryStopped: spec(
    `${OWN_PREFIX}.client.retry.stopped`,
    '{call}',
    'Failed calls the retry layer did not retry (further), by reason (budget, max-attempts, deadline, …).',
  ),
  deadlineHeadroom: spec(
    `${OWN_PREFIX}.client.deadline.headroom`,
    '1',
    "Share of the call's deadline left when it ended (0: ran out, 1: none of it used).",
    HEADROOM_BUCKETS,
  ),
  breakerState: spec(
    `${OWN_PREFIX}.client.breaker.state`,
    '{state}',
    'Circuit breaker state: 1 for the state the circuit is in, 0 for the others.',
  ),
  breakerTransitions: spec(
    `${OWN_PREFIX}.client.breaker.transitions`,
    '{transition}',
    'Circuit breaker state changes, by the state entered.',
  ),
  budgetBalance: spec(
    `${OWN_PREFIX}.client.retry.budget.balance`,
    '{token}',
    'Retry budget tokens left (a retry or hedge takes one); 0: retries are refused.',
  ),
  ejections: spec(
    `${OWN_PREFIX}.client.endpoint.ejections`,
    '{ejection}',
    'Endpoints the balancer ejected, by reason.',
  ),
  serverDeadline: spec(
    `${OWN_PREFIX}.server.deadline.remaining`,
    's',
    'Time left before the deadline when a call arrived at the server (calls with a deadline).',
    LATENCY_BUCKETS_S,
  ),
  serverRefused: spec(
    `${OWN_PREFIX}.server.call.refused`,
    '{call}',
    'Calls the server layer answered without running the handler, by reason (deadline-budget, overloaded, …).',
  ),
  dedup: spec(
    `${OWN_PREFIX}.server.dedup.outcomes`,
    '{call}',
    'Keyed calls by what deduplication did (first run, replayed, waited, conflict, …).',
  ),
});
