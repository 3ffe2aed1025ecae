import * as http2 from 'node:http2';
import { Metadata, status as Status } from '@grpc/grpc-js';
import { createDeadlineInterceptor } from '@grpc-resilience/deadline';
import {
  createDedupInterceptor,
  createIdempotencyKeyInterceptor,
  REPLAYED_METADATA_KEY,
} from '@grpc-resilience/idempotency';
import { classifyStatus, methodsFromService } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callBidi,
  callClientStream,
  callServerStream,
  callUnary,
  extraStatusCount,
  loopbackFixture,
  startTestBackend,
  testServiceClient,
  type Behaviour,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import {
  ATTEMPTS_METADATA_KEY,
  createRetryInterceptor,
  type GiveUpEvent,
  type RetryOptions,
} from './index';

const methods = methodsFromService(testServiceClient().service);
let backend: TestBackend;
let giveUps: GiveUpEvent[];

let extraStatusesBefore: number;
beforeEach(async () => {
  backend = await loop.backend({ serverOptions: { interceptors: [createDedupInterceptor()] } });
  giveUps = [];
  extraStatusesBefore = extraStatusCount();
});
// Declared before the fixture, so it runs before the teardown (jest runs afterEach hooks in order).
afterEach(() => {
  // No call of the test delivered a second status, even one that arrived after its outcome.
  expect(extraStatusCount()).toBe(extraStatusesBefore);
});
const loop = loopbackFixture(afterEach);

/** The client side of the layer as the factory composes it: deadline, key, retry. */
function resilient(retry: RetryOptions = {}, address = backend.address): TestServiceClient {
  return loop.client(address, {
    interceptors: [
      createDeadlineInterceptor(),
      createIdempotencyKeyInterceptor({ methods }),
      createRetryInterceptor({
        methods,
        initialBackoffMs: 5,
        maxBackoffMs: 20,
        onGiveUp: (event) => giveUps.push(event),
        ...retry,
      }),
    ],
  });
}

const meta = (behaviour: Behaviour) => ({ metadata: behaviourMetadata(behaviour) });
const attemptsReported = (trailers: Metadata) =>
  Number(trailers.get(ATTEMPTS_METADATA_KEY)[0] ?? 1);

it('1. idempotent method failing twice with UNAVAILABLE: succeeds on the 3rd and last attempt', async () => {
  const behaviour = { callId: 'c1', failCode: Status.UNAVAILABLE, failAttempts: 2 };
  const outcome = await callUnary(resilient(), 'GetItem', { id: 'a' }, meta(behaviour));
  expect(outcome.status.code).toBe(Status.OK);
  expect(outcome.response).toMatchObject({ id: 'a' });
  expect(backend.counters.attemptsOf('c1')).toBe(3);
  expect(attemptsReported(outcome.status.metadata)).toBe(3);
  // Retries say which attempt they are, as grpc-js's own do.
  expect(backend.counters.records[2].metadata.get('grpc-previous-rpc-attempts')).toEqual(['2']);
});

it.each([Status.INVALID_ARGUMENT, Status.NOT_FOUND, Status.PERMISSION_DENIED])(
  '2. %s is never retried: exactly 1 attempt',
  async (code) => {
    const outcome = await callUnary(
      resilient(),
      'GetItem',
      {},
      meta({ callId: 'c', failCode: code }),
    );
    expect(outcome.status.code).toBe(code);
    expect(backend.counters.attemptsOf('c')).toBe(1);
    expect(giveUps[0]).toMatchObject({ reason: 'non-retryable', attempts: 1 });
  },
);

it('3. non-idempotent call whose server applied the side effect then failed: not retried', async () => {
  const behaviour = { callId: 'c', failCode: Status.UNAVAILABLE, failAfterEffect: true };
  const outcome = await callUnary(resilient(), 'Charge', { account: 'a' }, meta(behaviour));
  expect(outcome.status.code).toBe(Status.UNAVAILABLE);
  expect(backend.counters.sideEffects).toBe(1);
  expect(backend.counters.attemptsOf('c')).toBe(1);
  expect(giveUps[0].reason).toBe('not-idempotent');
});

it('4. keyed non-idempotent call, response lost to a reset after the side effect: retried, replayed, charged once', async () => {
  const proxy = await loop.proxy(backend.address);
  const client = resilient({ serverDeduplicates: true }, proxy.address);
  expect((await callUnary(client, 'GetItem', {})).status.code).toBe(Status.OK); // connected
  proxy.closeAfterBytes(1, 'downstream', 1); // the server's next answer never arrives
  const outcome = await callUnary(
    client,
    'Charge',
    { account: 'a', amountCents: 500 },
    meta({ callId: 'pay' }),
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(outcome.response).toMatchObject({ chargeId: 'backend-1' });
  expect(backend.counters.attemptsOf('pay')).toBe(1); // the handler ran once
  expect(backend.counters.sideEffects).toBe(1);
  expect(attemptsReported(outcome.status.metadata)).toBe(2);
  expect(outcome.status.metadata.get(REPLAYED_METADATA_KEY)).toEqual(['true']);
});

async function outage(
  calls: number,
  client: TestServiceClient,
  behaviour: Behaviour = { failCode: Status.UNAVAILABLE },
) {
  for (let i = 0; i < calls; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, () => callUnary(client, 'GetItem', {}, meta(behaviour))),
    );
  }
}

