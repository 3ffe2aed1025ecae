import { ConcurrencyLimit } from './concurrency-limit';
import { resolveConcurrencyLimitOptions } from './concurrency-limit-options';
import { seededRandom } from '@grpc-resilience/testing';

/**
 * The bench's server model in virtual time, with the limit in front of it: a pool of `slots`
 * each held `workMs` per call, a FIFO queue for the rest, Poisson arrivals at `load` times the
 * capacity (measured as the bench does, the machine's lateness included). Machine-independent
 * evidence for the limiter's logic; the bench (server-load.ts) measures the same over sockets.
 */
interface Noise {
  /** Each call's work is longer by up to this, uniformly, ms (timers firing late). */
  jitterMs?: number;
  /**
   * A busy machine's timer lateness instead, as measured on the 2-core machine the bench runs
   * on (load average about 3: p50 0.24 ms, p90 1 ms, p99 5 ms, p99.9 21 ms), times this.
   */
  machineLateness?: number;
  /** Event-loop turns per call that are late by that much: reading the request, the timer. */
  hops?: number;
  /** Whether the event loop's own measure sees the lateness (the median of a hop's). */
  measured?: boolean;
  /**
   * The whole process stands still (descheduled, a GC pause) at Poisson times this far apart
   * on average, for up to `stallMaxMs` each (uniformly): nothing runs, arrivals wait, and at
   * its end the limiter is told, as the admission's stall detector tells it.
   */
  stallEveryMs?: number;
  stallMaxMs?: number;
  /**
   * The client stands still instead (its GC pause, descheduled) at Poisson times this far apart
   * on average, for up to `clientStallMaxMs` each: the calls due meanwhile are sent at its end,
   * at once, and the server, which ran all along, has nothing to detect. What the bench's
   * half-load row showed on sockets: bursts of 40 to 130 calls within a few ms after a gap.
   */
  clientStallEveryMs?: number;
  clientStallMaxMs?: number;
}

/**
 * Stalls at Poisson times `everyMs` apart on average, each up to `maxMs` long (uniformly), and
 * when something stalled by them next runs at or after `t`: a stall defers everything to its end.
 */
function stallSchedule(random: () => number, everyMs = Infinity, maxMs = 0) {
  const stalls: { start: number; end: number }[] = [];
  const runsAt = (t: number) => {
    while (stalls.length === 0 || stalls[stalls.length - 1].start < t) {
      const after = stalls.length === 0 ? 0 : stalls[stalls.length - 1].end;
      const start = after - Math.log(1 - random()) * everyMs;
      stalls.push({ start, end: start + random() * maxMs });
      if (start === Infinity) break;
    }
    const stall = stalls.find((s) => t >= s.start && t < s.end);
    return stall === undefined ? t : stall.end;
  };
  return { stalls, runsAt };
}

/** The machine's lateness for one event-loop turn, ms, before scaling. */
function machineHop(random: () => number): number {
  const u = random();
  if (u < 0.9) return -Math.log(1 - random()) * 0.4;
  return u < 0.99 ? 1 + random() * 5 : 6 + random() * 20;
}

function simulate(
  slots: number,
  workMs: number,
  load: number,
  calls: number,
  seed = 1,
  noise: Noise = {},
) {
  const { jitterMs = 0, machineLateness = 0, hops = 1, measured = true } = noise;
  const random = seededRandom(seed);
  const hop = () =>
    machineLateness > 0 ? machineLateness * machineHop(random) : random() * jitterMs;
  const lateness = () => {
    let sum = 0;
    for (let i = 0; i < hops; i++) sum += hop();
    return sum;
  };
  let meanLateMs = 0;
  for (let i = 0; i < 10_000; i++) meanLateMs += lateness() / 10_000;
  const rate = (load * slots) / (workMs + meanLateMs); // arrivals per ms

  const { stalls, runsAt } = stallSchedule(
    seededRandom(seed + 1000),
    noise.stallEveryMs,
    noise.stallMaxMs,
  );
  const client = stallSchedule(
    seededRandom(seed + 2000),
    noise.clientStallEveryMs,
    noise.clientStallMaxMs,
  );

  const limit = new ConcurrencyLimit(resolveConcurrencyLimitOptions({}, 'admission'), 0);
  let lateHops: number[] = [];
  const sharedDelay = () => {
    lateHops.sort((a, b) => a - b);
    const median = lateHops.length === 0 ? 0 : lateHops[lateHops.length >> 1];
    lateHops = [];
    return measured ? median : 0;
  };
  const completions: { at: number; admittedAt: number }[] = []; // kept sorted by `at`
  const queue: number[] = [];
  const latencies: number[] = [];
  let now = 0;
  let told = 0; // stalls the limiter was told of
  /** Moves the clock to `t`, telling the limiter of the stalls that ended on the way. */
  const advance = (t: number) => {
    while (told < stalls.length && stalls[told].end <= t) {
      const { start, end } = stalls[told++];
      if (end > start) limit.onStall(end - start, end);
    }
    now = t;
  };
  let nextArrival = 0;
  let arrivals = 0;
  let inFlight = 0;
  let busy = 0;
  let refused = 0;
  /** Calls let in past the limit as a burst. */
  let pastLimit = 0;
  const startWork = (admittedAt: number) => {
    busy++;
    const late = lateness();
    lateHops.push(late / hops);
    const at = runsAt(now + workMs + late);
    let i = completions.length;
    while (i > 0 && completions[i - 1].at > at) i--;
    completions.splice(i, 0, { at, admittedAt });
  };
  while (arrivals < calls || completions.length > 0) {
    const arrivesAt = runsAt(client.runsAt(nextArrival));
    if (completions.length > 0 && (arrivals >= calls || completions[0].at <= arrivesAt)) {
      const done = completions.shift()!;
      advance(done.at);
      busy--;
      inFlight--;
      latencies.push(now - done.admittedAt);
      limit.onSample(now - done.admittedAt, now, inFlight, () => 0, sharedDelay);
      if (queue.length > 0) startWork(queue.shift()!);
      continue;
    }
    advance(arrivesAt);
    nextArrival += -Math.log(1 - random()) / rate;
    arrivals++;
    limit.onArrival(now);
    const overLimit = inFlight >= limit.limit;
    if (overLimit && !limit.admitsBurst(inFlight, now)) {
      refused++;
      continue;
    }
    if (overLimit) pastLimit++;
    inFlight++;
    limit.onAdmit(inFlight, now);
    if (busy < slots) startWork(now);
    else queue.push(now);
  }
  latencies.sort((a, b) => a - b);
  return {
    goodputShare: latencies.length / now / (slots / (workMs + meanLateMs)),
    p99VsWork: latencies[Math.floor(latencies.length * 0.99)] / workMs,
    maxVsWork: latencies[latencies.length - 1] / workMs,
    refused,
    pastLimit,
  };
}

