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
    expect(load.cost(0)).toBe(10);
    load.inFlight = 3;
    expect(load.cost(0)).toBe(40);
  });
});
