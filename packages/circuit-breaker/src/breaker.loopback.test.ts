import { status as Status } from '@grpc/grpc-js';
import { createRetryInterceptor, type GiveUpEvent } from '@grpc-resilience/retry';
import { ConfigError, REASON_METADATA_KEY, methodsFromService } from '@grpc-resilience/status';
import {
  TEST_METHODS,
  callBidi,
  callServerStream,
  callUnary,
  createTestClient,
  testServiceClient,
  waitUntil,
} from '@grpc-resilience/testing';
import {
  createCircuitBreakerInterceptor,
  type BreakerStateChange,
  type CircuitBreakerOptions,
} from './index';
import { meta, useBackend } from './loopback.test.helper';

const fixture = useBackend();

function breakerClient(options: CircuitBreakerOptions = {}) {
  const breaker = createCircuitBreakerInterceptor({ target: 'test', ...options });
  const client = createTestClient(fixture.backend.address, { interceptors: [breaker.interceptor] });
  fixture.clients.push(client);
  return { breaker, client };
}
const failing = meta({ failCode: Status.UNAVAILABLE });

it('1. five UNAVAILABLE open it: the sixth fails at once, unsent; a probe after the wait closes it', async () => {
  const { breaker, client } = breakerClient({ halfOpenAfterMs: 150 });
  for (let i = 0; i < 5; i++)
    expect((await callUnary(client, 'GetItem', {}, failing)).status.code).toBe(Status.UNAVAILABLE);
  expect(breaker.stateOf()).toBe('open');
  const rejected = [];
  for (let i = 0; i < 20; i++) rejected.push(await callUnary(client, 'GetItem', {}));
  for (const outcome of rejected) {
    expect(outcome.status).toMatchObject({
      code: Status.UNAVAILABLE,
      details: 'circuit open for test',
    });
    expect(outcome.status.metadata.get(REASON_METADATA_KEY)).toEqual(['circuit-open']);
  }
  const durations = rejected.map((o) => o.durationMs).sort((a, b) => a - b);
  // At once: well under a millisecond here; the bound leaves room for a loaded CI machine.
  expect(durations[10]).toBeLessThan(20);
  expect(fixture.backend.counters.calls).toBe(5); // no sixth call reached the server

  await waitUntil(() => breaker.stateOf() === 'half-open', { timeoutMs: 1000 });
  const probe = await callUnary(client, 'GetItem', {});
  expect(probe.status.code).toBe(Status.OK);
  expect(breaker.stateOf()).toBe('closed');
  expect(fixture.backend.counters.calls).toBe(6);
});

it("2. a storm of INVALID_ARGUMENT and the caller's own cancellations never open it", async () => {
  const { breaker, client } = breakerClient({ consecutiveFailures: 3 });
  await Promise.all(
    Array.from({ length: 100 }, () =>
      callUnary(client, 'GetItem', {}, meta({ failCode: Status.INVALID_ARGUMENT })),
    ),
  );
  for (let i = 0; i < 5; i++) {
    await callUnary(
      client,
      'GetItem',
      {},
      { ...meta({ hang: true }), onCall: (call) => setTimeout(() => call.cancel(), 5) },
    );
  }
  expect(breaker.stateOf()).toBe('closed');
  expect((await callUnary(client, 'GetItem', {})).status.code).toBe(Status.OK);
});