describe('the default limit in front of a pool, in virtual time', () => {
  it.each([1, 2, 3])(
    'at 3x capacity (8 slots of 20 ms, seed %i): goodput at capacity, p99 under 1.75x the work',
    (seed) => {
      const result = simulate(8, 20, 3, 24_000, seed);
      expect(result.goodputShare).toBeGreaterThan(0.95);
      expect(result.p99VsWork).toBeLessThan(1.75); // 1.56 to 1.65; the old limit 1.50 to 1.59
      expect(result.maxVsWork).toBeLessThan(3); // the first windows, from 20 in flight
      expect(result.refused).toBeGreaterThan(15_000);
    },
  );

  it.each([1, 2])(
    'at 3x capacity with 50 ms calls (the bench), 3 ms of jitter, seed %i: p99 under 1.85x the work',
    (seed) => {
      const result = simulate(8, 50, 3, 10_000, seed, { jitterMs: 3 });
      expect(result.goodputShare).toBeGreaterThan(0.95);
      expect(result.p99VsWork).toBeLessThan(1.85); // 1.71 to 1.77; the old limit 1.82 to 1.87
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

  it.each([1, 2])(
    'at half capacity, lateness past the slack that the event loop does not see (seed %i): no spiral',
    (seed) => {
      // A machine ten times as busy, late on both turns of each call, which its event loop's
      // median does not show: the median call is 5 ms late, the slowest hundreds. The old
      // limit, shrunk once by a window that reached it, then found every window reached (its
      // own refusals) and slow (the lateness), and spiralled to its minimum of 4: 13,133 and
      // 10,171 refused. Now it shrinks only when held full, against the typical latency.
      const noise = { machineLateness: 10, hops: 2, measured: false };
      expect(simulate(8, 5, 0.5, 100_000, seed, noise).refused).toBe(0);
    },
  );

  it.each([1, 2])(
    'at half capacity on a loaded machine, stalls of up to 100 ms every second (seed %i): nothing refused',
    (seed) => {
      // Three times this machine's measured lateness on both turns of each call, and the
      // process standing still about once a second for up to 100 ms (40 calls arrive
      // meanwhile), with the event loop measuring both. The old limit refused the backlogs
      // after the stalls: 1,424 and 1,457.
      const noise = { machineLateness: 3, hops: 2, stallEveryMs: 1000, stallMaxMs: 100 };
      expect(simulate(8, 5, 0.5, 100_000, seed, noise).refused).toBe(0);
    },
  );

  it.each([1, 2])(
    'at half capacity, the client standing still up to 300 ms every 2 s (seed %i): its bursts are let in',
    (seed) => {
      // The sockets' pattern (the bench's half-load row): the server runs all along, its
      // detector sees nothing, and after each gap of the client's the calls it held back come
      // at once, up to 120 of them over a limit in the 20s to 40s. Without burst room 2,767
      // and 2,625 of 100,000 were refused; over the span that holds the gap no more calls
      // arrived than the usual rate brings, so they are a backlog, not a rise.
      const noise = {
        machineLateness: 3,
        hops: 2,
        clientStallEveryMs: 2000,
        clientStallMaxMs: 300,
      };
      const result = simulate(8, 5, 0.5, 100_000, seed, noise);
      expect(result.refused).toBe(0);
      expect(result.pastLimit).toBeGreaterThan(0);
    },
  );

  it('at 3x capacity with the client standing still as often: no call let in past the limit', () => {
    // Saturated windows and refusals leave no room: overload's bursts are refused. Goodput and
    // p99 are the same with burst room taken out (0.91 and 2.07x the work: the client's gaps
    // idle the server and the calls they hold back are refused, not retried, in this model).
    const noise = { jitterMs: 3, clientStallEveryMs: 2000, clientStallMaxMs: 300 };
    const result = simulate(8, 50, 3, 10_000, 1, noise);
    expect(result.pastLimit).toBe(0);
    expect(result.goodputShare).toBeGreaterThan(0.85);
    expect(result.p99VsWork).toBeLessThan(2.5);
  });
});
