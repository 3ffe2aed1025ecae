import type * as grpc from '@grpc/grpc-js';
import { resilientOptions, type ResilientConfig } from '@grpc-resilience/channel';
import { TEST_METHODS, TEST_SERVICE_NAME } from '@grpc-resilience/testing';

/**
 * The keepalive preset both clients run: `in-cluster`, the layer's documented default and the
 * fastest preset packages/keepalive names (ping every 30 s, 5 s for the ack). Named here rather
 * than left to the default, so the demo keeps comparing the same thing if the default moves.
 */
export const KEEPALIVE_PRESET = 'in-cluster';

/** The deadline the caller gives every call, through either client, ms. */
export const DEFAULT_CALL_DEADLINE_MS = 1000;

/**
 * The layer's whole config: its documented defaults, with the keepalive preset named. No field is
 * tuned for the demo; retries, budget, breaker and ejection are the layer's defaults.
 */
export const LAYER_CONFIG: ResilientConfig = Object.freeze({ keepalive: KEEPALIVE_PRESET });

/**
 * The layer's defaults (packages/retry, packages/circuit-breaker, packages/load-balancer), spelled
 * out for the report only; the layer resolves its own.
 */
const LAYER_DEFAULTS = [
  'retry: 5 attempts of idempotent calls on UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED or a reset stream;',
  '  backoff full jitter 100 ms x2 up to 2 s; adaptive retry budget per target: each call deposits 0.2 token',
  '  (at most 10), a retry takes 1 and gets it back when a server accepts it, so only failing retries spend;',
  '  client-side throttling refuses attempts locally (at most 80%) once servers accepted under half in the last 1 s',
  'circuit breaker per target (balanced), outside the retry, counting calls: opens at 50 failures in a row or',
  '  > 80% of the last 40 (at least 10) failed, an application error (UNKNOWN, off-table code) weighing 0.2;',
  '  refuses calls with UNAVAILABLE "circuit open"; probes after 1 s, then 1.5x longer up to 30 s while they fail',
  'balancing: power of two choices on load (peak-EWMA latency x calls in flight), slow start over 10 s;',
  '  ejection: an endpoint failing 5 calls in a row is skipped for 1 s, doubling up to 30 s, at most 50% ejected',
  'connect watchdog: a connection stuck connecting for 5 s (the preset) is dropped',
];

/** The keepalive channel options the layer sets for {@link KEEPALIVE_PRESET}, taken from the layer itself. */
export function keepaliveChannelOptions(): grpc.ChannelOptions {
  const options = resilientOptions(LAYER_CONFIG);
  return Object.fromEntries(
    Object.entries(options).filter(([key]) => key.startsWith('grpc.keepalive_')),
  );
}

/**
 * What grpc-js itself offers for each of the layer's policies, set on the plain client:
 * - retries: a service-config `retryPolicy` for GetItem (the idempotent read the demo calls) with
 *   the layer's default attempts, backoff and codes, and grpc-js's own `retryThrottling` (gRFC A6)
 *   with the layer budget's 20% ratio;
 * - ejection: grpc-js's `outlier_detection` (gRFC A50) over round_robin, failure-percentage
 *   ejection at its default threshold (85% failed), ejecting for the layer's times (1 s, growing
 *   up to 30 s; grpc-js's defaults are 30 s and 300 s) and, like the layer, one host of three at a
 *   time (grpc-js's default 10%). Its other defaults do nothing here: `minimum_hosts` 5, and a 10 s
 *   interval needing 50 calls per host cannot act within a 5 s phase; so it counts 2 hosts, every
 *   1 s, from 10 calls. These are tuned in the plain client's favour, never the layer's.
 * There is no circuit breaker and no connect watchdog in grpc-js.
 */
export const PLAIN_SERVICE_CONFIG = Object.freeze({
  loadBalancingConfig: [
    {
      outlier_detection: {
        interval: { seconds: 1, nanos: 0 },
        base_ejection_time: { seconds: 1, nanos: 0 },
        max_ejection_time: { seconds: 30, nanos: 0 },
        failure_percentage_ejection: { minimum_hosts: 2, request_volume: 10 },
        child_policy: [{ round_robin: {} }],
      },
    },
  ],
  methodConfig: [
    {
      name: [{ service: TEST_SERVICE_NAME, method: TEST_METHODS.getItem.split('/').pop() }],
      retryPolicy: {
        maxAttempts: 5,
        initialBackoff: '0.1s',
        maxBackoff: '2s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'ABORTED'],
      },
    },
  ],
  retryThrottling: { maxTokens: 10, tokenRatio: 0.2 },
});

/** The plain grpc-js client's channel options: the same keepalive, and grpc-js's own policies. */
export function plainChannelOptions(): grpc.ChannelOptions {
  return {
    ...keepaliveChannelOptions(),
    'grpc.service_config': JSON.stringify(PLAIN_SERVICE_CONFIG),
  };
}

/** Both clients' configs in words, for the output and the README. */
export function describeConfigs(deadlineMs: number): string {
  const keepalive = Object.entries(keepaliveChannelOptions())
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  return [
    `both clients: the same 3 addresses, a ${deadlineMs} ms deadline on every call,`,
    `  keepalive preset "${KEEPALIVE_PRESET}" (${keepalive}), grpc-js defaults otherwise`,
    `grpc-resilience: createResilientClient(TestService, addresses, ${JSON.stringify(LAYER_CONFIG)}), defaults:`,
    ...LAYER_DEFAULTS.map((line) => `  ${line}`),
    'plain grpc-js: new TestService("ipv4:…", insecure, options) with the keepalive above and this service config',
    '  (grpc-js has no load-aware policy: round_robin):',
    '  retryPolicy for GetItem: 5 attempts, 0.1 s x2 up to 2 s (grpc-js jitters it +-20%),',
    '    on UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED',
    `  retryThrottling: { maxTokens: 10, tokenRatio: 0.2 }`,
    '  outlier_detection over round_robin: a host with >= 85% failed calls is ejected for 1 s, growing up to 30 s',
    "  (the layer's times), one host of 3 at a time; checked every 1 s over hosts with >= 10 calls, from 2 hosts",
    '  (grpc-js defaults: eject 30 s up to 300 s; every 10 s, >= 50 calls, 5 hosts: inert on 3 hosts in 5 s)',
    '  (grpc-js has no circuit breaker and no connect watchdog)',
  ].join('\n');
}
