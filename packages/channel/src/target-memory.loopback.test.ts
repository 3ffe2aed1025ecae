import { connectivityState as ConnectivityState, status as Status } from '@grpc/grpc-js';
import { heldBalancerMemories } from '@grpc-resilience/load-balancer';
import {
  callUnary,
  loopbackFixture,
  testServiceClient,
  waitUntil,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createResilientClient } from './client-factory';

const loop = loopbackFixture(afterEach);

async function sequential(client: TestServiceClient, n: number): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i++)
    codes.push((await callUnary(client, 'GetItem', {}, { timeoutMs: 5000 })).status.code);
  return codes;
}

it("an ejection survives grpc-js rebuilding the balancer (idle, or the watchdog's fresh channel)", async () => {
  const backends = await Promise.all([
    loop.backend({ name: 'healthy' }),
    loop.backend({ name: 'sick' }),
  ]);
  const memoriesBefore = heldBalancerMemories();
  const client = loop.keep(
    createResilientClient(
      testServiceClient(),
      backends.map((b) => b.address),
      {
        retry: false,
        breaker: false,
        keepalive: { connectTimeoutMs: 300 },
        loadBalancing: {
          ejection: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionMs: 60_000 },
        },
        channelOptions: { 'grpc.client_idle_timeout_ms': 1000 },
      },
    ),
  );
  expect(heldBalancerMemories()).toBe(memoriesBefore + 1);
  const [healthy, sick] = backends;
  sick.behaviour = { failCode: Status.UNAVAILABLE };
  // Until the sick one has failed twice in a row: it is ejected for a minute.
  for (let i = 0; i < 20 && sick.counters.calls < 2; i++) await sequential(client, 1);
  expect(sick.counters.calls).toBe(2);
  sick.counters.reset();
  expect(await sequential(client, 10)).toEqual(Array(10).fill(Status.OK));
  expect(sick.counters.calls).toBe(0);

  // Idle: grpc-js destroys the balancer and builds a new one on the next call, as it does in
  // the fresh channel the connect watchdog opens for a stuck connection. Both read the memory
  // the shared channel holds under the name in their channel options.
  await waitUntil(
    () => client.getChannel().getConnectivityState(false) === ConnectivityState.IDLE,
    { timeoutMs: 5000 },
  );

  // The new channel's balancer remembers: the sick endpoint gets nothing, not 2 more failures.
  healthy.counters.reset();
  expect(await sequential(client, 20)).toEqual(Array(20).fill(Status.OK));
  expect(sick.counters.calls).toBe(0);
  expect(healthy.counters.calls).toBe(20);

  client.close();
  expect(heldBalancerMemories()).toBe(memoriesBefore);
});
