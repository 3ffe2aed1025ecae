import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { ConfigError, REASON_METADATA_KEY } from '@grpc-resilience/status';
import { attemptVerdict } from './attempt-verdict';
import { resolveBudget } from './budget-options';
import { AdaptiveRetryBudget, RetryBudget, type AdaptiveBudgetOptions } from './index';

/* The adaptive budget's and the throttle's arithmetic, on an injected clock and dice. */

const status = (code: Status, details = '', trailers: Record<string, string> = {}) => {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return { code, details, metadata } as StatusObject;
};
// A server's answer carries trailers (content-type at least); grpc-js's own statuses carry none.
const fromServer = (code: Status) => status(code, 'x', { 'content-type': 'application/grpc' });
const OK = status(Status.OK);
const UNAVAILABLE = fromServer(Status.UNAVAILABLE);

function budgetAt(clock: { now: number }, options: AdaptiveBudgetOptions = {}) {
  return new AdaptiveRetryBudget({ now: () => clock.now, random: () => 0.5, ...options });
}

describe('AdaptiveRetryBudget tokens', () => {
  it('starts full, deposits ratio per call up to maxTokens, and a retry takes one', () => {
    const budget = budgetAt({ now: 0 }, { ratio: 0.5, maxTokens: 3 });
    expect(budget.balance).toBe(3);
    budget.recordCall();
    expect(budget.balance).toBe(3);
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    expect(granted).toBe(3);
    budget.recordCall();
    expect(budget.tryAcquire()).toBe(false);
    budget.recordCall();
    expect(budget.tryAcquire()).toBe(true);
  });

  it('a retry that a server accepts gets its token back; one it refuses does not', () => {
    const budget = budgetAt({ now: 0 }, { maxTokens: 2, throttle: false });
    budget.tryAcquire();
    budget.tryAcquire();
    budget.recordAttempt(UNAVAILABLE, true);
    expect(budget.balance).toBe(0);
    budget.recordAttempt(fromServer(Status.NOT_FOUND), true);
    expect(budget.balance).toBe(1);
    budget.tryAcquire();
    budget.recordAttempt(OK, true);
    expect(budget.balance).toBe(1);
    // A first attempt took no token and gives none back.
    budget.recordAttempt(OK, false);
    expect(budget.balance).toBe(1);
  });

  it('a retry the layer refused itself was not load: its token comes back', () => {
    const budget = budgetAt({ now: 0 }, { maxTokens: 1, throttle: false });
    budget.tryAcquire();
    budget.recordAttempt(
      status(Status.UNAVAILABLE, 'throttled', { [REASON_METADATA_KEY]: 'throttled' }),
      true,
    );
    expect(budget.balance).toBe(1);
  });

  /** Calls with up to 3 attempts, each failing with `failure` probability; attempts per call. */
  function simulate(budget: AdaptiveRetryBudget, calls: number, failure: () => boolean) {
    let attempts = 0;
    let succeeded = 0;
    for (let i = 0; i < calls; i++) {
      budget.recordCall();
      for (let attempt = 1; attempt <= 3; attempt++) {
        if (attempt > 1 && !budget.tryAcquire()) break;
        attempts++;
        const failed = failure();
        budget.recordAttempt(failed ? UNAVAILABLE : OK, attempt > 1);
        if (!failed) {
          succeeded++;
          break;
        }
      }
    }
    return { attemptsPerCall: attempts / calls, goodput: succeeded / calls };
  }

  it('20% of attempts failing at random: no retry is ever refused', () => {
    let seed = 1;
    const dice = () => (seed = (seed * 16807) % 2147483647) / 2147483647 < 0.2;
    const budget = budgetAt({ now: 0 }, { throttle: false });
    const tryAcquire = jest.spyOn(budget, 'tryAcquire');
    const result = simulate(budget, 10_000, dice);
    expect(tryAcquire.mock.results.every((r) => r.value === true)).toBe(true);
    expect(result.goodput).toBeGreaterThan(0.985);
    expect(result.attemptsPerCall).toBeLessThan(1.3);
  });

  it('a total outage: retries held to ratio per call plus the starting balance, at any rate', () => {
    for (const calls of [50, 1000, 10_000]) {
      const result = simulate(budgetAt({ now: 0 }, { throttle: false }), calls, () => true);
      expect(result.attemptsPerCall * calls).toBeLessThanOrEqual(calls * 1.2 + 10);
    }
  });

  it('validates its options', () => {
    expect(() => new AdaptiveRetryBudget({ ratio: -1 })).toThrow(
      'retry.budget.ratio must be a finite number from 0 to 10, received -1',
    );
    expect(() => new AdaptiveRetryBudget({ maxTokens: 0 })).toThrow(/retry.budget.maxTokens/);
    expect(() => new AdaptiveRetryBudget({ throttle: { maxRejectRatio: 2 } })).toThrow(
      'retry.budget.throttle.maxRejectRatio must be a finite number from 0 to 1, received 2',
    );
    expect(() => new AdaptiveRetryBudget({ throttle: { k: 2 } as never })).toThrow(
      /retry.budget.throttle.k is not a known option/,
    );
    expect(() => new AdaptiveRetryBudget({ minPerSecond: 1 } as never)).toThrow(ConfigError);
  });
});