it('streams that end by their own deadline never open it; unary calls that time out still do', async () => {
  const { breaker, client } = breakerClient({ consecutiveFailures: 2 });
  const opened: BreakerStateChange[] = [];
  breaker.onStateChange((change) => opened.push(change));
  const hang = { ...meta({ hang: true }), timeoutMs: 50 };
  for (let i = 0; i < 5; i++) {
    const streamed = await callServerStream(client, 'ListItems', {}, hang);
    const synced = await callBidi(client, 'SyncItems', [{ id: 'a' }], hang);
    expect([streamed.status.code, synced.status.code]).toEqual([
      Status.DEADLINE_EXCEEDED,
      Status.DEADLINE_EXCEEDED,
    ]);
  }
  // A stream that was answered before its deadline ran out is no failure either.
  const answered = await callServerStream(
    client,
    'ListItems',
    {},
    { ...meta({ messages: 100, messageIntervalMs: 20 }), timeoutMs: 60 },
  );
  expect(answered.status.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(answered.messages.length).toBeGreaterThan(0);
  expect(opened).toEqual([]);
  expect(breaker.stateOf()).toBe('closed');

  for (let i = 0; i < 2; i++) {
    expect((await callUnary(client, 'GetItem', {}, hang)).status.code).toBe(
      Status.DEADLINE_EXCEEDED,
    );
  }
  expect(breaker.stateOf()).toBe('open');
});

it('2. a low-traffic service (1 call/s) failing still trips on its failure rate', async () => {
  let now = 0;
  const { breaker, client } = breakerClient({
    consecutiveFailures: 1000, // out of the way: the rate alone must trip it
    failureRate: { threshold: 0.5, windowSize: 10, minimumCalls: 6 },
    now: () => now,
  });
  const outcomes: number[] = [];
  for (let i = 0; i < 10 && breaker.stateOf() === 'closed'; i++) {
    now += 1000; // one call a second, by the breaker's clock
    outcomes.push((await callUnary(client, 'GetItem', {}, i % 3 === 0 ? {} : failing)).status.code);
  }
  expect(breaker.stateOf()).toBe('open');
  expect(outcomes.length).toBeLessThanOrEqual(7);
});

it('3. half-open with 50 concurrent callers: exactly one probe reaches the server, 49 fail at once', async () => {
  let now = 0;
  const { breaker, client } = breakerClient({
    consecutiveFailures: 2,
    halfOpenAfterMs: 1000,
    now: () => now,
  });
  await callUnary(client, 'GetItem', {}, failing);
  await callUnary(client, 'GetItem', {}, failing);
  expect(breaker.stateOf()).toBe('open');
  fixture.backend.counters.reset();
  now += 1000;
  const outcomes = await Promise.all(
    Array.from({ length: 50 }, () => callUnary(client, 'GetItem', {}, meta({ delayMs: 50 }))),
  );
  expect(fixture.backend.counters.calls).toBe(1);
  const ok = outcomes.filter((o) => o.status.code === Status.OK);
  const rejected = outcomes.filter(
    (o) => o.status.metadata.get(REASON_METADATA_KEY)[0] === 'circuit-open',
  );
  expect([ok.length, rejected.length]).toEqual([1, 49]);
  for (const outcome of rejected) expect(outcome.durationMs).toBeLessThan(ok[0].durationMs);
  expect(breaker.stateOf()).toBe('closed');
});

it('a failed probe opens it again, for a growing wait when configured', async () => {
  let now = 0;
  const { breaker, client } = breakerClient({
    consecutiveFailures: 1,
    halfOpenAfterMs: 100,
    maxHalfOpenAfterMs: 400,
    halfOpenBackoffMultiplier: 2,
    now: () => now,
  });
  await callUnary(client, 'GetItem', {}, failing);
  const waits: number[] = [];
  for (let round = 0; round < 4; round++) {
    let waited = 0;
    while (breaker.stateOf() === 'open') {
      now += 50;
      waited += 50;
    }
    waits.push(waited);
    await callUnary(client, 'GetItem', {}, failing); // the probe fails
  }
  expect(waits).toEqual([100, 200, 400, 400]);
});

it('state changes are events, with dispose()', async () => {
  const { breaker, client } = breakerClient({ consecutiveFailures: 1, halfOpenAfterMs: 10 });
  const changes: BreakerStateChange[] = [];
  const subscription = breaker.onStateChange((change) => changes.push(change));
  await callUnary(client, 'GetItem', {}, failing);
  await waitUntil(() => breaker.stateOf() === 'half-open');
  await callUnary(client, 'GetItem', {});
  subscription.dispose();
  await callUnary(client, 'GetItem', {}, failing);
  expect(changes.map((c) => `${c.from}>${c.to}`)).toEqual([
    'closed>open',
    'open>half-open',
    'half-open>closed',
  ]);
  expect(changes[0].name).toBe('test');
});

it('a state listener that throws costs no call its outcome, and the other listeners still hear', async () => {
  const { breaker, client } = breakerClient({ consecutiveFailures: 1 });
  const heard: string[] = [];
  const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    breaker.onStateChange(() => {
      throw new Error('listener bug');
    });
    breaker.onStateChange((change) => heard.push(change.to));
    const failed = await callUnary(client, 'GetItem', {}, failing); // opens the circuit
    const refused = await callUnary(client, 'GetItem', {});
    expect([failed.status.code, failed.statusEvents]).toEqual([Status.UNAVAILABLE, 1]);
    expect(refused.status.details).toBe('circuit open for test');
    expect(heard).toEqual(['open']);
    expect(String(emitWarning.mock.calls[0]?.[0])).toContain('listener bug');
  } finally {
    emitWarning.mockRestore();
  }
});

