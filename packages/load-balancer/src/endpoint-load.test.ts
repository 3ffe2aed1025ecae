import { EndpointLoad } from './endpoint-load';
import { NetworkFloor } from './network-floor';

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

  it("with load reports: the server's time, not the time outside the server", () => {
    const now = { ms: 0 };
    const load = new EndpointLoad(() => now.ms);
    load.observe(14, 10_000, true, 0, 2); // 12 ms outside the server: queue or distance
    load.observe(30, 10_000, true, 1, 2); // a queued answer: the server's part is the same
    expect(load.latencyMs(0, 1)).toBeCloseTo(2, 6);
    // A report longer than the whole wait counts as the whole wait.
    load.observe(5, 10_000, true, 2, 50);
    expect(load.latencyMs(0, 2)).toBeCloseTo(5, 6); // a peak of the server's part
    // An answer without a report (a failure the client made up) is taken less the least time
    // outside the server seen lately (0 since the last report): on the same scale.
    load.observe(40, 10_000, false, 3);
    expect(load.latencyMs(0, 3)).toBe(40);
  });

  it('without any report, exactly the latency the client measures', () => {
    const load = new EndpointLoad(() => 0);
    load.observe(14, 1000, true, 0);
    load.inFlight = 3;
    const latency = load.latencyMs(0, 0);
    expect(latency).toBe(14);
    expect(load.queueMs(latency)).toBe(0);
    expect(load.cost(latency, load.queueMs(latency))).toBe(15 * 4);
  });

  it('the least time outside the server forgets an old minimum after one to two windows', () => {
    const floor = new NetworkFloor();
    expect(floor.known).toBe(false);
    floor.observe(1, 0, 1000);
    floor.observe(9, 500, 1000);
    floor.observe(12, 1000, 1000); // a new window: the previous one's 1 still counts
    expect(floor.ms).toBe(1);
    floor.observe(12, 2000, 1000); // the 1 is two windows old
    expect(floor.ms).toBe(12);
  });

  it("counts calls in flight less by the client's queue the compared endpoints share", () => {
    const load = new EndpointLoad(() => 0);
    load.observe(12, 1000, true, 0, 4); // measured 12, the server's 4
    load.inFlight = 9;
    const latency = load.latencyMs(0, 0);
    expect(latency).toBeCloseTo(4, 6);
    expect(load.queueMs(latency)).toBeCloseTo(8, 6);
    expect(load.cost(latency)).toBeCloseTo(5 * 10, 6); // no shared queue: today's cost
    // 8 of 12 ms shared: a third of the calls in flight are at the endpoint.
    expect(load.cost(latency, 8)).toBeCloseTo(5 * (9 / 3 + 1), 6);
  });
});