describe('retry.budget: the kinds', () => {
  it('adaptive by default; fixed when asked, or when shaped like the old fixed budget', () => {
    expect(resolveBudget('retry.budget', undefined)).toBeInstanceOf(AdaptiveRetryBudget);
    expect(resolveBudget('retry.budget', { ratio: 0.2 })).toBeInstanceOf(AdaptiveRetryBudget);
    expect(resolveBudget('retry.budget', { kind: 'fixed' })).toBeInstanceOf(RetryBudget);
    expect(resolveBudget('retry.budget', { minPerSecond: 0 })).toBeInstanceOf(RetryBudget);
    expect(resolveBudget('retry.budget', false)).toBeUndefined();
    const shared = new AdaptiveRetryBudget();
    expect(resolveBudget('retry.budget', shared)).toBe(shared);
  });

  it('refuses what is neither', () => {
    expect(() => resolveBudget('retry.budget', { kind: 'token-bucket' })).toThrow(
      'retry.budget.kind must be "adaptive" or "fixed", received "token-bucket"',
    );
    expect(() => resolveBudget('retry.budget', 5)).toThrow(ConfigError);
    expect(() => resolveBudget('retry.budget', { kind: 'fixed', maxTokens: 3 })).toThrow(
      /retry.budget.maxTokens is not a known option/,
    );
  });
});