it('5. total outage, 1000 calls: at most 1.1 attempts per call with the default budget, 5 (the default maxAttempts) without', async () => {
  await outage(1000, resilient({ initialBackoffMs: 1, maxBackoffMs: 2 }));
  // The adaptive budget's throttle, applied by the retry interceptor alone, refuses most
  // attempts locally, first attempts included; the retries it lets through are held by tokens.
  expect(backend.counters.calls).toBeLessThanOrEqual(1100);
  const stopped = (reason: string) => giveUps.filter((g) => g.reason === reason).length;
  expect(stopped('throttled')).toBeGreaterThan(500);
  expect(stopped('throttled') + stopped('budget') + stopped('max-attempts')).toBe(1000);
  backend.counters.reset();
  await outage(1000, resilient({ initialBackoffMs: 1, maxBackoffMs: 2, budget: false }));
  expect(backend.counters.calls).toBe(5000);
});

it('5. the budget refills when the outage ends', async () => {
  const client = resilient({ initialBackoffMs: 1, maxBackoffMs: 2, budget: { minPerSecond: 0 } });
  await outage(300, client);
  const flaky = { failCode: Status.UNAVAILABLE, failAttempts: 1 };
  const starved = await callUnary(client, 'GetItem', {}, meta({ ...flaky, callId: 'starved' }));
  expect(starved.status.code).toBe(Status.UNAVAILABLE);
  expect(giveUps.at(-1)!.reason).toBe('budget');
  await Promise.all(Array.from({ length: 100 }, () => callUnary(client, 'GetItem', {})));
  const healed = await callUnary(client, 'GetItem', {}, meta({ ...flaky, callId: 'healed' }));
  expect(healed.status.code).toBe(Status.OK);
  expect(backend.counters.attemptsOf('healed')).toBe(2);
});

it('6. pushback of 200 ms: the next attempt starts no sooner; a malformed or negative one stops retries', async () => {
  const client = resilient();
  const outcome = await callUnary(
    client,
    'GetItem',
    {},
    meta({ callId: 'p', failCode: Status.UNAVAILABLE, failAttempts: 1, pushbackMs: 200 }),
  );
  expect(outcome.status.code).toBe(Status.OK);
  const [first, second] = backend.counters.records;
  expect(second.at - first.at).toBeGreaterThanOrEqual(200);
  for (const pushbackMs of ['soon', '-1', '1.5']) {
    const stopped = await callUnary(
      client,
      'GetItem',
      {},
      meta({ callId: pushbackMs, failCode: Status.UNAVAILABLE, pushbackMs }),
    );
    expect(stopped.status.code).toBe(Status.UNAVAILABLE);
    expect(backend.counters.attemptsOf(pushbackMs)).toBe(1);
    expect(giveUps.at(-1)!.reason).toBe('pushback');
  }
});

it('7. deadline 300 ms, backoff 1 s: ends at once with the last real status, not at the deadline', async () => {
  const client = resilient({ initialBackoffMs: 1000, maxBackoffMs: 1000, random: () => 0.999 });
  const outcome = await callUnary(
    client,
    'GetItem',
    {},
    { ...meta({ failCode: Status.UNAVAILABLE, failDetails: 'db down' }), timeoutMs: 300 },
  );
  expect(outcome.status).toMatchObject({ code: Status.UNAVAILABLE, details: 'db down' });
  // Sleeping the 1 s backoff would have ended it DEADLINE_EXCEEDED at 300 ms; it gave up at once.
  expect(outcome.durationMs).toBeLessThan(1000);
  expect(giveUps[0].reason).toBe('deadline');
});

