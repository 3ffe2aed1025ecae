import { Metadata, status as Status } from '@grpc/grpc-js';
import { createRetryInterceptor } from '@grpc-resilience/retry';
import { methodsFromService } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callUnary,
  createTestClient,
  startTestBackend,
  testServiceClient,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { loadBalancingChannelOptions, type LoadBalancingOptions } from './index';

/*
 * Loopback helpers of the load-balancer's tests: backends and clients closed after each test,
 * a warm-up that reaches every backend, and a load of concurrent calls.
 */

export const backends: TestBackend[] = [];
export const clients: TestServiceClient[] = [];
/** Closes what the helpers opened; call from `afterEach`. */
export function closeAll(): void {
  for (const client of clients.splice(0)) client.close();
  for (const backend of backends.splice(0)) backend.kill();
}

export async function startBackends(n: number): Promise<TestBackend[]> {
  const started = await Promise.all(
    Array.from({ length: n }, (_, i) => startTestBackend({ name: `b${i}` })),
  );
  backends.push(...started);
  return started;
}

export const fastReconnect = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 500,
};

export function balancedClient(
  target: string,
  lb: LoadBalancingOptions = {},
  retry = false,
): TestServiceClient {
  const interceptors = retry
    ? [
        createRetryInterceptor({
          methods: methodsFromService(testServiceClient().service),
          initialBackoffMs: 5,
          maxBackoffMs: 20,
        }),
      ]
    : [];
  const client = createTestClient(target, {
    ...loadBalancingChannelOptions(lb),
    ...fastReconnect,
    interceptors,
  });
  clients.push(client);
  return client;
}

/** Calls until every backend has answered once: round-robin connects to all, not at once. */
export async function warmUp(client: TestServiceClient, group: TestBackend[]): Promise<void> {
  const deadline = Date.now() + 5000;
  while (group.some((b) => b.counters.calls === 0)) {
    if (Date.now() > deadline) throw new Error('backends never all answered');
    await callUnary(
      client,
      'GetItem',
      {},
      { metadata: new Metadata({ waitForReady: true }), timeoutMs: 1000 },
    );
  }
  for (const b of group) b.counters.reset();
}

/** `total` calls, `concurrency` at a time; returns the codes that were not OK. */
export async function load(
  client: TestServiceClient,
  total: number,
  concurrency = 20,
  behaviour = {},
): Promise<string[]> {
  let started = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        const outcome = await callUnary(
          client,
          'GetItem',
          {},
          { timeoutMs: 5000, metadata: behaviourMetadata(behaviour) },
        );
        if (outcome.status.code !== Status.OK)
          failures.push(`${outcome.status.code}: ${outcome.status.details}`);
      }
    }),
  );
  return failures;
}
