import { ConcurrencyLimit, resolveConcurrencyLimitOptions } from './concurrency-limit';
import { seededRandom } from '@grpc-resilience/testing';

/**
 * The bench's server model in virtual time, with the limit in front of it: a pool of `slots`
 * each held `workMs` per call, a FIFO queue for the rest, Poisson arrivals at `load` times the
 * capacity. Machine-independent evidence for the limiter's logic; the bench (server-load.ts)
 * measures the same over real sockets.
 */
interface Noise {
  /** Each call's work is longer by up to this, uniformly, ms (timers firing late). */
  jitterMs?: number;
  /** Every `stallEveryMs`, the process stops for `stallMs`: nothing runs, arrivals wait. */
  stallEveryMs?: number;
  stallMs?: number;
}

function simulate(
  slots: number,
  workMs: number,
  load: number,
  calls: number,
  seed = 1,
  noise: Noise = {},
) {
  const { jitterMs = 0, stallEveryMs = Infinity, stallMs = 0 } = noise;
  /** When the process next runs at or after `t`: a stall defers everything to its end. */
  const runsAt = (t: number) => (t % stallEveryMs < stallMs ? t - (t % stallEveryMs) + stallMs : t);
  const limit = new ConcurrencyLimit(resolveConcurrencyLimitOptions({}, 'admission'), 0);
  const random = seededRandom(seed);
  const rate = (load * slots) / workMs; // arrivals per ms
  const completions: { at: number; admittedAt: number }[] = []; // kept sorted by `at`
  const queue: number[] = [];
  const latencies: number[] = [];
  let now = 0;
  let nextArrival = 0;
  let arrivals = 0;
  let inFlight = 0;
  let busy = 0;
  let refused = 0;
  const startWork = (admittedAt: number) => {
    busy++;
    const at = runsAt(now + workMs + random() * jitterMs);
    let i = completions.length;
    while (i > 0 && completions[i - 1].at > at) i--;
    completions.splice(i, 0, { at, admittedAt });
  };
  while (arrivals < calls || completions.length > 0) {
    if (completions.length > 0 && (arrivals >= calls || completions[0].at <= nextArrival)) {
      const done = completions.shift()!;
      now = done.at;
      busy--;
      inFlight--;
      latencies.push(now - done.admittedAt);
      limit.onSample(now - done.admittedAt, now, () => 0);
      if (queue.length > 0) startWork(queue.shift()!);
      continue;
    }
    now = runsAt(nextArrival);
    nextArrival += -Math.log(1 - random()) / rate;
    arrivals++;
    if (inFlight >= limit.limit) {
      refused++;
      limit.onRefuse();
      continue;
    }
    inFlight++;
    limit.onAdmit(inFlight);
    if (busy < slots) startWork(now);
    else queue.push(now);
  }
  latencies.sort((a, b) => a - b);
  return {
    goodputShare: latencies.length / now / (slots / workMs),
    p99VsWork: latencies[Math.floor(latencies.length * 0.99)] / workMs,
    maxVsWork: latencies[latencies.length - 1] / workMs,
    refused,
  };
}

describe('the default limit in front of a pool, in virtual time', () => {
  it.each([1, 2, 3])(
    'at 3x capacity (8 slots of 20 ms, seed %i): goodput at capacity, p99 under 2x the work',
    (seed) => {
      const result = simulate(8, 20, 3, 24_000, seed);
      expect(result.goodputShare).toBeGreaterThan(0.95);
      expect(result.p99VsWork).toBeLessThan(2);
      expect(result.maxVsWork).toBeLessThan(3); // the first windows, from 20 in flight
      expect(result.refused).toBeGreaterThan(15_000);
    },
  );

  it('at half capacity, 100,000 calls from a cold start: nothing refused', () => {
    expect(simulate(8, 5, 0.5, 100_000).refused).toBe(0);
  });

  it('at half capacity with timers up to 3 ms late (5 ms calls): nothing refused', () => {
    // Without latencySlackMs, 25% of 5 ms is less than the jitter: the limit, once reached,
    // shrank to its minimum and could not grow back (22,508 of 100,000 refused).
    expect(simulate(8, 5, 0.5, 100_000, 1, { jitterMs: 3 }).refused).toBe(0);
  });

  it('at half capacity with a 100 ms stall every 2 s: a few percent, the bursts after stalls', () => {
    // Each stall delivers about 80 calls at once, over a limit that half load never grows, and
    // leaves the calls it caught late: what a first burst at overload looks like too. This is
    // why the limiter is opt-in (docs/server.md). Without latencySlackMs: 42,551.
    const noise = { jitterMs: 3, stallEveryMs: 2000, stallMs: 100 };
    expect(simulate(8, 5, 0.5, 100_000, 1, noise).refused).toBeLessThan(5000);
  });

  it('at 3x capacity with 50 ms calls (the bench): goodput at capacity, p99 under 2x the work', () => {
    const result = simulate(8, 50, 3, 10_000, 1, { jitterMs: 3 });
    expect(result.goodputShare).toBeGreaterThan(0.95);
    expect(result.p99VsWork).toBeLessThan(2);
  });
});