describe('8. streams', () => {
  it('a server stream failing before its first message is retried', async () => {
    const outcome = await callServerStream(
      resilient(),
      'ListItems',
      { count: 3 },
      meta({ callId: 's', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
    );
    expect(outcome.status.code).toBe(Status.OK);
    expect(outcome.messages).toHaveLength(3);
    expect(backend.counters.attemptsOf('s')).toBe(2);
  });

  it('a server stream failing after its first message is not: the error is final', async () => {
    const behaviour = {
      callId: 's',
      failCode: Status.UNAVAILABLE,
      failAttempts: 1,
      failAfterMessages: 2,
    };
    const outcome = await callServerStream(resilient(), 'ListItems', { count: 5 }, meta(behaviour));
    expect(outcome.status.code).toBe(Status.UNAVAILABLE);
    expect(outcome.messages).toHaveLength(2);
    expect(backend.counters.attemptsOf('s')).toBe(1);
    expect(giveUps[0].reason).toBe('committed');
  });

  const items = Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, value: 'v' }));

  it('a client stream is retried with all its buffered messages replayed in order', async () => {
    const outcome = await callClientStream(
      resilient(),
      'UploadItems',
      items,
      meta({ callId: 'u', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
    );
    expect(outcome.status.code).toBe(Status.OK);
    expect(outcome.response).toMatchObject({ count: 5, ids: items.map((i) => i.id) });
    expect(backend.counters.attemptsOf('u')).toBe(2);
    expect(backend.counters.messagesReceived).toBe(10);
  });

  it('a client stream over the buffer limit is not retried', async () => {
    const outcome = await callClientStream(
      resilient({ maxBufferBytes: 20 }),
      'UploadItems',
      items,
      meta({ callId: 'u', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
    );
    expect(outcome.status.code).toBe(Status.UNAVAILABLE);
    expect(backend.counters.attemptsOf('u')).toBe(1);
    expect(giveUps[0].reason).toBe('committed');
  });

  it('a bidi stream failing before any reply is retried, replies in order', async () => {
    const outcome = await callBidi(
      resilient(),
      'SyncItems',
      items,
      meta({ callId: 'b', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
    );
    expect(outcome.status.code).toBe(Status.OK);
    expect(outcome.messages.map((m) => m.id)).toEqual(items.map((i) => i.id));
    expect(backend.counters.attemptsOf('b')).toBe(2);
  });
});

it('9. 200 concurrent calls through intermittent failures: one outcome each, attempts add up', async () => {
  const client = resilient({ budget: false });
  const outcomes = await Promise.all(
    Array.from({ length: 200 }, (_, i) => {
      const behaviour = {
        callId: `k${i}`,
        failCode: Status.UNAVAILABLE,
        failAttempts: i % 4 === 3 ? 5 : i % 4,
        delayMs: i % 3,
      };
      // Every 4th call fails 5 times: its 5 attempts (the default) are spent and it fails.
      return callUnary(client, i % 2 ? 'GetItem' : 'PutItem', { id: `k${i}` }, meta(behaviour));
    }),
  );
  let reported = 0;
  outcomes.forEach((outcome, i) => {
    expect(outcome.statusEvents).toBe(1);
    expect(outcome.status.code).toBe(i % 4 === 3 ? Status.UNAVAILABLE : Status.OK);
    reported += attemptsReported(outcome.status.metadata);
  });
  expect(reported).toBe(backend.counters.calls);
  expect(backend.counters.calls).toBe(50 * 1 + 50 * 2 + 50 * 3 + 50 * 5);
});

it("a caller's cancel during backoff ends the call at once with CANCELLED, once", async () => {
  let cancel!: () => void;
  // Cancel once the backoff has provably started: onRetry runs just before its timer is set.
  const client = resilient({
    initialBackoffMs: 5000,
    maxBackoffMs: 5000,
    random: () => 0.999,
    onRetry: () => setImmediate(cancel),
  });
  const outcome = await callUnary(
    client,
    'GetItem',
    {},
    {
      ...meta({ callId: 'x', failCode: Status.UNAVAILABLE }),
      timeoutMs: 20_000, // longer than the backoff, or the layer would give up at once
      onCall: (call) => (cancel = () => call.cancel()),
    },
  );
  expect(outcome.status.code).toBe(Status.CANCELLED);
  expect(outcome.durationMs).toBeLessThan(1000);
  expect(outcome.statusEvents).toBe(1);
  expect(backend.counters.attemptsOf('x')).toBe(1);
});

it('a dead backend (connection refused): even a non-idempotent call is retried, as it was never sent', async () => {
  const down = await startTestBackend();
  const address = down.address;
  down.kill();
  const retries: number[] = [];
  const client = resilient({ onRetry: (e) => retries.push(e.attempt) }, address);
  const outcome = await callUnary(client, 'Charge', {}, { timeoutMs: 2000 });
  expect(outcome.status.code).toBe(Status.UNAVAILABLE);
  expect(retries).toEqual([1, 2, 3, 4]);
  expect(giveUps[0]).toMatchObject({ reason: 'max-attempts', attempts: 5 });
});

it('a unary call reset after its response headers is still retried when idempotent (nothing reached the caller)', async () => {
  let streams = 0;
  const raw = http2.createServer();
  raw.on('stream', (stream) => {
    streams++;
    stream.on('error', () => undefined);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 5);
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  // The server's close waits for the clients' connections: the fixture closes clients first.
  loop.onClose(() => new Promise((resolve) => raw.close(resolve)));
  const port = (raw.address() as { port: number }).port;
  const outcome = await callUnary(resilient({}, `127.0.0.1:${port}`), 'GetItem', {});
  // grpc-js reports such a reset as INTERNAL "Received RST_STREAM…" or CANCELLED "Call cancelled".
  expect(classifyStatus(outcome.status).origin).toBe('transport');
  expect(outcome.headers).toBeDefined(); // the last attempt's headers still reach the caller
  expect(streams).toBe(5);
  expect(giveUps[0]).toMatchObject({ reason: 'max-attempts', attempts: 5 });
  const charge = await callUnary(resilient({}, `127.0.0.1:${port}`), 'Charge', {});
  expect(classifyStatus(charge.status).origin).toBe('transport');
  expect(streams).toBe(6); // not idempotent: never twice
});
