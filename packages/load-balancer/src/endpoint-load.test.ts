import { EndpointLoad } from './endpoint-load';

describe('EndpointLoad (peak EWMA)', () => {
  it('jumps to a slower observation at once and decays toward faster ones with time', () => {
    const now = { ms: 0 };
    const load = new EndpointLoad(() => now.ms);
    expect(load.latencyMs(7)).toBe(7); // unobserved: the fallback
    load.observe(2, 1000);
    expect(load.latencyMs(7)).toBe(2);
    now.ms = 10;
    load.observe(50, 1000); // a peak: taken whole
    expect(load.latencyMs(0)).toBe(50);
    now.ms = 1010; // one time constant later, a fast answer pulls it 63% of the way
    load.observe(2, 1000);
    expect(load.latencyMs(0)).toBeCloseTo(50 * Math.exp(-1) + 2 * (1 - Math.exp(-1)), 6);
  });

  it('decays while idle: a backend that was slow and drew no calls earns them back', () => {
    const now = { ms: 0 };
    const load = new EndpointLoad(() => now.ms);
    load.observe(1500, 10_000); // a slow phase: every deadline missed
    expect(load.latencyMs(0)).toBe(1500);
    now.ms = 30_000; // three time constants with no call there
    expect(load.latencyMs(0)).toBeCloseTo(1500 * Math.exp(-3), 6); // ~75 ms
    now.ms = 60_000;
    expect(load.latencyMs(0)).toBeLessThan(4); // as cheap as a healthy 2 ms backend, near enough
  });

  it('a failed call may raise the estimate, never lower it', () => {
    const now = { ms: 0 };
    const load = new EndpointLoad(() => now.ms);
    load.observe(20, 1000);
    now.ms = 5000;
    load.observe(1, 1000, false);
    expect(load.latencyMs(0)).toBe(20);
    load.observe(40, 1000, false);
    expect(load.latencyMs(0)).toBe(40);
  });

  it('costs latency times the calls it would wait behind', () => {
    const load = new EndpointLoad(() => 0);
    load.observe(9, 1000);
    expect(load.cost(load.latencyMs(0))).toBe(10);
    load.inFlight = 3;
    expect(load.cost(load.latencyMs(0))).toBe(40);
  });

  it("with load reports: the server's time plus the least time outside it, not the client's queue", () => {
    const now = { ms: 0 };
    const load = new EndpointLoad(() => now.ms);
    load.observe(14, 10_000, true, 0, 2); // 12 ms outside the server: queue or distance
    now.ms = 1;
    load.observe(3, 10_000, true, 1, 2); // the least of it: 1 ms
    now.ms = 2;
    load.observe(30, 10_000, true, 2, 2); // a queued answer moves neither the floor nor the EWMA
    expect(load.latencyMs(0, 2)).toBeCloseTo(3, 6);
    // A report longer than the whole wait counts as the whole wait: the floor becomes 0.
    load.observe(5, 10_000, true, 3, 50);
    expect(load.latencyMs(0, 3)).toBeCloseTo(5, 6); // 5 is a peak of the server's part
    // An answer without a report is taken less the floor (0 now): today's rule.
    load.observe(40, 10_000, true, 4);
    expect(load.latencyMs(0, 4)).toBe(40);
  });

  it('the floor forgets an old minimum after one to two windows', () => {
    const load = new EndpointLoad(() => 0);
    load.observe(2, 1000, true, 0, 2); // floor 0
    load.observe(12, 1000, true, 1000, 2); // a new window: floor still 0 (the previous one)
    expect(load.latencyMs(0, 1000)).toBeCloseTo(2, 6);
    load.observe(12, 1000, true, 2000, 2); // the 0 is two windows old
    expect(load.latencyMs(0, 2000)).toBeCloseTo(12, 6);
  });

  it("counts calls in flight less by the client's queue the compared endpoints share", () => {
    const load = new EndpointLoad(() => 0);
    load.observe(12, 1000, true, 0, 2); // measured 12, the server's 2, floor 10
    load.observe(4, 1000, true, 0, 2); // floor 2: latency 4, measured still 12 (no time passed)
    load.inFlight = 9;
    const latency = load.latencyMs(0, 0);
    expect(latency).toBeCloseTo(4, 6);
    expect(load.queueMs(latency)).toBeCloseTo(8, 6);
    expect(load.cost(latency)).toBeCloseTo(5 * 10, 6); // no shared queue: today's cost
    // 8 of 12 ms shared: a third of the calls in flight are at the endpoint.
    expect(load.cost(latency, 8)).toBeCloseTo(5 * (9 / 3 + 1), 6);
  });
});
