import { status as Status } from '@grpc/grpc-js';
import {
  REASON_METADATA_KEY,
  RETRY_STOPPED_METADATA_KEY,
  methodsFromService,
} from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callUnary,
  loopbackFixture,
  testServiceClient,
  type Behaviour,
  type CallOutcome,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import {
  AdaptiveRetryBudget,
  createRetryInterceptor,
  type AdaptiveBudgetOptions,
  type GiveUpEvent,
} from './index';

/*
 * The adaptive budget and the client-side throttle against a real server: attempts are counted
 * where they land, on the server.
 */
const methods = methodsFromService(testServiceClient().service);
let backend: TestBackend;
const loop = loopbackFixture(afterEach);
let giveUps: GiveUpEvent[];
beforeEach(async () => {
  backend = await loop.backend();
  giveUps = [];
});

/**
 * A client with the retry layer and nothing else: it applies the budget's interceptor itself.
 * `alsoInChain` adds `budget.interceptor` below it too, as chains written for older versions do.
 */
function client(
  options: AdaptiveBudgetOptions,
  { maxAttempts, alsoInChain = false }: { maxAttempts?: number; alsoInChain?: boolean } = {},
): {
  client: TestServiceClient;
  budget: AdaptiveRetryBudget;
} {
  const budget = new AdaptiveRetryBudget(options);
  const c = loop.client(backend.address, {
    interceptors: [
      createRetryInterceptor({
        methods,
        budget,
        maxAttempts,
        initialBackoffMs: 1,
        maxBackoffMs: 2,
        onGiveUp: (event) => giveUps.push(event),
      }),
      ...(alsoInChain ? [budget.interceptor] : []),
    ],
  });
  return { client: c, budget };
}

let nextId = 0;
const call = (c: TestServiceClient, behaviour: Behaviour = {}) =>
  callUnary(
    c,
    'GetItem',
    {},
    {
      timeoutMs: 5000,
      metadata: behaviourMetadata({ callId: `c${++nextId}`, ...behaviour }),
    },
  );
const flaky: Behaviour = { failCode: Status.UNAVAILABLE, failAttempts: 1 };
const down: Behaviour = { failCode: Status.UNAVAILABLE };

it('retries that succeed cost nothing: 30 calls each cured by a retry, from 3 tokens', async () => {
  const { client: c, budget } = client({ maxTokens: 3, ratio: 0, throttle: false });
  for (let i = 0; i < 30; i++) expect((await call(c, flaky)).status.code).toBe(Status.OK);
  expect(backend.counters.calls).toBe(60);
  expect(budget.balance).toBe(3);
  expect(giveUps).toEqual([]);
});

it('retries that fail drain it: 3 tokens buy 3 failed retries, then none, not even a good one', async () => {
  const { client: c, budget } = client({ maxTokens: 3, ratio: 0, throttle: false });
  for (let i = 0; i < 3; i++) expect((await call(c, down)).status.code).toBe(Status.UNAVAILABLE);
  // 3 retries for the first call (of the 4 its 5 attempts allow), none for the others.
  expect(backend.counters.calls).toBe(3 + 3);
  expect(budget.balance).toBe(0);
  expect(giveUps.map((g) => g.reason)).toEqual(['budget', 'budget', 'budget']);
  const starved = await call(c, flaky);
  expect(starved.status.code).toBe(Status.UNAVAILABLE);
  expect(starved.status.metadata.get(RETRY_STOPPED_METADATA_KEY)).toEqual(['budget']);
  expect(backend.counters.calls).toBe(7);
});

it('budget.interceptor added to the chain as well counts each attempt once', async () => {
  const { client: c, budget } = client(
    { maxTokens: 3, ratio: 0, throttle: false },
    { maxAttempts: 2, alsoInChain: true },
  );
  expect((await call(c, down)).status.code).toBe(Status.UNAVAILABLE); // a failed retry: 2 left
  expect(budget.balance).toBe(2);
  // A retry cured: its token comes back once (twice would show 3).
  expect((await call(c, flaky)).status.code).toBe(Status.OK);
  expect(budget.balance).toBe(2);
  expect(backend.counters.calls).toBe(4);
});