it('method scope keeps one circuit per method', async () => {
  const { breaker, client } = breakerClient({ scope: 'method', consecutiveFailures: 2 });
  await callUnary(client, 'PutItem', {}, failing);
  await callUnary(client, 'PutItem', {}, failing);
  expect(breaker.stateOf(TEST_METHODS.putItem)).toBe('open');
  expect(breaker.stateOf(TEST_METHODS.getItem)).toBe('closed');
  expect((await callUnary(client, 'GetItem', {})).status.code).toBe(Status.OK);
  const rejected = await callUnary(client, 'PutItem', {});
  expect(rejected.status.details).toBe(`circuit open for test ${TEST_METHODS.putItem}`);
});

it('inside retry: each attempt counts, and an open circuit ends the retry loop without calling', async () => {
  const breaker = createCircuitBreakerInterceptor({ target: 'test', consecutiveFailures: 3 });
  const giveUps: GiveUpEvent[] = [];
  const methods = methodsFromService(testServiceClient().service);
  const client = createTestClient(fixture.backend.address, {
    interceptors: [
      createRetryInterceptor({
        methods,
        initialBackoffMs: 1,
        maxBackoffMs: 2,
        budget: false,
        onGiveUp: (e) => giveUps.push(e),
      }),
      breaker.interceptor,
    ],
  });
  fixture.clients.push(client);
  await callUnary(client, 'GetItem', {}, failing); // 3 attempts, 3 failures: open
  expect(fixture.backend.counters.calls).toBe(3);
  expect(breaker.stateOf()).toBe('open');
  const outcome = await callUnary(client, 'GetItem', {}, failing);
  expect(outcome.status.metadata.get(REASON_METADATA_KEY)).toEqual(['circuit-open']);
  expect(giveUps.at(-1)).toMatchObject({ reason: 'circuit-open', attempts: 1 });
  expect(fixture.backend.counters.calls).toBe(3);
});

it('bulkhead: over the cap, calls fail at once with RESOURCE_EXHAUSTED marked local', async () => {
  const { breaker, client } = breakerClient({ bulkhead: { maxConcurrent: 2 } });
  const slow = [
    callUnary(client, 'GetItem', {}, meta({ delayMs: 100 })),
    callUnary(client, 'GetItem', {}, meta({ delayMs: 100 })),
  ];
  let slowEnded = false;
  const slowDone = Promise.all(slow).then((outcomes) => ((slowEnded = true), outcomes));
  const over = await callUnary(client, 'GetItem', {});
  expect(over.status.code).toBe(Status.RESOURCE_EXHAUSTED);
  expect(over.status.metadata.get(REASON_METADATA_KEY)).toEqual(['bulkhead']);
  expect(slowEnded).toBe(false); // refused at once, not queued behind the two in flight
  expect((await slowDone).map((o) => o.status.code)).toEqual([0, 0]);
  expect(breaker.inFlight).toBe(0);
  expect((await callUnary(client, 'GetItem', {})).status.code).toBe(Status.OK);
});

it.each<[unknown, string]>([
  [
    { consecutiveFailures: 0 },
    'breaker.consecutiveFailures must be an integer from 1 to 10000, received 0',
  ],
  [
    { halfOpenAfterMs: -1 },
    'breaker.halfOpenAfterMs must be an integer from 1 to 3600000, received -1',
  ],
  [
    { halfOpenAfterMs: 1000, maxHalfOpenAfterMs: 10 },
    'breaker.maxHalfOpenAfterMs must not be below halfOpenAfterMs (1000), received 10',
  ],
  [{ scope: 'host' }, 'breaker.scope must be one of "target", "method", received "host"'],
  [
    { failureRate: { threshold: 2 } },
    'breaker.failureRate.threshold must be a finite number from 0.01 to 0.99, received 2',
  ],
  // cockatiel's CountBreaker throws a RangeError for 1: caught here, as a ConfigError.
  [
    { failureRate: { threshold: 1 } },
    'breaker.failureRate.threshold must be a finite number from 0.01 to 0.99, received 1',
  ],
  [
    { applicationFailureWeight: 1.5 },
    'breaker.applicationFailureWeight must be a finite number from 0 to 1, received 1.5',
  ],
  [{ onStateChange: 'log' }, 'breaker.onStateChange must be a function, received "log"'],
  [
    { bulkhead: {} },
    'breaker.bulkhead.maxConcurrent is required with a bulkhead, received undefined',
  ],
  [{ treshold: 1 }, 'breaker.treshold is not a known option'],
])('%j throws ConfigError', (options, message) => {
  expect(() => createCircuitBreakerInterceptor(options as never)).toThrow(ConfigError);
  expect(() => createCircuitBreakerInterceptor(options as never)).toThrow(message);
});
