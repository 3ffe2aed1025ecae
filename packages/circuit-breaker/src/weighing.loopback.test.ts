import { status as Status } from '@grpc/grpc-js';
import { createRetryInterceptor } from '@grpc-resilience/retry';
import { REASON_METADATA_KEY, methodsFromService } from '@grpc-resilience/status';
import { callUnary, createTestClient, testServiceClient } from '@grpc-resilience/testing';
import {
  BALANCED_BREAKER_OPTIONS,
  createCircuitBreakerInterceptor,
  type BreakerStateChange,
  type CircuitBreakerOptions,
} from './index';
import { meta, useBackend } from './loopback.test.helper';

const fixture = useBackend();

const methods = methodsFromService(testServiceClient().service);
/** What a Node handler's thrown Error becomes on the wire: UNKNOWN with its message. */
const declined = meta({ failCode: Status.UNKNOWN, failDetails: 'card declined' });
/** A code outside the table, as services that send HTTP-like numbers do. */
const offTable = meta({ failCode: 402 as Status, failDetails: 'payment required' });

/** The channel factory's order: breaker outside the retry, so each logical call counts once. */
function stackClient(options: CircuitBreakerOptions = {}) {
  const changes: BreakerStateChange[] = [];
  const breaker = createCircuitBreakerInterceptor({
    target: 'test',
    ...options,
    onStateChange: (change) => changes.push(change),
  });
  // No budget: its throttle would refuse some of these calls locally at random after a failed
  // one (the breaker weighs such refusals as nothing), and the weights are what this file tests.
  const retry = createRetryInterceptor({
    methods,
    initialBackoffMs: 1,
    maxBackoffMs: 2,
    budget: false,
  });
  const client = createTestClient(fixture.backend.address, {
    interceptors: [breaker.interceptor, retry, breaker.attemptGate],
  });
  fixture.clients.push(client);
  return { breaker, client, changes };
}

it.each<[string, CircuitBreakerOptions]>([
  ['single target', {}],
  ['balanced target', BALANCED_BREAKER_OPTIONS],
])(
  '%s: 12 calls failing with UNKNOWN or an off-table code leave it closed; valid calls go on',
  async (_, options) => {
    const { breaker, client, changes } = stackClient(options);
    const failed = [];
    for (let i = 0; i < 12; i++)
      failed.push(await callUnary(client, 'Charge', {}, i % 2 ? offTable : declined));
    expect(failed.map((o) => o.status.code)).toEqual(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? 402 : Status.UNKNOWN)),
    );
    const valid = [];
    for (let i = 0; i < 20; i++) valid.push(await callUnary(client, 'Charge', {}));
    expect(valid.every((o) => o.status.code === Status.OK)).toBe(true);
    expect(fixture.backend.counters.calls).toBe(32); // every call reached the server, once
    expect(changes).toEqual([]);
    expect(breaker.stateOf()).toBe('closed');
  },
);

it('application errors weigh 1/5 by default: the 25th in a row opens it, a success wipes them', async () => {
  const { breaker, client } = stackClient({ consecutiveFailures: 5 });
  for (let i = 0; i < 24; i++) await callUnary(client, 'GetItem', {}, declined);
  expect(breaker.stateOf()).toBe('closed');
  await callUnary(client, 'GetItem', {}); // a success: what the server's errors added is gone
  for (let i = 0; i < 24; i++) await callUnary(client, 'GetItem', {}, offTable);
  expect(breaker.stateOf()).toBe('closed');
  await callUnary(client, 'GetItem', {}, offTable);
  expect(breaker.stateOf()).toBe('open');
});

it('transport failures and UNAVAILABLE still count whole, mixed with application errors', async () => {
  const { breaker, client } = stackClient({ consecutiveFailures: 3 });
  const unavailable = meta({ failCode: Status.UNAVAILABLE });
  await callUnary(client, 'GetItem', {}, unavailable); // 1 (after its retries)
  for (let i = 0; i < 5; i++) await callUnary(client, 'GetItem', {}, declined); // + 1
  expect(breaker.stateOf()).toBe('closed');
  await callUnary(client, 'GetItem', {}, meta({ failCode: Status.DEADLINE_EXCEEDED })); // + 1
  expect(breaker.stateOf()).toBe('open');
});

