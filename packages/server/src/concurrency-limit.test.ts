import { ConcurrencyLimit } from './concurrency-limit';
import {
  resolveConcurrencyLimitOptions,
  type ConcurrencyLimitOptions,
} from './concurrency-limit-options';

function limiter(options: ConcurrencyLimitOptions = {}) {
  const resolved = resolveConcurrencyLimitOptions(
    {
      windowMs: 100,
      minWindowSamples: 5,
      eventLoopDelayMs: 0,
      minLimit: 1,
      latencySlackMs: 0,
      ...options,
    },
    'admission',
  );
  return new ConcurrencyLimit(resolved, 0);
}

/** One window of 10 calls of `latencyMs`, with `inFlight` in flight throughout. */
function window(
  limit: ConcurrencyLimit,
  start: number,
  latencyMs: number,
  inFlight: number,
  loopDelayMs = 0,
) {
  limit.onAdmit(inFlight, start);
  for (let i = 1; i <= 10; i++)
    limit.onSample(latencyMs, start + i * 10, inFlight, () => loopDelayMs);
}

describe('ConcurrencyLimit', () => {
  it('defaults: 20 to start, 4 to 10000, tolerance 1.25; a minLimit over 20 raises the start', () => {
    const resolved = resolveConcurrencyLimitOptions(undefined, 'admission');
    expect(resolved).toMatchObject({ initialLimit: 20, minLimit: 4, maxLimit: 10_000 });
    expect(resolved.latencyTolerance).toBe(1.25);
    expect(resolveConcurrencyLimitOptions({ minLimit: 50 }, 'admission').initialLimit).toBe(50);
  });

  it('never moves while the calls in flight stay under half the limit and latency within 2x tolerance', () => {
    const limit = limiter({ initialLimit: 100 });
    window(limit, 0, 1, 3);
    for (let w = 1; w < 50; w++) window(limit, w * 100, w % 2 ? 3.9 : 1, 40);
    expect(limit.limit).toBe(100);
  });

  it('a window whose calls in flight stayed under 3/4 of the limit never shrinks it, however slow or late', () => {
    const limit = limiter({ initialLimit: 100, eventLoopDelayMs: 40 });
    window(limit, 0, 2, 1);
    window(limit, 100, 100, 60); // slow calls, 60 of 100 in flight: holds
    expect(limit.limit).toBe(100);
    window(limit, 200, 100, 74, 500); // the event loop late too, but under 3/4 of the limit
    expect(limit.limit).toBe(100);
    // A burst that reaches the limit for a moment (a stall's backlog) is not saturation either.
    limit.onAdmit(100, 300);
    limit.onSample(100, 302, 10, () => 500);
    for (let i = 1; i <= 10; i++) limit.onSample(100, 300 + i * 10, 10, () => 500);
    expect(limit.limit).toBe(100);
    window(limit, 400, 100, 80, 500); // 80 in flight throughout: saturated, and slow
    expect(limit.limit).toBe(50);
  });

  it('halves at most per window while latency is past tolerance and the limit is held full', () => {
    const limit = limiter({ initialLimit: 100, latencyTolerance: 2 });
    window(limit, 0, 2, 10); // unloaded: 2 ms
    window(limit, 100, 40, 100); // 20x slower, limit full
    expect(limit.limit).toBe(50);
    for (let w = 2; w < 40; w++) window(limit, w * 100, 40, limit.limit);
    expect(limit.limit).toBe(1);
  });

  it('doubles while in use until the first window past tolerance, then grows by one', () => {
    const limit = limiter({ initialLimit: 4, maxLimit: 100 });
    window(limit, 0, 2, 4);
    expect(limit.limit).toBe(8);
    window(limit, 100, 2, 8);
    expect(limit.limit).toBe(16);
    window(limit, 200, 2, 4); // not in use: stays
    expect(limit.limit).toBe(16);
    window(limit, 300, 10, 16); // past tolerance: shrinks, and slow start is over
    expect(limit.limit).toBe(8);
    window(limit, 400, 2, 8);
    expect(limit.limit).toBe(9);
    for (let w = 5; w < 200; w++) window(limit, w * 100, 2.4, limit.limit);
    expect(limit.limit).toBe(100); // up to maxLimit
  });

  it('slow start ends at a window whose slowest call waited past the target, median or not', () => {
    // 8 calls at the unloaded 50 ms and 2 that queued behind them (100 ms): the median is fine.
    const run = (inFlight: number) => {
      const limit = limiter({ initialLimit: 20, maxLimit: 1000 });
      limit.onAdmit(inFlight, 0);
      for (let i = 1; i <= 8; i++) limit.onSample(50, 50, inFlight, () => 0);
      limit.onSample(100, 100, inFlight, () => 0);
      limit.onSample(100, 100, inFlight, () => 0);
      return limit.limit;
    };
    expect(run(12)).toBe(21); // in use, not held full: grown by one, not doubled
    // Held full: the queue is already there. The completions from the first to the last carry
    // 10 calls in flight at 62.5 ms (Little's law), the half of 20.
    expect(run(20)).toBe(10);
  });

  it("shrinks to what the completions carry at the target latency (Little's law)", () => {
    // 10 ms unloaded; then held full with completions every ms: the server's capacity is 1 per
    // ms, and 12.5 ms (the target) of it is 12 calls in flight.
    const limit = limiter({ initialLimit: 64 });
    const busyWindow = (start: number, latencyMs: number, inFlight: number) => {
      limit.onAdmit(inFlight, start);
      for (let i = 1; i <= 100; i++) limit.onSample(latencyMs, start + i, inFlight, () => 0);
    };
    busyWindow(0, 10, 8);
    busyWindow(100, 64, 64);
    expect(limit.limit).toBe(32); // at most halved
    busyWindow(200, 32, 32);
    expect(limit.limit).toBe(16);
    busyWindow(300, 16, 16);
    expect(limit.limit).toBe(12);
    for (let w = 4; w < 20; w++) busyWindow(w * 100, 12, 12);
    expect(limit.limit).toBe(12); // at the target, held full: neither shrinks nor grows
  });

  it('shrinks on event-loop delay past its threshold even when latency looks fine', () => {
    const limit = limiter({ initialLimit: 100, eventLoopDelayMs: 50 });
    window(limit, 0, 2, 60, 10);
    expect(limit.limit).toBeGreaterThan(100);
    const before = limit.limit;
    window(limit, 100, 2, before, 200);
    expect(limit.limit).toBe(Math.floor(before / 2));
  });

  it('latency within latencySlackMs of the unloaded is no queue, whatever the ratio', () => {
    const limit = limiter({ initialLimit: 20, latencySlackMs: 5 });
    window(limit, 0, 2, 20); // unloaded 2 ms; grows
    expect(limit.limit).toBe(40);
    window(limit, 100, 6.9, 24); // in use, 3.5x, but within 5 ms: still grows
    expect(limit.limit).toBe(80);
    window(limit, 200, 20, 80); // 10x and 18 ms more: shrinks
    expect(limit.limit).toBe(40);
  });

  it("the machine's shared lateness raises the target: a window it slowed does not shrink the limit", () => {
    const run = (sharedMs: number) => {
      const limit = limiter({ initialLimit: 20, latencySlackMs: 5 });
      window(limit, 0, 5, 20); // unloaded 5 ms
      limit.onAdmit(40, 100);
      for (let i = 1; i <= 10; i++)
        limit.onSample(
          12,
          100 + i * 10,
          40,
          () => 0,
          () => sharedMs,
        ); // 7 ms late: past 5 ms of slack
      return limit.limit;
    };
    expect(run(0)).toBeLessThan(40);
    expect(run(4)).toBe(40); // within 5 ms of slack plus 4 shared: held
  });

  it('latency no higher than far from the limit is no queue: a busy machine keeps its limit', () => {
    // 5 ms calls that a busy machine makes take 12 (its timers late), whatever is in flight.
    const limit = limiter({ initialLimit: 20, latencySlackMs: 5 });
    window(limit, 0, 5, 2);
    for (let w = 1; w <= 30; w++) window(limit, w * 100, 12, 4); // 4 of 20: far from it
    expect(limit.limit).toBe(20);
    // Then windows held at the limit, just as slow: no sign of a queue, so it holds.
    for (let w = 31; w <= 33; w++) window(limit, w * 100, 12, limit.limit);
    expect(limit.limit).toBe(20);
    // Before, against the least latency alone (5 ms + 5 of slack), each of them shrank it.
    const before = limit.limit;
    window(limit, 3400, 30, before); // 2.5x the typical 12 ms, at the limit: a queue
    expect(limit.limit).toBeLessThan(before);
  });

  it('the typical latency is learnt only far from the limit, so an overload does not teach it its queue', () => {
    const limit = limiter({ initialLimit: 40, latencySlackMs: 5 });
    window(limit, 0, 10, 2);
    for (let w = 1; w <= 50; w++) window(limit, w * 100, 40, limit.limit); // queued, at the limit
    expect(limit.limit).toBeLessThanOrEqual(5); // 4x the typical 10 ms: shrunk all the way
  });

  it('after a passing overload it doubles back to the limit it had, then grows by one', () => {
    const limit = limiter({ initialLimit: 20, latencySlackMs: 5 });
    window(limit, 0, 5, 4); // 5 ms, 4 of 20 in flight
    window(limit, 100, 50, 20); // held full and 10x slower: shrinks to half
    expect(limit.limit).toBe(10);
    window(limit, 200, 5, 6); // the overload over: in use, far from full, fast again
    expect(limit.limit).toBe(20);
    window(limit, 300, 5, 12);
    expect(limit.limit).toBe(21);
    // Held full at the new limit (the overload lasts), it never jumps back later.
    const held = limiter({ initialLimit: 20, latencySlackMs: 5 });
    window(held, 0, 5, 4);
    window(held, 100, 50, 20);
    window(held, 200, 5, 10); // held full, within half the tolerance: by one, overload confirmed
    window(held, 300, 5, 6);
    expect(held.limit).toBe(12);
  });

  it("a stall's backlog is admitted past the limit until it drains, and moves nothing", () => {
    const limit = limiter({ initialLimit: 20, latencySlackMs: 5 });
    for (let w = 0; w < 3; w++) window(limit, w * 100, 5, 4); // 0.1 calls per ms, 4 in flight
    expect(limit.limit).toBe(20);
    // Stood still 100 ms: about 10 calls arrived meanwhile (20 with three deviations of room).
    limit.onStall(100, 400);
    expect(limit.limit).toBe(40);
    limit.onAdmit(36, 401); // the backlog, past the limit
    for (let i = 1; i <= 12; i++) limit.onSample(60, 401 + i * 10, 36 - i, () => 0); // queued
    expect(limit.limit).toBe(40); // still draining: 24 in flight
    limit.onSample(60, 540, 10, () => 0); // back to half the limit: drained
    expect(limit.limit).toBe(20);
    // Its window, slow and over the limit, neither shrank the limit nor taught it anything.
    window(limit, 600, 5, 4);
    expect(limit.limit).toBe(20);
  });

  it('no backlog room when the window so far ran full: an overload began since the last', () => {
    const limit = limiter({ initialLimit: 20, latencySlackMs: 5 });
    for (let w = 0; w < 3; w++) window(limit, w * 100, 5, 4); // quiet: 4 of 20
    limit.onAdmit(20, 300); // then 20 in flight for 30 ms, 3 completions
    for (let i = 1; i <= 3; i++) limit.onSample(5, 300 + i * 10, 20, () => 0);
    limit.onStall(100, 400);
    expect(limit.limit).toBe(20);
  });

  it('the backlog room stops at maxLimit', () => {
    const limit = limiter({ initialLimit: 20, maxLimit: 25, latencySlackMs: 5 });
    for (let w = 0; w < 3; w++) window(limit, w * 100, 5, 4);
    limit.onStall(100, 400);
    expect(limit.limit).toBe(25);
  });

  it('no backlog room after a saturated window, and none left if the backlog never came', () => {
    const limit = limiter({ initialLimit: 20, latencySlackMs: 5 });
    for (let w = 0; w < 3; w++) window(limit, w * 100, 5, 4);
    limit.onStall(50, 300);
    expect(limit.limit).toBeGreaterThan(20);
    limit.onSample(5, 400, 3, () => 0); // 50 ms after the stall's end, never past the limit
    expect(limit.limit).toBe(20);
    window(limit, 400, 8, 20); // ends the stall's window, which counts for nothing
    window(limit, 500, 8, 20); // held full, within the target but not by half: holds
    limit.onStall(100, 600);
    expect(limit.limit).toBe(20);
  });

  /** Arrivals every `everyMs` from `from` to `to` (ms), none of them held. */
  function arrivals(limit: ConcurrencyLimit, from: number, to: number, everyMs: number) {
    for (let t = from; t < to; t += everyMs) limit.onArrival(t);
  }

  it('a burst that makes up for a gap in arrivals comes in past the limit; a rise does not', () => {
    const limit = limiter({ initialLimit: 20 });
    arrivals(limit, 0, 3000, 2); // 0.5 calls per ms for 3 s
    // Nothing for 200 ms (a client's pause), then the 100 calls it held back at once.
    for (let i = 0; i < 100; i++) limit.onArrival(3200);
    expect(limit.admitsBurst(20, 3200)).toBe(true);
    // Room for the 100 missing calls, and two standard deviations (20) more.
    expect(limit.limit).toBeGreaterThanOrEqual(20 + 100);
    expect(limit.limit).toBeLessThanOrEqual(20 + 200);
    // It lasts while they drain.
    limit.onAdmit(21, 3200);
    expect(limit.admitsBurst(100, 3201)).toBe(true);
    expect(limit.admitsBurst(limit.limit, 3201)).toBe(false);
    // A sheddable call (three quarters of the limit) stays under its share of the room too.
    expect(limit.admitsBurst(limit.limit - 1, 3201, 0.75)).toBe(false);
    expect(limit.admitsBurst(Math.floor(limit.limit * 0.75) - 10, 3201, 0.75)).toBe(true);

    const rise = limiter({ initialLimit: 20 });
    arrivals(rise, 0, 3000, 2);
    // No gap: 100 calls more than the rate brings, at once, is new demand.
    for (let i = 0; i < 100; i++) rise.onArrival(3000);
    expect(rise.admitsBurst(20, 3000)).toBe(false);
  });

  it('no burst room without a rate to compare with, nor while saturated, nor past maxLimit', () => {
    const cold = limiter({ initialLimit: 20 });
    for (let i = 0; i < 30; i++) cold.onArrival(50); // a first burst: nothing known yet
    expect(cold.admitsBurst(20, 50)).toBe(false);

    const full = limiter({ initialLimit: 20, latencySlackMs: 5 });
    arrivals(full, 0, 3000, 2);
    window(full, 0, 4, 2);
    // Held full at 7 ms: saturated, within the target (9 ms), not within half of it: holds.
    for (let w = 1; w < 30; w++) window(full, w * 100, 7, 20);
    expect(full.limit).toBe(20);
    for (let i = 0; i < 100; i++) full.onArrival(3200);
    expect(full.admitsBurst(20, 3200)).toBe(false);
    // Nor for a horizon (1 s here) after the last saturated window, gap or not.
    window(full, 3200, 5, 2);
    arrivals(full, 3200, 3900, 2);
    for (let i = 0; i < 100; i++) full.onArrival(4100);
    expect(full.admitsBurst(20, 4100)).toBe(false);
    window(full, 4200, 5, 2);
    arrivals(full, 4100, 5000, 2);
    for (let i = 0; i < 100; i++) full.onArrival(5200);
    expect(full.admitsBurst(20, 5200)).toBe(true);

    const capped = limiter({ initialLimit: 20, maxLimit: 25 });
    arrivals(capped, 0, 3000, 2);
    for (let i = 0; i < 100; i++) capped.onArrival(3200);
    expect(capped.admitsBurst(24, 3200)).toBe(true);
    expect(capped.admitsBurst(25, 3200)).toBe(false);
  });

  it('expects the smoothed latency of recent windows', () => {
    const limit = limiter();
    expect(limit.expectedLatencyMs).toBe(0);
    window(limit, 0, 10, 1);
    expect(limit.expectedLatencyMs).toBe(10);
    window(limit, 100, 20, 1);
    expect(limit.expectedLatencyMs).toBeCloseTo(12);
  });

  it('a maxLimit under 4 lowers the default minLimit', () => {
    expect(resolveConcurrencyLimitOptions({ maxLimit: 1 }, 'admission')).toMatchObject({
      minLimit: 1,
      maxLimit: 1,
      initialLimit: 1,
    });
  });

  it('bad options are ConfigErrors naming them', () => {
    expect(() => resolveConcurrencyLimitOptions({ minLimit: 0 }, 'admission')).toThrow(
      /admission\.minLimit must be an integer from 1 to 100000, received 0/,
    );
    expect(() => resolveConcurrencyLimitOptions({ latencyTolerance: 1 }, 'admission')).toThrow(
      /admission\.latencyTolerance must be a finite number from 1.05 to 10, received 1/,
    );
    expect(() =>
      resolveConcurrencyLimitOptions({ minLimit: 10, initialLimit: 5 }, 'admission'),
    ).toThrow(/admission\.initialLimit must be an integer from 10 to 10000, received 5/);
  });
});
