import { status as Status } from '@grpc/grpc-js';
import {
  behaviourMetadata,
  callBidi,
  callServerStream,
  callUnary,
  startTestBackend,
  waitUntil,
} from '@grpc-resilience/testing';
import {
  MutableSource,
  registerAddressSource,
  targetForAddresses,
  unregisterAddressSource,
} from './index';
import { backends, balancedClient, closeAll, load, startBackends, warmUp } from './lb-test.helper';

afterEach(closeAll);

it('1. round_robin: 3 backends, 3000 calls after warm-up: each gets 1000 ± 10%', async () => {
  const group = await startBackends(3);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)), {
    policy: 'round_robin',
  });
  await warmUp(client, group);
  expect(await load(client, 3000)).toEqual([]);
  for (const b of group) {
    expect(b.counters.calls).toBeGreaterThanOrEqual(900);
    expect(b.counters.calls).toBeLessThanOrEqual(1100);
  }
});

it('2-3. a backend killed mid-load: 0 idempotent calls fail; restarted on its port, it serves again within 5 s', async () => {
  const group = await startBackends(3);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)), {}, true);
  await warmUp(client, group);
  const victim = group[2];
  const running = load(client, 1500, 20, { delayMs: 1 });
  await waitUntil(() => victim.counters.calls >= 100);
  victim.kill();
  expect(await running).toEqual([]);
  const survivors = group[0].counters.calls + group[1].counters.calls;
  expect(survivors).toBeGreaterThanOrEqual(1500 - victim.counters.calls);

  const revived = await startTestBackend({ name: 'b2-again', port: victim.port });
  backends.push(revived);
  const restartedAt = Date.now();
  while (revived.counters.calls === 0 && Date.now() - restartedAt < 5000) await load(client, 20, 5);
  expect(revived.counters.calls).toBeGreaterThan(0);
  expect(Date.now() - restartedAt).toBeLessThan(5000);
});

it('4. a registry: a 4th backend gets calls within 2 s; removed, it gets no new calls and its in-flight ones finish', async () => {
  const group = await startBackends(4);
  const source = new MutableSource(group.slice(0, 3).map((b) => b.address));
  const target = registerAddressSource('lb-test-registry', source);
  try {
    const client = balancedClient(target);
    await warmUp(client, group.slice(0, 3));
    source.set(group.map((b) => b.address));
    const addedAt = Date.now();
    while (group[3].counters.calls === 0 && Date.now() - addedAt < 2000) await load(client, 8, 4);
    expect(group[3].counters.calls).toBeGreaterThan(0);

    const inFlight = Array.from({ length: 8 }, () =>
      callUnary(
        client,
        'GetItem',
        {},
        { timeoutMs: 5000, metadata: behaviourMetadata({ delayMs: 300 }) },
      ),
    );
    await waitUntil(() => group[3].counters.records.some((r) => Date.now() - r.at < 300));
    source.set(group.slice(0, 3).map((b) => b.address));
    const outcomes = await Promise.all(inFlight);
    expect(outcomes.map((o) => o.status.code)).toEqual(Array(8).fill(Status.OK));
    const before = group[3].counters.calls;
    expect(await load(client, 300)).toEqual([]);
    expect(group[3].counters.calls).toBe(before);
  } finally {
    unregisterAddressSource('lb-test-registry');
  }
});

it('5. a backend failing everything on healthy TCP is ejected after at most 5 failures, then readmitted by a probe', async () => {
  const group = await startBackends(3);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)), {
    ejection: { consecutiveFailures: 5, baseEjectionMs: 300, maxEjectionMs: 300 },
  });
  await warmUp(client, group);
  const sick = group[1];
  sick.behaviour = { failCode: Status.UNAVAILABLE };
  await load(client, 60, 1); // sequential: the 5th failure ejects it
  const failuresBeforeEjection = sick.counters.calls;
  expect(failuresBeforeEjection).toBeLessThanOrEqual(6);
  sick.counters.reset();
  const failures = await load(client, 400, 10);
  // While ejected it sees only probes: one per ejection period.
  expect(sick.counters.calls).toBeLessThan(400 * 0.01 + 4);
  expect(failures.length).toBe(sick.counters.calls);

  sick.behaviour = {};
  const healedAt = Date.now();
  while (Date.now() - healedAt < 3000 && sick.counters.calls < 20) await load(client, 30, 3);
  expect(sick.counters.calls).toBeGreaterThanOrEqual(20); // back in the rotation
});

it('5. with 2 of 2 backends failing, no more than the configured share is ejected', async () => {
  const group = await startBackends(2);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)), {
    ejection: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectedShare: 0.5 },
  });
  await warmUp(client, group);
  for (const b of group) b.behaviour = { failCode: Status.UNAVAILABLE };
  await load(client, 40, 1);
  for (const b of group) b.counters.reset();
  await load(client, 100, 5);
  // One may be ejected (half of 2); the other still takes every call: calls are never refused locally.
  const calls = group.map((b) => b.counters.calls).sort((a, b) => a - b);
  expect(calls[0] + calls[1]).toBe(100);
  expect(calls[1]).toBeGreaterThanOrEqual(50);
});

it('6. round_robin: server streams and bidi streams spread across backends too', async () => {
  const group = await startBackends(3);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)), {
    policy: 'round_robin',
  });
  await warmUp(client, group);
  const streams = await Promise.all([
    ...Array.from({ length: 30 }, () =>
      callServerStream(client, 'ListItems', { count: 2 }, { timeoutMs: 5000 }),
    ),
    ...Array.from({ length: 30 }, () =>
      callBidi(client, 'SyncItems', [{ id: 'a' }], { timeoutMs: 5000 }),
    ),
  ]);
  expect(streams.every((s) => s.status.code === Status.OK)).toBe(true);
  const served = new Set(streams.map((s) => s.messages[0].backend));
  expect(served).toEqual(new Set(['b0', 'b1', 'b2']));
  // p2c weighs each endpoint's latency estimate too, so the split is not even: each backend
  // still holds a fair part of the 60 streams.
  for (const b of group)
    expect(
      b.counters.callsOf('ListItems') + b.counters.callsOf('SyncItems'),
    ).toBeGreaterThanOrEqual(10);
});