describe('ClientThrottle', () => {
  function throttleAt(clock: { now: number }, dice: { value: number }) {
    const budget = new AdaptiveRetryBudget({ now: () => clock.now, random: () => dice.value });
    return budget.throttle!;
  }

  it('refuses with probability (requests - 2 x accepts) / (requests + 1), at most 0.8', () => {
    const throttle = throttleAt({ now: 0 }, { value: 0 });
    for (let i = 0; i < 10; i++) throttle.record(i < 4);
    expect(throttle.rejectProbability()).toBeCloseTo((10 - 2 * 4) / 11);
    throttle.record(true);
    expect(throttle.rejectProbability()).toBeCloseTo(1 / 12); // 11 requests, 5 accepts
    throttle.record(true);
    expect(throttle.rejectProbability()).toBe(0); // 12 requests, 6 accepts: half accepted
    for (let i = 0; i < 100; i++) throttle.record(false);
    expect(throttle.rejectProbability()).toBe(0.8);
  });

  it('never throttles fewer than 6 requests in the window (one failed call of 5 attempts)', () => {
    const throttle = throttleAt({ now: 0 }, { value: 0 });
    for (let i = 0; i < 5; i++) throttle.record(false);
    expect(throttle.rejectProbability()).toBe(0);
    throttle.record(false);
    expect(throttle.rejectProbability()).toBe(0.8); // 6 / 7, capped
  });

  it('a refusal is a request not accepted; the dice decide', () => {
    const dice = { value: 0.79 };
    const throttle = throttleAt({ now: 0 }, dice);
    for (let i = 0; i < 20; i++) throttle.record(false);
    expect(throttle.admit()).toBe(false);
    expect(throttle.window).toEqual({ requests: 21, accepts: 0 });
    dice.value = 0.8;
    expect(throttle.admit()).toBe(true);
    expect(throttle.window).toEqual({ requests: 21, accepts: 0 });
  });

  it('reads the clock once per decision and once per outcome', () => {
    let reads = 0;
    const budget = new AdaptiveRetryBudget({ now: () => (reads++, 0), random: () => 0 });
    const throttle = budget.throttle!;
    for (let i = 0; i < 20; i++) throttle.record(i % 2 === 0);
    reads = 0;
    expect(throttle.admit()).toBe(true); // 20 requests, 10 accepts: both series read
    throttle.record(true);
    for (let i = 0; i < 20; i++) throttle.record(false);
    expect(throttle.admit()).toBe(false); // refused: a request added at the same instant
    expect(reads).toBe(1 + 1 + 20 + 1);
  });

  it('forgets what is older than its window (1 s)', () => {
    const clock = { now: 0 };
    const throttle = throttleAt(clock, { value: 0 });
    for (let i = 0; i < 50; i++) throttle.record(false);
    clock.now = 950;
    expect(throttle.rejectProbability()).toBe(0.8);
    clock.now = 1100;
    expect(throttle.rejectProbability()).toBe(0);
  });

  it('recovers within about a second once the servers accept again', () => {
    const clock = { now: 0 };
    let seed = 7;
    const dice = { value: 0 };
    const random = () => (dice.value = (seed = (seed * 16807) % 2147483647) / 2147483647);
    const budget = new AdaptiveRetryBudget({ now: () => clock.now, random });
    const throttle = budget.throttle!;
    // 200 calls/s: 5 s of total outage, then the servers accept everything.
    const sent: boolean[] = [];
    for (let i = 0; i < 2000; i++) {
      clock.now = i * 5;
      const admitted = throttle.admit();
      if (admitted) throttle.record(clock.now >= 5000);
      sent.push(admitted);
    }
    const share = (from: number, to: number) => {
      const window = sent.slice(from / 5, to / 5);
      return window.filter(Boolean).length / window.length;
    };
    expect(share(4000, 5000)).toBeLessThan(0.3); // most first attempts refused locally
    expect(share(4000, 5000)).toBeGreaterThan(0.1); // some still probe
    expect(share(6500, 10_000)).toBe(1); // 1.5 s after the end, nothing is refused
  });
});

describe('attemptVerdict', () => {
  it.each([
    ['OK', OK, 'accepted'],
    ['a server UNAVAILABLE', UNAVAILABLE, 'rejected'],
    ['a server RESOURCE_EXHAUSTED', fromServer(Status.RESOURCE_EXHAUSTED), 'rejected'],
    ['no connection', status(Status.UNAVAILABLE, 'No connection established'), 'rejected'],
    ['a reset stream', status(Status.INTERNAL, 'Received RST_STREAM with code 2'), 'rejected'],
    ['an application error', fromServer(Status.NOT_FOUND), 'accepted'],
    ['a slow server', status(Status.DEADLINE_EXCEEDED, 'Deadline exceeded'), 'accepted'],
    ['the caller cancelled', status(Status.CANCELLED, 'Cancelled on client'), 'ignored'],
    [
      'an open circuit',
      status(Status.UNAVAILABLE, 'circuit open', { [REASON_METADATA_KEY]: 'circuit-open' }),
      'ignored',
    ],
    [
      "the server's ping enforcement",
      status(Status.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded'),
      'ignored',
    ],
    [
      'a closed channel',
      status(Status.UNAVAILABLE, 'Channel closed before call started'),
      'ignored',
    ],
    [
      'a message over the limit',
      status(Status.RESOURCE_EXHAUSTED, 'Attempted to send message with a size larger than 5'),
      'ignored',
    ],
  ] as const)('%s: %s', (_name, s, verdict) => {
    expect(attemptVerdict(s)).toBe(verdict);
  });
});
