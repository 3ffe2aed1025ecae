import { status as Status } from '@grpc/grpc-js';
import {
  AdaptiveRetryBudget,
  createRetryInterceptor,
  type GiveUpEvent,
} from '@grpc-resilience/retry';
import {
  REASON_METADATA_KEY,
  RETRY_STOPPED_METADATA_KEY,
  methodsFromService,
} from '@grpc-resilience/status';
import {
  callUnary,
  createTestClient,
  testServiceClient,
  waitUntil,
} from '@grpc-resilience/testing';
import { createCircuitBreakerInterceptor } from './index';
import { meta, useBackend } from './loopback.test.helper';

/*
 * The breaker's retryGate, asked by the retry layer itself before each retry (the channel
 * factory's wiring): no attempt gate in the chain below the retry.
 */
const fixture = useBackend();
const methods = methodsFromService(testServiceClient().service);

it('an open circuit ends the retries of calls in flight; the refused retry keeps no budget token', async () => {
  // The circuit stays open through the slow call's backoff (no half-open probe meanwhile).
  const breaker = createCircuitBreakerInterceptor({
    consecutiveFailures: 1,
    halfOpenAfterMs: 60_000,
  });
  const budget = new AdaptiveRetryBudget({ maxTokens: 5, ratio: 0, throttle: false });
  const giveUps: GiveUpEvent[] = [];
  let asked = 0;
  const retry = createRetryInterceptor({
    methods,
    budget,
    // Each retry waits about 2 s: time for another call to open the circuit on a loaded machine.
    initialBackoffMs: 2000,
    maxBackoffMs: 2000,
    random: () => 0.99,
    retryGate: (method) => (asked++, breaker.retryGate(method)),
    onGiveUp: (event) => giveUps.push(event),
  });
  const client = createTestClient(fixture.backend.address, {
    interceptors: [breaker.interceptor, retry],
  });
  fixture.clients.push(client);
  const slow = callUnary(
    client,
    'GetItem',
    {},
    meta({ callId: 'slow', failCode: Status.UNAVAILABLE }),
  );
  // Its first attempt failed.
  await waitUntil(() => fixture.backend.counters.calls === 1, { timeoutMs: 10_000 });
  // Another call fails with a code that is not retried but counts in full: the circuit opens.
  await callUnary(client, 'GetItem', {}, meta({ failCode: Status.DEADLINE_EXCEEDED }));
  expect(breaker.stateOf()).toBe('open');
  expect(asked).toBe(0); // two first attempts: the breaker outside admitted them
  const outcome = await slow;
  expect(outcome.status.code).toBe(Status.UNAVAILABLE);
  expect(outcome.status.metadata.get(REASON_METADATA_KEY)).toEqual(['circuit-open']);
  expect(outcome.status.metadata.get(RETRY_STOPPED_METADATA_KEY)).toEqual(['circuit-open']);
  expect(giveUps.map((g) => [g.reason, g.attempts])).toEqual([
    ['non-retryable', 1],
    ['circuit-open', 2],
  ]);
  expect(asked).toBe(1);
  expect(fixture.backend.counters.calls).toBe(2); // the slow call's retry never went out
  // The retry took a token and was refused locally: it added no load, so the token came back.
  expect(budget.balance).toBe(5);
});

it("a half-open probe's own retries pass the gate, and the probe closes the circuit", async () => {
  let now = 0;
  const breaker = createCircuitBreakerInterceptor({ consecutiveFailures: 1, now: () => now });
  const retry = createRetryInterceptor({
    methods,
    budget: false,
    initialBackoffMs: 1,
    maxBackoffMs: 2,
    retryGate: breaker.retryGate,
  });
  const client = createTestClient(fixture.backend.address, {
    interceptors: [breaker.interceptor, retry],
  });
  fixture.clients.push(client);
  const down = meta({ failCode: Status.DEADLINE_EXCEEDED }); // not retried, counts in full
  expect((await callUnary(client, 'GetItem', {}, down)).status.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(breaker.stateOf()).toBe('open');
  now += 60_000;
  const probe = meta({ callId: 'probe', failCode: Status.UNAVAILABLE, failAttempts: 1 });
  expect((await callUnary(client, 'GetItem', {}, probe)).status.code).toBe(Status.OK);
  expect(breaker.stateOf()).toBe('closed');
  expect(fixture.backend.counters.calls).toBe(3); // the failure, the probe and its retry
});
