import { MutableSource, registerAddressSource, unregisterAddressSource } from './index';
import { balancedClient, closeAll, load, startBackends, warmUp } from './lb-test.helper';

afterEach(closeAll);

it('slow start: an endpoint that joins later ramps up over the window instead of taking a full share at once', async () => {
  const group = await startBackends(3);
  const source = new MutableSource(group.slice(0, 2).map((b) => b.address));
  const target = registerAddressSource('lb-test-slow-start', source);
  try {
    const client = balancedClient(target, { slowStartMs: 3000 });
    await warmUp(client, group.slice(0, 2));
    source.set(group.map((b) => b.address));
    const joined = group[2];
    // Ready as soon as it answers once (its first calls are the ramp's 10%).
    const addedAt = Date.now();
    while (joined.counters.calls === 0 && Date.now() - addedAt < 3000) await load(client, 10, 2);
    for (const b of group) b.counters.reset();
    expect(await load(client, 300, 8)).toEqual([]);
    const early = joined.counters.calls;
    // A third would be 100; at 10-30% weight it gets far less.
    expect(early).toBeLessThan(300 * 0.2);
    await new Promise((resolve) => setTimeout(resolve, 3000 - (Date.now() - addedAt)));
    for (const b of group) b.counters.reset();
    expect(await load(client, 300, 8)).toEqual([]);
    expect(joined.counters.calls).toBeGreaterThan(early);
    expect(joined.counters.calls).toBeGreaterThan(300 * 0.15);
  } finally {
    unregisterAddressSource('lb-test-slow-start');
  }
});
