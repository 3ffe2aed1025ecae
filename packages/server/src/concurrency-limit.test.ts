import {
  ConcurrencyLimit,
  resolveConcurrencyLimitOptions,
  type ConcurrencyLimitOptions,
} from './concurrency-limit';

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

/** One window of `samples` calls of `latencyMs`, with `inFlight` at its peak. */
function window(
  limit: ConcurrencyLimit,
  start: number,
  latencyMs: number,
  inFlight: number,
  loopDelayMs = 0,
) {
  limit.onAdmit(inFlight);
  for (let i = 1; i <= 10; i++) limit.onSample(latencyMs, start + i * 10, () => loopDelayMs);
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

  it('a window that did not reach the limit never shrinks it, however slow the calls or late the loop', () => {
    const limit = limiter({ initialLimit: 100, eventLoopDelayMs: 40 });
    window(limit, 0, 2, 1);
    window(limit, 100, 100, 60); // slow calls, 60 of 100 in flight: holds
    expect(limit.limit).toBe(100);
    window(limit, 200, 100, 99, 500); // the event loop late too, but one short of the limit
    expect(limit.limit).toBe(100);
    limit.onRefuse(); // a call refused: this window reached it
    window(limit, 300, 100, 10, 500);
    expect(limit.limit).toBe(50);
  });

  it('halves at most per window while latency is past tolerance and the limit is in use', () => {
    const limit = limiter({ initialLimit: 100, latencyTolerance: 2 });
    window(limit, 0, 2, 10); // unloaded: 2 ms
    window(limit, 100, 40, 100); // 20x slower, limit full
    expect(limit.limit).toBe(50);
    window(limit, 200, 5, 50); // 2.5x slower: 4/5 of the limit
    expect(limit.limit).toBe(40);
    for (let w = 3; w < 40; w++) window(limit, w * 100, 40, limit.limit);
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
    const limit = limiter({ initialLimit: 20, maxLimit: 1000 });
    limit.onAdmit(20);
    // 8 calls at the unloaded 50 ms and 2 that queued behind them (100 ms): the median is fine.
    for (let i = 1; i <= 8; i++) limit.onSample(50, 50, () => 0);
    limit.onSample(100, 100, () => 0);
    limit.onSample(100, 100, () => 0);
    expect(limit.limit).toBe(21); // grown by one, not doubled
  });

  it('never shrinks below what the window sustained: completions per ms times the unloaded latency', () => {
    // 10 ms calls, 160 completing per 100 ms window: 16 in flight carry that without queueing.
    const limit = limiter({ initialLimit: 64 });
    const busyWindow = (start: number, latencyMs: number, inFlight: number) => {
      limit.onAdmit(inFlight);
      for (let i = 1; i <= 160; i++) limit.onSample(latencyMs, start + i * 0.625, () => 0);
    };
    busyWindow(0, 10, 8);
    busyWindow(100, 200, 64); // 20x the unloaded latency: halves
    expect(limit.limit).toBe(32);
    busyWindow(200, 200, 32);
    expect(limit.limit).toBe(16);
    busyWindow(300, 200, 16);
    expect(limit.limit).toBe(16); // would halve to 8; 1.6 per ms x 10 ms is 16
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
    limit.onRefuse();
    window(limit, 100, 6.9, 40); // 3.5x, but within 5 ms: still grows
    expect(limit.limit).toBe(80);
    limit.onRefuse();
    window(limit, 200, 20, 80); // 10x and 18 ms more: shrinks
    expect(limit.limit).toBe(40);
  });

  it("the machine's shared lateness raises the target: a window it slowed does not shrink the limit", () => {
    const run = (sharedMs: number) => {
      const limit = limiter({ initialLimit: 20, latencySlackMs: 5 });
      window(limit, 0, 5, 20); // unloaded 5 ms
      limit.onRefuse();
      limit.onAdmit(40);
      for (let i = 1; i <= 10; i++)
        limit.onSample(
          12,
          100 + i * 10,
          () => 0,
          () => sharedMs,
        ); // 7 ms late: past 5 ms of slack
      return limit.limit;
    };
    expect(run(0)).toBeLessThan(40);
    expect(run(4)).toBe(80); // within 5 ms of slack plus 4 shared: still in slow start
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
