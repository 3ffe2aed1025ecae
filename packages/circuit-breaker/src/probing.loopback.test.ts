import { status as Status } from '@grpc/grpc-js';
import { createRetryInterceptor } from '@grpc-resilience/retry';
import { REASON_METADATA_KEY, methodsFromService } from '@grpc-resilience/status';
import {
  callUnary,
  createTestClient,
  startTestBackend,
  testServiceClient,
  waitUntil,
  type CallOutcome,
  type TestBackend,
} from '@grpc-resilience/testing';
import {
  BALANCED_BREAKER_OPTIONS,
  createCircuitBreakerInterceptor,
  type BreakerStateChange,
} from './index';
import { meta, useBackend } from './loopback.test.helper';

const fixture = useBackend();
const methods = methodsFromService(testServiceClient().service);
const failingBehaviour = { failCode: Status.UNAVAILABLE };
const failing = meta(failingBehaviour);

it('with defaults, probes wait 1 s, then 1.5x longer up to 30 s while they fail; a success resets it', async () => {
  let now = 0;
  const changes: BreakerStateChange[] = [];
  const breaker = createCircuitBreakerInterceptor({
    consecutiveFailures: 1,
    now: () => now,
    onStateChange: (change) => changes.push(change),
  });
  const client = createTestClient(fixture.backend.address, { interceptors: [breaker.interceptor] });
  fixture.clients.push(client);
  /** How long (in 1 ms steps of the breaker's clock) until the circuit lets a probe through. */
  const waitForProbe = () => {
    let waited = 0;
    while (breaker.stateOf() === 'open') {
      now += 1;
      waited += 1;
    }
    return waited;
  };
  const expected = [1000, 1500, 2250, 3375, 5063, 7594, 11391, 17086, 25629, 30000, 30000];

  await callUnary(client, 'GetItem', {}, failing);
  const waits: number[] = [];
  for (let round = 0; round < expected.length; round++) {
    waits.push(waitForProbe());
    await callUnary(client, 'GetItem', {}, failing); // the probe fails
  }
  expect(waits).toEqual(expected);
  const opened = changes.filter((c) => c.to === 'open').map((c) => c.probeAfterMs);
  expect(opened).toEqual([...expected, 30000]);

  waitForProbe();
  expect((await callUnary(client, 'GetItem', {})).status.code).toBe(Status.OK); // closes
  expect(breaker.stateOf()).toBe('closed');
  await callUnary(client, 'GetItem', {}, failing); // opens again: from 1 s, not 30 s
  expect(waitForProbe()).toBe(1000);
  // Every probe was a real call: the opening call, 11 failed probes, 1 good, 1 more failure.
  expect(fixture.backend.counters.calls).toBe(14);
});

it('a retried call that finally succeeds counts no failure: outside the retry, a call counts once', async () => {
  const changes: BreakerStateChange[] = [];
  const breaker = createCircuitBreakerInterceptor({
    consecutiveFailures: 1,
    onStateChange: (change) => changes.push(change),
  });
  // No budget: its reserve is not what this test is about.
  const retry = createRetryInterceptor({
    methods,
    initialBackoffMs: 1,
    maxBackoffMs: 2,
    budget: false,
  });
  const client = createTestClient(fixture.backend.address, {
    interceptors: [breaker.interceptor, retry],
  });
  fixture.clients.push(client);
  for (let i = 0; i < 10; i++) {
    const behaviour = { callId: `c${i}`, failCode: Status.UNAVAILABLE, failAttempts: 2 };
    const outcome = await callUnary(client, 'GetItem', {}, meta(behaviour));
    expect(outcome.status.code).toBe(Status.OK);
  }
  expect(fixture.backend.counters.calls).toBe(30); // 2 failed attempts and 1 good, each
  expect(changes).toEqual([]);
});