it('one failed call of a quiet client (5 attempts, the default) does not throttle the next', async () => {
  // random 0: whenever the throttle's probability is above 0, it refuses.
  const { client: c } = client({ throttle: {}, random: () => 0 });
  expect((await call(c, down)).status.code).toBe(Status.UNAVAILABLE);
  expect(backend.counters.calls).toBe(5);
  const next = await call(c);
  expect(next.status.code).toBe(Status.OK);
  expect(backend.counters.calls).toBe(6);
});

it('deposits refill it: each call deposits 0.1, and the tenth makes a token', async () => {
  const { client: c } = client({ maxTokens: 1, ratio: 0.1, throttle: false });
  await call(c, down); // spends the one token
  backend.counters.reset();
  for (let i = 0; i < 8; i++) await call(c);
  const ninth = await call(c, flaky);
  expect(ninth.status.metadata.get(RETRY_STOPPED_METADATA_KEY)).toEqual(['budget']);
  const tenth = await call(c, flaky);
  expect(tenth.status.code).toBe(Status.OK);
  expect(backend.counters.calls).toBe(8 + 1 + 2);
});

/** Calls one after another while `until` is false, at most `max`; their outcomes. */
async function callWhile(
  c: TestServiceClient,
  max: number,
  until: (outcomes: CallOutcome[]) => boolean,
): Promise<CallOutcome[]> {
  const outcomes: CallOutcome[] = [];
  while (outcomes.length < max && !until(outcomes)) outcomes.push(await call(c));
  return outcomes;
}

const isThrottled = (o: CallOutcome) =>
  o.status.metadata.get(REASON_METADATA_KEY)[0] === 'throttled';

it('in a total outage most first attempts are refused locally (by createRetryInterceptor alone), with UNAVAILABLE and a reason; it recovers', async () => {
  const { client: c } = client({ throttle: { windowMs: 1000 } });
  backend.behaviour = down;
  const outage = await callWhile(c, 200, () => false);
  const throttled = outage.filter(isThrottled);
  // Up to 80% of attempts are refused once the window holds enough failures.
  expect(throttled.length).toBeGreaterThan(100);
  expect(backend.counters.calls).toBeLessThan(120);
  for (const o of throttled) {
    expect(o.status.code).toBe(Status.UNAVAILABLE);
    expect(o.status.details).toMatch(/client-side throttling/);
    expect(o.status.metadata.get(RETRY_STOPPED_METADATA_KEY)).toEqual(['throttled']);
  }
  // A call whose retry was refused ends with what the server said to its attempt before, not
  // the local refusal: a breaker above counts the failure, the caller sees the real cause.
  const retryRefused = outage.filter(
    (o) => !isThrottled(o) && o.status.metadata.get(RETRY_STOPPED_METADATA_KEY)[0] === 'throttled',
  );
  expect(retryRefused.length).toBeGreaterThan(0);
  for (const o of retryRefused) {
    expect(o.status.code).toBe(Status.UNAVAILABLE);
    expect(o.status.details).not.toMatch(/client-side throttling/);
  }
  expect(giveUps.filter((g) => g.reason === 'throttled').length).toBe(
    throttled.length + retryRefused.length,
  );

  // The servers are back: within a bounded number of calls (about a second of them), 50 in a
  // row succeed, and the server saw each of them.
  backend.behaviour = {};
  backend.counters.reset();
  const recovery = await callWhile(
    c,
    20_000,
    (os) => os.length >= 50 && os.slice(-50).every((o) => o.status.code === Status.OK),
  );
  expect(recovery.slice(-50).every((o) => o.status.code === Status.OK)).toBe(true);
  expect(backend.counters.calls).toBe(recovery.filter((o) => !isThrottled(o)).length);
});