it('a weight of 0 never counts application errors; 1 counts them whole', async () => {
  const never = stackClient({ consecutiveFailures: 2, applicationFailureWeight: 0 });
  for (let i = 0; i < 30; i++) await callUnary(never.client, 'GetItem', {}, declined);
  expect(never.breaker.stateOf()).toBe('closed');
  const whole = stackClient({ consecutiveFailures: 2, applicationFailureWeight: 1 });
  await callUnary(whole.client, 'GetItem', {}, declined);
  await callUnary(whole.client, 'GetItem', {}, offTable);
  expect(whole.breaker.stateOf()).toBe('open');
});

it("a probe the server's application answers with an error closes it: the target is up", async () => {
  let now = 0;
  const { breaker, client, changes } = stackClient({ consecutiveFailures: 1, now: () => now });
  await callUnary(client, 'GetItem', {}, meta({ failCode: Status.UNAVAILABLE }));
  expect(breaker.stateOf()).toBe('open');
  now += 1000;
  const probe = await callUnary(client, 'GetItem', {}, declined);
  expect(probe.status.details).toBe('card declined');
  expect(changes.map((c) => c.to)).toEqual(['open', 'half-open', 'closed']);
});

it("the layer's own refusals count for nothing: an inner breaker's circuit-open", async () => {
  const outer = createCircuitBreakerInterceptor({ target: 'outer', consecutiveFailures: 2 });
  const inner = createCircuitBreakerInterceptor({
    target: 'inner',
    consecutiveFailures: 1,
    halfOpenAfterMs: 60_000,
  });
  const client = createTestClient(fixture.backend.address, {
    interceptors: [outer.interceptor, inner.interceptor],
  });
  fixture.clients.push(client);
  await callUnary(client, 'GetItem', {}, meta({ failCode: Status.UNAVAILABLE })); // outer: 1
  expect([outer.stateOf(), inner.stateOf()]).toEqual(['closed', 'open']);
  for (let i = 0; i < 5; i++) {
    const refused = await callUnary(client, 'GetItem', {});
    expect(refused.status.metadata.get(REASON_METADATA_KEY)).toEqual(['circuit-open']);
  }
  expect(outer.stateOf()).toBe('closed');
  expect(fixture.backend.counters.calls).toBe(1);
});

it('a server shedding load (RESOURCE_EXHAUSTED with pushback) counts for nothing; without a hint it counts', async () => {
  let now = 0;
  const { breaker, client, changes } = stackClient({ consecutiveFailures: 3, now: () => now });
  const shed = meta({ failCode: Status.RESOURCE_EXHAUSTED, pushbackMs: 1 });
  for (let i = 0; i < 20; i++) {
    const outcome = await callUnary(client, 'GetItem', {}, shed);
    expect(outcome.status.code).toBe(Status.RESOURCE_EXHAUSTED);
  }
  expect(breaker.stateOf()).toBe('closed');
  // Each of those reached the server and was retried after its pushback, to the last attempt.
  expect(fixture.backend.counters.calls % 20).toBe(0);
  expect(fixture.backend.counters.calls).toBeGreaterThan(20);
  // A quota error without a hint is still the target failing to serve: three open it.
  const quota = meta({ failCode: Status.RESOURCE_EXHAUSTED });
  for (let i = 0; i < 3; i++) await callUnary(client, 'GetItem', {}, quota);
  expect(breaker.stateOf()).toBe('open');
  // A probe the server sheds closes it: the target is up and protecting itself.
  now += 1000;
  expect((await callUnary(client, 'GetItem', {}, shed)).status.code).toBe(
    Status.RESOURCE_EXHAUSTED,
  );
  expect(changes.map((c) => c.to)).toEqual(['open', 'half-open', 'closed']);
});

it('a call the server shed ends a run of failures, as a success does', async () => {
  const { breaker, client } = stackClient({ consecutiveFailures: 3 });
  const unavailable = meta({ failCode: Status.UNAVAILABLE });
  const shed = meta({ failCode: Status.RESOURCE_EXHAUSTED, pushbackMs: 1 });
  for (let i = 0; i < 2; i++) await callUnary(client, 'GetItem', {}, unavailable);
  await callUnary(client, 'GetItem', {}, shed);
  for (let i = 0; i < 2; i++) await callUnary(client, 'GetItem', {}, unavailable);
  expect(breaker.stateOf()).toBe('closed');
  await callUnary(client, 'GetItem', {}, unavailable);
  expect(breaker.stateOf()).toBe('open');
});