it('an open circuit ends the retries of calls in flight: the attempt gate inside the retry', async () => {
  // No half-open within the test: a loaded machine once let the slow call's ~1 s backoff run into
  // the first probe, which rightly let its retry through.
  const breaker = createCircuitBreakerInterceptor({
    consecutiveFailures: 1,
    halfOpenAfterMs: 60_000,
  });
  const retry = createRetryInterceptor({
    methods,
    maxAttempts: 5,
    initialBackoffMs: 2000,
    maxBackoffMs: 2000,
    budget: false,
    random: () => 0.99, // each retry waits about 2 s
  });
  const client = createTestClient(fixture.backend.address, {
    interceptors: [breaker.interceptor, retry, breaker.attemptGate],
  });
  fixture.clients.push(client);
  const slow = callUnary(client, 'GetItem', {}, meta({ callId: 'slow', ...failingBehaviour }));
  await waitUntil(() => fixture.backend.counters.calls === 1); // its first attempt failed
  // Another call fails with a code that is not retried but counts in full: the circuit opens.
  await callUnary(client, 'GetItem', {}, meta({ failCode: Status.DEADLINE_EXCEEDED }));
  expect(breaker.stateOf()).toBe('open');
  const outcome = await slow;
  expect(outcome.status.metadata.get(REASON_METADATA_KEY)).toEqual(['circuit-open']);
  expect(fixture.backend.counters.calls).toBe(2); // the slow call's retries never went out
});

describe('both of 2 replicas down for 1.5 s, then back', () => {
  const replicas: TestBackend[] = [];
  afterEach(() => {
    for (const replica of replicas.splice(0)) replica.kill();
  });

  it('opens, probes, and closes at the first probe after their return', async () => {
    for (let i = 0; i < 2; i++) replicas.push(await startTestBackend({ name: `r${i}` }));
    const changes: (BreakerStateChange & { at: number })[] = [];
    const breaker = createCircuitBreakerInterceptor({
      ...BALANCED_BREAKER_OPTIONS,
      onStateChange: (change) => changes.push({ ...change, at: Date.now() }),
    });
    // The channel factory's stack around round robin: breaker outside the retry, defaults.
    const client = createTestClient(`ipv4:${replicas.map((r) => r.address).join(',')}`, {
      interceptors: [breaker.interceptor, createRetryInterceptor({ methods }), breaker.attemptGate],
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    });
    fixture.clients.push(client);
    const outcomes: (CallOutcome & { at: number })[] = [];
    let driving = true;
    const traffic = (async () => {
      // One call every 10 ms, each with a 1 s deadline, until told to stop (bounded below).
      const calls: Promise<void>[] = [];
      while (driving && calls.length < 2000) {
        const at = Date.now();
        calls.push(
          callUnary(client, 'GetItem', {}, { timeoutMs: 1000 }).then(
            (o) => void outcomes.push({ ...o, at }),
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await Promise.all(calls);
    })();
    try {
      await waitUntil(() => outcomes.filter((o) => o.status.code === Status.OK).length >= 20);
      const ports = replicas.map((r) => r.port);
      for (const replica of replicas.splice(0)) replica.kill();
      const downAt = Date.now();
      await waitUntil(() => Date.now() - downAt >= 1500, { timeoutMs: 3000 });
      for (const port of ports) replicas.push(await startTestBackend({ port }));
      const backAt = Date.now();
      // Wait for the circuit to close after their return, and for some calls to succeed after that.
      await waitUntil(() => changes.some((c) => c.to === 'closed' && c.at >= backAt), {
        timeoutMs: 10_000,
      });
      const closedAt = changes.find((c) => c.to === 'closed' && c.at >= backAt)!.at;
      await waitUntil(() => outcomes.filter((o) => o.at > closedAt).length >= 20, {
        timeoutMs: 5000,
      });
      driving = false;
      await traffic;

      // It opened during the outage (rather than passing every call on to fail).
      const opened = changes.filter((c) => c.to === 'open');
      expect(opened.length).toBeGreaterThanOrEqual(1);
      expect(opened[0].at).toBeLessThan(backAt);
      // At most one probe failed before the return, so the wait in force at the return was at
      // most the second step (1.5 s); after the return at most one probe failed (one that came
      // before grpc-js had reconnected), so it closed by the second probe.
      const openBeforeBack = opened.filter((c) => c.at < backAt).at(-1)!;
      expect(openBeforeBack.probeAfterMs).toBeLessThanOrEqual(1500);
      expect(opened.filter((c) => c.at >= backAt).length).toBeLessThanOrEqual(1);
      // Calls started after it closed all succeeded; the replicas served them.
      const after = outcomes.filter((o) => o.at > closedAt);
      expect(after.map((o) => o.status.code)).toEqual(after.map(() => Status.OK));
      expect(replicas[0].counters.calls + replicas[1].counters.calls).toBeGreaterThanOrEqual(
        after.length,
      );
    } finally {
      driving = false;
      await traffic;
    }
  });
});
