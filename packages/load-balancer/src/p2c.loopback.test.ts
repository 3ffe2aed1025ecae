import { Metadata, status as Status } from '@grpc/grpc-js';
import { AVOID_PEER_METADATA_KEY } from '@grpc-resilience/status';
import { behaviourMetadata, callUnary } from '@grpc-resilience/testing';
import { targetForAddresses } from './index';
import { balancedClient, closeAll, load, startBackends, warmUp } from './lb-test.helper';

afterEach(closeAll);

it('p2c (the default) sends few calls to a backend much slower than the others', async () => {
  const group = await startBackends(3);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)));
  await warmUp(client, group);
  // 100 ms against 2: on a loaded test machine the client's own event-loop lag (tens of ms)
  // is part of every measured latency and hides a 20 ms difference; the bench, with servers in
  // their own processes, measures 20 ms against 2.
  group[0].behaviour = { delayMs: 100 };
  group[1].behaviour = { delayMs: 2 };
  group[2].behaviour = { delayMs: 2 };
  expect(await load(client, 1500, 16)).toEqual([]);
  const [slow, ...fast] = group.map((b) => b.counters.calls);
  // Round-robin gives it a third (500); measured here: 21, 26 and 137 (1.4% to 9%).
  // Half of round-robin's share at most: the margin a loaded machine's event-loop lag needs.
  expect(slow).toBeLessThan(1500 / 3 / 2);
  for (const calls of fast) expect(calls).toBeGreaterThan(1500 * 0.3);
});

it('p2c prefers the endpoint with fewer calls in flight', async () => {
  const group = await startBackends(2);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)));
  await warmUp(client, group);
  // Twenty calls that hang on b0 (steered there by avoiding b1) load it; new calls go to b1.
  const hanging = Array.from({ length: 20 }, () =>
    callUnary(
      client,
      'GetItem',
      {},
      {
        timeoutMs: 3000,
        metadata: avoid(group[1].address, { delayMs: 800 }),
      },
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const b of group) b.counters.reset();
  expect(await load(client, 40, 4)).toEqual([]);
  // Not all 40: a latency peak b1 showed in warm-up can outweigh a few calls in flight.
  expect(group[1].counters.calls).toBeGreaterThanOrEqual(32);
  for (const outcome of await Promise.all(hanging)) expect(outcome.status.code).toBe(Status.OK);
});

it("a retry's avoid-peer advice skips the named endpoints while another is ready, and never fails a call", async () => {
  const group = await startBackends(3);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)));
  await warmUp(client, group);
  const avoided = avoid(group[0].address, {}, group[1].address);
  const outcomes = await Promise.all(
    Array.from({ length: 30 }, () =>
      callUnary(client, 'GetItem', {}, { timeoutMs: 3000, metadata: avoided }),
    ),
  );
  expect(outcomes.every((o) => o.status.code === Status.OK)).toBe(true);
  expect(group.map((b) => b.counters.calls)).toEqual([0, 0, 30]);
  const all = avoid(group[0].address, {}, group[1].address, group[2].address);
  for (const b of group) b.counters.reset();
  const advised = await Promise.all(
    Array.from({ length: 30 }, () =>
      callUnary(client, 'GetItem', {}, { timeoutMs: 3000, metadata: all }),
    ),
  );
  expect(advised.every((o) => o.status.code === Status.OK)).toBe(true);
  expect(group.reduce((sum, b) => sum + b.counters.calls, 0)).toBe(30);
});

/** Request metadata with the test backend's behaviour and avoid-peer values. */
function avoid(first: string, behaviour: object, ...more: string[]): Metadata {
  const metadata = behaviourMetadata(behaviour);
  for (const address of [first, ...more]) metadata.add(AVOID_PEER_METADATA_KEY, address);
  return metadata;
}
