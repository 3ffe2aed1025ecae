import { Metadata, status as Status } from '@grpc/grpc-js';
import { ConfigError } from '@grpc-resilience/status';
import { backoffDelayMs, parsePushback } from './backoff';
import {
  AdaptiveRetryBudget,
  RetryBudget,
  assertNoNativeRetries,
  createRetryInterceptor,
  resolveRetryOptions,
} from './index';
import { decideRetry } from './retry-policy';

const trailers = (pushback?: string) => {
  const metadata = new Metadata();
  if (pushback !== undefined) metadata.set('grpc-retry-pushback-ms', pushback);
  return metadata;
};

describe('backoff', () => {
  it('full jitter under an exponential ceiling, capped', () => {
    const ceiling = (retry: number) => backoffDelayMs(retry, 100, 2000, 2, () => 0.9999999);
    expect([1, 2, 3, 4, 5, 6, 7].map(ceiling)).toEqual([99, 199, 399, 799, 1599, 1999, 1999]);
    expect(backoffDelayMs(3, 100, 2000, 2, () => 0)).toBe(0);
    expect(backoffDelayMs(3, 100, 2000, 2, () => 0.5)).toBe(200);
  });
});

describe('pushback (gRFC A6)', () => {
  it.each([
    [undefined, undefined],
    ['0', 0],
    ['200', 200],
    [' 15 ', 15],
    ['-1', 'stop'],
    ['abc', 'stop'],
    ['1.5', 'stop'],
    ['', 'stop'],
    ['99999999999', 'stop'],
  ])('%j -> %j', (value, expected) => {
    expect(parsePushback(trailers(value))).toBe(expected);
  });
});

describe('RetryBudget', () => {
  it('allows ratio x calls plus the reserve, and refills as calls come and time passes', () => {
    let now = 0;
    const budget = new RetryBudget({
      ratio: 0.2,
      minPerSecond: 2,
      windowMs: 10_000,
      now: () => now,
    });
    for (let i = 0; i < 100; i++) budget.recordCall();
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    expect(granted).toBe(20 + 2);
    now += 500; // half a second: one more from the reserve
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect(budget.tryAcquire()).toBe(true); // 110 calls x 0.2 = 22 > 20 spent from the ratio
  });

  it('forgets calls older than the window', () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 1, minPerSecond: 0, windowMs: 1000, now: () => now });
    for (let i = 0; i < 5; i++) budget.recordCall();
    now = 1500;
    expect(budget.tryAcquire()).toBe(false);
    budget.recordCall();
    expect(budget.tryAcquire()).toBe(true);
  });

  it('validates its options', () => {
    expect(() => new RetryBudget({ ratio: -1 })).toThrow(
      'retry.budget.ratio must be a finite number from 0 to 10, received -1',
    );
    expect(() => new RetryBudget({ rate: 1 } as never)).toThrow(
      /retry.budget.rate is not a known option/,
    );
  });
});

