import * as grpc from '@grpc/grpc-js';
import {
  BALANCED_BREAKER_OPTIONS,
  resolveCircuitBreakerOptions,
} from '@grpc-resilience/circuit-breaker';
import { circuitBreakerOf, createResilientClient } from '@grpc-resilience/channel';
import {
  testServiceClient,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { countStatuses } from './status-count';

// The two clients of issue 13's breaker rows, and what each really runs.
const TestService = testServiceClient();

export type ClientKind = 'raw grpc-js' | 'grpc-resilience';

export function describeLayer(): string {
  const b = resolveCircuitBreakerOptions(BALANCED_BREAKER_OPTIONS);
  return (
    `createResilientClient(TestService, [2 addresses]), every default: breaker outside the retry, ` +
    `balanced (opens at ${b.consecutiveFailures} in a row or > ${b.failureRate!.threshold * 100}% ` +
    `of the last ${b.failureRate!.windowSize}, at least ${b.failureRate!.minimumCalls}; ` +
    `application errors weigh ${b.applicationFailureWeight}; probes after ${b.halfOpenAfterMs} ms, ` +
    `x${b.halfOpenBackoffMultiplier} up to ${b.maxHalfOpenAfterMs} ms); retry, budget, ejection, ` +
    `keepalive: defaults; plus an outermost pass-through status counter`
  );
}
export const RAW_CONFIG =
  "new TestService('ipv4:a,b', insecure, round_robin service config); plus an outermost pass-through status counter";

export function makeClient(
  kind: ClientKind,
  backends: TestBackend[],
  row: { breakerOpens?: number },
): TestServiceClient {
  const addresses = backends.map((b) => b.address);
  if (kind === 'raw grpc-js') {
    return new TestService(`ipv4:${addresses.join(',')}`, grpc.credentials.createInsecure(), {
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
      interceptors: [countStatuses],
    });
  }
  const client = createResilientClient(TestService, addresses, { interceptors: [countStatuses] });
  const breaker = circuitBreakerOf(client);
  if (!breaker) throw new Error('the default stack has no breaker');
  row.breakerOpens ??= 0;
  breaker.onStateChange(({ to }) => {
    if (to === 'open') row.breakerOpens!++;
  });
  return client;
}
