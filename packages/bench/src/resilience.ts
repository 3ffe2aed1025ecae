import * as grpc from '@grpc/grpc-js';
import { circuitBreakerOf, createResilientClient } from '@grpc-resilience/channel';
import {
  behaviourMetadata,
  callUnary,
  startTestBackend,
  testServiceClient,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { percentile } from './measure';

export interface ScenarioRow {
  scenario: string;
  client: string;
  calls: number;
  succeeded: number;
  /** Attempts that reached a server, per call. */
  attemptsPerCall: number;
  p50Ms: number;
  p99Ms: number;
  /** Calls that ended more than 50 ms after their deadline. */
  late: number;
}

const TestService = testServiceClient();
/** This table's layer is not the default stack: the row label says what changed. */
const LAYER_CHANGED = 'grpc-resilience (breaker off, backoff 5-50 ms)';

async function drive(
  client: TestServiceClient,
  calls: number,
  concurrency: number,
  deadlineMs: number,
  hang = false,
) {
  const latencies: number[] = [];
  let succeeded = 0;
  let late = 0;
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < calls) {
        started++;
        const options = {
          timeoutMs: deadlineMs,
          metadata: hang ? behaviourMetadata({ hang: true }) : undefined,
        };
        const outcome = await callUnary(client, 'GetItem', {}, options);
        latencies.push(outcome.durationMs);
        if (outcome.status.code === grpc.status.OK) succeeded++;
        if (outcome.durationMs > deadlineMs + 50) late++;
      }
    }),
  );
  return { latencies, succeeded, late };
}

type Scenario = {
  name: string;
  backends: number;
  /** Sets the fault up; returns what to do after the calls started, if anything. */
  setUp: (backends: TestBackend[]) => void | (() => void);
  hang?: boolean;
};

// The 20% and total-outage rows moved to retry-faults.ts, where they run the real default stack.
const SCENARIOS: Scenario[] = [
  {
    name: '1 of 3 backends killed mid-load',
    backends: 3,
    setUp: (bs) => () => setTimeout(() => bs[2].kill(), 100),
  },
  { name: 'hanging backend, 200 ms deadline', backends: 1, setUp: () => undefined, hang: true },
];

/** The same traffic through raw grpc-js and through the layer, under each fault. */
export async function runResilience(
  calls: number,
): Promise<{ rows: ScenarioRow[]; breakerOpenP99Ms: number; breakerOpenP50Ms: number }> {
  const rows: ScenarioRow[] = [];
  for (const scenario of SCENARIOS) {
    for (const clientName of ['raw grpc-js', LAYER_CHANGED]) {
      const backends = await Promise.all(
        Array.from({ length: scenario.backends }, (_, i) => startTestBackend({ name: `b${i}` })),
      );
      const addresses = backends.map((b) => b.address);
      const client: TestServiceClient =
        clientName === 'raw grpc-js'
          ? new TestService(`ipv4:${addresses.join(',')}`, grpc.credentials.createInsecure(), {
              'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
            })
          : createResilientClient(TestService, addresses, {
              breaker: false,
              retry: { initialBackoffMs: 5, maxBackoffMs: 50 },
            });
      await drive(client, 20, 4, 1000); // connect
      for (const b of backends) b.counters.reset();
      const after = scenario.setUp(backends);
      after?.();
      const deadlineMs = scenario.hang ? 200 : 2000;
      const result = await drive(client, calls, 20, deadlineMs, scenario.hang);
      const attempts = backends.reduce((sum, b) => sum + b.counters.calls, 0);
      rows.push({
        scenario: scenario.name,
        client: clientName,
        calls,
        succeeded: result.succeeded,
        attemptsPerCall: attempts / calls,
        p50Ms: percentile(result.latencies, 50),
        p99Ms: percentile(result.latencies, 99),
        late: result.late,
      });
      client.close();
      for (const b of backends) b.kill();
    }
  }
  const breaker = await measureOpenBreaker();
  return { rows, ...breaker };
}

/** Latency of calls refused by an open circuit. */
async function measureOpenBreaker() {
  const backend = await startTestBackend();
  backend.behaviour = { failCode: grpc.status.UNAVAILABLE };
  const client = createResilientClient(TestService, backend.address, {
    retry: false,
    breaker: { consecutiveFailures: 5, halfOpenAfterMs: 60_000 },
  });
  for (let i = 0; i < 5; i++) await callUnary(client, 'GetItem', {});
  if (circuitBreakerOf(client)?.stateOf() !== 'open') throw new Error('the breaker did not open');
  const latencies: number[] = [];
  for (let i = 0; i < 2000; i++)
    latencies.push((await callUnary(client, 'GetItem', {})).durationMs);
  client.close();
  backend.kill();
  return {
    breakerOpenP50Ms: percentile(latencies, 50),
    breakerOpenP99Ms: percentile(latencies, 99),
  };
}