describe('decideRetry', () => {
  const options = resolveRetryOptions({ budget: false, random: () => 0.5, now: () => 1000 });
  const facts = { attempts: 1, idempotent: true, keyed: false, startedAt: 0, deadline: Infinity };
  const status = (code: Status, details = 'x', metadata = new Metadata()) => ({
    code,
    details,
    metadata,
  });

  it('retries retryable codes of idempotent calls after a jittered backoff', () => {
    expect(decideRetry(status(Status.UNAVAILABLE), facts, options)).toEqual({
      retry: true,
      delayMs: 50,
    });
    expect(decideRetry(status(Status.ABORTED), facts, options).retry).toBe(true);
    expect(decideRetry(status(Status.RESOURCE_EXHAUSTED), facts, options).retry).toBe(true);
  });

  it.each([
    [status(Status.INTERNAL), facts, 'non-retryable'],
    [status(Status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.000s'), facts, 'non-retryable'],
    [
      status(Status.RESOURCE_EXHAUSTED, 'Received message larger than max (5 vs 4)'),
      facts,
      'non-retryable',
    ],
    [status(Status.CANCELLED, 'Cancelled on client'), facts, 'non-retryable'],
    [status(Status.UNAVAILABLE), { ...facts, idempotent: false }, 'not-idempotent'],
    [status(Status.UNAVAILABLE), { ...facts, idempotent: false, keyed: true }, 'not-idempotent'],
    [status(Status.UNAVAILABLE), { ...facts, attempts: 5 }, 'max-attempts'],
    [status(Status.UNAVAILABLE, 'x', trailers('-1')), facts, 'pushback'],
    [status(Status.UNAVAILABLE), { ...facts, deadline: 1040 }, 'deadline'],
  ])('%j with %j: %s', (s, f, reason) => {
    expect(decideRetry(s, f, options)).toEqual({ retry: false, reason });
  });

  it('retries a non-idempotent call only when never sent, or keyed to a deduplicating server', () => {
    const notIdempotent = { ...facts, idempotent: false };
    expect(
      decideRetry(
        status(Status.UNAVAILABLE, 'No connection established. Last error: x'),
        notIdempotent,
        options,
      ).retry,
    ).toBe(true);
    const dedup = resolveRetryOptions({ budget: false, serverDeduplicates: true });
    expect(
      decideRetry(status(Status.UNAVAILABLE), { ...notIdempotent, keyed: true }, dedup).retry,
    ).toBe(true);
  });

  it('retries a stream reset (transport CANCELLED / INTERNAL) of idempotent calls only', () => {
    const reset = status(
      Status.INTERNAL,
      'Received RST_STREAM with code 2 (Internal server error)',
    );
    expect(decideRetry(reset, facts, options).retry).toBe(true);
    expect(decideRetry(reset, { ...facts, idempotent: false }, options)).toEqual({
      retry: false,
      reason: 'not-idempotent',
    });
  });

  it('honours pushback over backoff, and a spent budget', () => {
    expect(decideRetry(status(Status.UNAVAILABLE, 'x', trailers('300')), facts, options)).toEqual({
      retry: true,
      delayMs: 300,
    });
    const spent = resolveRetryOptions({ budget: { ratio: 0, minPerSecond: 0 } });
    expect(decideRetry(status(Status.UNAVAILABLE), facts, spent)).toEqual({
      retry: false,
      reason: 'budget',
    });
  });

  it('refuses a retry that would start with less than the useful share left, without taking a token', () => {
    const budget = new AdaptiveRetryBudget({ maxTokens: 1, ratio: 0, throttle: false });
    const withBudget = resolveRetryOptions({ budget, random: () => 0.5, now: () => 1000 });
    // A 1 s call at 1000 ms: after the 50 ms backoff, 60 ms would be left of the 100 ms (10%)
    // a retry needs; the backoff itself ends before the deadline.
    const late = { ...facts, startedAt: 110, deadline: 1110 };
    expect(decideRetry(status(Status.UNAVAILABLE), late, withBudget)).toEqual({
      retry: false,
      reason: 'deadline',
    });
    expect(budget.balance).toBe(1);
    const early = { ...facts, startedAt: 200, deadline: 1200 };
    expect(decideRetry(status(Status.UNAVAILABLE), early, withBudget)).toEqual({
      retry: true,
      delayMs: 50,
    });
    expect(budget.balance).toBe(0);
  });

  it('after a per-attempt timeout: backs off, for idempotent calls with attempts left only', () => {
    const cut = status(Status.DEADLINE_EXCEEDED, 'per-attempt timeout: no answer within 100 ms');
    const timedOut = { ...facts, timedOut: true };
    expect(decideRetry(cut, timedOut, options)).toEqual({ retry: true, delayMs: 50 });
    expect(decideRetry(cut, { ...timedOut, idempotent: false }, options)).toEqual({
      retry: false,
      reason: 'not-idempotent',
    });
    expect(decideRetry(cut, { ...timedOut, attempts: 5 }, options)).toEqual({
      retry: false,
      reason: 'max-attempts',
    });
    // The same status without the layer's own timer is the overall deadline: final.
    expect(decideRetry(cut, facts, options)).toEqual({ retry: false, reason: 'non-retryable' });
  });
});

describe('retry options', () => {
  it.each<[unknown, string]>([
    [{ maxAttempts: 0 }, 'retry.maxAttempts must be an integer from 1 to 10, received 0'],
    [{ maxAttempts: 2.5 }, 'retry.maxAttempts must be an integer from 1 to 10, received 2.5'],
    [
      { initialBackoffMs: -1 },
      'retry.initialBackoffMs must be an integer from 0 to 60000, received -1',
    ],
    [
      { initialBackoffMs: 500, maxBackoffMs: 100 },
      'retry.maxBackoffMs must not be below initialBackoffMs (500), received 100',
    ],
    [{ multiplier: 0.5 }, 'retry.multiplier must be a finite number from 1 to 10, received 0.5'],
    [
      { retryableCodes: [] },
      'retry.retryableCodes must be a non-empty array of status codes, received an array of length 0',
    ],
    [
      { retryableCodes: [0] },
      'retry.retryableCodes must hold status codes from 1 to 16 (OK is never retried), received 0',
    ],
    [
      { budget: { ratio: 'x' } },
      'retry.budget.ratio must be a finite number from 0 to 10, received "x"',
    ],
    [
      { idempotencyKeyHeader: 'Key' },
      'retry.idempotencyKeyHeader must be a lower-case ASCII metadata key, received "Key"',
    ],
    [{ maxAttempt: 3 }, 'retry.maxAttempt is not a known option'],
  ])('%j', (options, message) => {
    expect(() => createRetryInterceptor(options as never)).toThrow(ConfigError);
    expect(() => createRetryInterceptor(options as never)).toThrow(message);
  });
});

describe('one retry layer', () => {
  const serviceConfig = (methodConfig: unknown[]) => ({
    'grpc.service_config': JSON.stringify({ methodConfig }),
  });

  it('refuses a retryPolicy or hedgingPolicy in the service config, naming where', () => {
    expect(() =>
      assertNoNativeRetries(
        serviceConfig([{ name: [{}] }, { name: [{}], retryPolicy: { maxAttempts: 3 } }]),
      ),
    ).toThrow(
      /channelOptions\["grpc.service_config"\].methodConfig\[1\].retryPolicy must not be set/,
    );
    expect(() =>
      assertNoNativeRetries(serviceConfig([{ hedgingPolicy: { maxAttempts: 2 } }])),
    ).toThrow(ConfigError);
  });

  it('refuses turning off grpc-js retries, which would also stop transparent retries', () => {
    expect(() => assertNoNativeRetries({ 'grpc.enable_retries': 0 })).toThrow(
      /transparent retries/,
    );
  });

  it('accepts everything else', () => {
    expect(() => assertNoNativeRetries(undefined)).not.toThrow();
    expect(() =>
      assertNoNativeRetries(serviceConfig([{ name: [{}], timeout: '1s' }])),
    ).not.toThrow();
    expect(() =>
      assertNoNativeRetries({
        'grpc.service_config': '{"loadBalancingConfig":[{"round_robin":{}}]}',
      }),
    ).not.toThrow();
  });
});
