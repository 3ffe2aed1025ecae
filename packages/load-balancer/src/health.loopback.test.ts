import { HealthImplementation } from 'grpc-health-check';
import { targetForAddresses } from './index';
import { balancedClient, closeAll, load, startBackends, warmUp } from './lb-test.helper';

afterEach(closeAll);

/** Three test backends, each also serving grpc-health-check's Health service. */
async function healthChecked() {
  const group = await startBackends(3);
  const health = group.map((backend) => {
    const implementation = new HealthImplementation({ orders: 'SERVING' });
    implementation.addToServer(backend.server);
    return implementation;
  });
  return { group, health };
}

it('A17: an endpoint NOT_SERVING by its health service gets no calls, and gets them again once SERVING', async () => {
  const { group, health } = await healthChecked();
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)), {
    healthCheck: { serviceName: 'orders' },
  });
  await warmUp(client, group);
  health[1].setStatus('orders', 'NOT_SERVING');
  const changedAt = Date.now();
  // Rounds of calls until one reaches it no more: the watch has answered.
  do {
    group[1].counters.reset();
    expect(await load(client, 30, 3)).toEqual([]);
  } while (group[1].counters.calls > 0 && Date.now() - changedAt < 3000);
  expect(Date.now() - changedAt).toBeLessThan(3000);
  for (const b of group) b.counters.reset();
  expect(await load(client, 300, 8)).toEqual([]);
  expect(group[1].counters.calls).toBe(0);
  expect(group[0].counters.calls + group[2].counters.calls).toBe(300);

  health[1].setStatus('orders', 'SERVING');
  const until = Date.now() + 3000;
  while (group[1].counters.calls < 20 && Date.now() < until) await load(client, 30, 3);
  expect(group[1].counters.calls).toBeGreaterThanOrEqual(20);
});

it("A17: a new client's first calls wait for the first health answers instead of failing", async () => {
  const { group } = await healthChecked();
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)), {
    healthCheck: { serviceName: 'orders' },
  });
  // No warm-up, no waitForReady: the connections become READY before the watches answer, and
  // an endpoint whose health is not known yet is still connecting, not failing.
  expect(await load(client, 30, 10)).toEqual([]);
});

it('panic threshold: with 2 of 3 NOT_SERVING, calls stay on the one left (default 0), or spread over all three (0.5)', async () => {
  const { group, health } = await healthChecked();
  const target = targetForAddresses(group.map((b) => b.address));
  const strict = balancedClient(target, { healthCheck: { serviceName: 'orders' } });
  const panicking = balancedClient(target, {
    healthCheck: { serviceName: 'orders' },
    panicThreshold: 0.5,
  });
  await warmUp(panicking, group);
  await warmUp(strict, group);
  health[0].setStatus('orders', 'NOT_SERVING');
  health[1].setStatus('orders', 'NOT_SERVING');
  await new Promise((resolve) => setTimeout(resolve, 200)); // the watches answer
  for (const b of group) b.counters.reset();
  expect(await load(strict, 100, 4)).toEqual([]);
  expect(group.map((b) => b.counters.calls)).toEqual([0, 0, 100]);
  for (const b of group) b.counters.reset();
  expect(await load(panicking, 300, 8)).toEqual([]);
  for (const b of group) expect(b.counters.calls).toBeGreaterThan(20);
});

it('a server without the health service (UNIMPLEMENTED) is taken as healthy, as A17 says', async () => {
  const group = await startBackends(2);
  const client = balancedClient(targetForAddresses(group.map((b) => b.address)), {
    healthCheck: { serviceName: 'orders' },
  });
  await warmUp(client, group);
  expect(await load(client, 100, 4)).toEqual([]);
  for (const b of group) expect(b.counters.calls).toBeGreaterThan(10);
});
