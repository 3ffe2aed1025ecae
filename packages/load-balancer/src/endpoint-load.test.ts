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

  it("with load reports: the mean of the server's time, not the time outside the server", () => {
    const now = { ms: 0 };
    const load = new EndpointLoad(() => now.ms);
    load.observe(14, 10_000, true, 0, 2); // 12 ms outside the server: queue or distance
    load.observe(30, 10_000, true, 1, 2); // a queued answer: the server's part is the same
    expect(load.latencyMs(0, 1)).toBeCloseTo(2, 6);
    // A report longer than the whole wait counts as the whole wait; it is one sample of three
    // (no peak rule with reports).
    load.observe(5, 10_000, true, 2, 50);
    expect(load.latencyMs(0, 2)).toBeCloseTo((2 + 2 + 5) / 3, 6);
    // An answer without a report (a failure the client made up) is taken less the least time
    // outside the server seen lately (0 since the last report): on the same scale, and being a
    // failure slower than the estimate, it raises it by its weight (one of four).
    load.observe(40, 10_000, false, 3);
    expect(load.latencyMs(0, 3)).toBeCloseTo(3 * 0.75 + 40 * 0.25, 6);
  });

  it('with load reports, one slow call among many fast ones moves the estimate by its weight, not to its time', () => {
    // A late timer or a GC pause in a fast backend: the peak rule made one such call the
    // estimate for seconds, as slow as a backend ten times slower (issue 14's bench).
    const now = { ms: 0 };
    const load = new EndpointLoad(() => now.ms);
    for (let i = 0; i < 1000; i++) load.observe(12, 10_000, true, (now.ms = i), 2);
    load.observe(30, 10_000, true, (now.ms = 1000), 20);
    expect(load.latencyMs(0, 1000)).toBeLessThan(2.1); // the peak rule: 20
    // A server that turns slow moves it within its decay time (and at once through its calls
    // in flight, which `cost` counts).
    for (let t = 1001; t <= 11_000; t++) load.observe(30, 10_000, true, (now.ms = t), 20);
    expect(load.latencyMs(0, 11_000)).toBeGreaterThan(12);
  });

  it("a cold start's first slow call weighs as one sample, not as a decay time of history", () => {
    // Without reports (the peak EWMA): a fresh connection's first call took 600 ms, the next
    // 999 took 2 ms each, one per ms. Time weights alone left 600 x e^-0.1 (543 ms); the
    // EWMA starts as the plain mean of its samples until they span the decay time.
    const now = { ms: 0 };
    const load = new EndpointLoad(() => now.ms);
    load.observe(600, 10_000, true, 0);
    for (let i = 1; i < 1000; i++) load.observe(2, 10_000, true, (now.ms = i));
    expect(load.latencyMs(0, 999)).toBeCloseTo((600 + 999 * 2) / 1000, 6);
    // After that, a slower call is still a peak: taken whole.
    load.observe(50, 10_000, true, (now.ms = 1000));
    expect(load.latencyMs(0, 1000)).toBe(50);
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
