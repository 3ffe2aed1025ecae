import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { rejectedCall } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callClientStream,
  callUnary,
  loopbackFixture,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createRetryTestClient } from './retry-test-client.test.helper';
import type { RetryOptions } from './index';
import type { RetryingCall } from './retrying-call';

/* Edges where a retried call could crash the process or never end. */
let backend: TestBackend;
let uncaught: unknown[];
const onUncaught = (error: unknown) => uncaught.push(error);
beforeEach(async () => {
  uncaught = [];
  process.on('uncaughtException', onUncaught);
});
// Declared before the fixture, so it runs before the teardown (jest runs afterEach hooks in order).
afterEach(() => {
  process.off('uncaughtException', onUncaught);
  expect(uncaught.map(String)).toEqual([]);
});
const loop = loopbackFixture(afterEach);
beforeEach(async () => {
  backend = await loop.backend();
});

function client(
  retry: RetryOptions,
  calls: RetryingCall[] = [],
  above: grpc.Interceptor[] = [],
  below: grpc.Interceptor[] = [],
) {
  return loop.keep(createRetryTestClient(backend.address, retry, { calls, above, below }));
}

it('a replay into a call that acknowledges writes synchronously (an open circuit) does not overflow the stack', async () => {
  // Below the retry layer, what an open circuit breaker does to every attempt after the first:
  // refuse it at once, acknowledging each write synchronously.
  let attempts = 0;
  const openCircuit: grpc.Interceptor = (options, nextCall) =>
    attempts++ === 0
      ? (nextCall(options) as grpc.InterceptingCall)
      : rejectedCall(Status.UNAVAILABLE, 'circuit open for test', 'circuit-open');
  const c = client({ initialBackoffMs: 1, maxBackoffMs: 1 }, [], [], [openCircuit]);
  const requests = Array.from({ length: 30_000 }, () => ({})); // empty messages, 5 bytes each
  const outcome = await callClientStream(c, 'UploadItems', requests, {
    metadata: behaviourMetadata({ callId: 'u', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
  });
  expect(outcome.status.details).toMatch(/circuit open/);
  expect(outcome.statusEvents).toBe(1);
});

it('a client closed while a call backs off: the call ends with UNAVAILABLE, nothing throws', async () => {
  const c: TestServiceClient = client({
    initialBackoffMs: 200,
    maxBackoffMs: 200,
    random: () => 0.5,
    onRetry: () => setImmediate(() => c.close()),
  });
  const outcome = await callUnary(
    c,
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ callId: 'g', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
    },
  );
  expect(outcome.status.code).toBe(Status.UNAVAILABLE);
  expect(outcome.status.details).toMatch(/^retry not started: /);
  expect(backend.counters.attemptsOf('g')).toBe(1);
});

it('a call failed because its client was closed is not retried', async () => {
  const retries: number[] = [];
  const silent = createRetryTestClient('127.0.0.1:1', {
    initialBackoffMs: 50,
    maxBackoffMs: 50,
    onRetry: (event) => retries.push(event.attempt),
  });
  const pending = callUnary(silent, 'Charge', {}, { timeoutMs: 5000 });
  silent.close(); // fails the queued call: "Channel closed before call started"
  const outcome = await pending;
  expect(outcome.status.code).toBe(Status.UNAVAILABLE);
  expect(retries).toEqual([]);
  expect(outcome.status.metadata.get('grpc-resilience-attempts')).toEqual([]);
});

it('a cancel from inside the onRetry hook ends the call; no attempt starts after it', async () => {
  const calls: RetryingCall[] = [];
  let cancel!: () => void;
  const c = client({ initialBackoffMs: 1, maxBackoffMs: 1, onRetry: () => cancel() }, calls);
  const outcome = await callUnary(
    c,
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ callId: 'a', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
      onCall: (call) => (cancel = () => call.cancel()),
    },
  );
  expect(outcome.status.code).toBe(Status.CANCELLED);
  expect(outcome.statusEvents).toBe(1);
  expect(calls[0].phase).toBe('finished');
  expect(backend.counters.attemptsOf('a')).toBe(1);
});

it('a call cancelled by an interceptor above before it starts ends with that cancel, unsent', async () => {
  const cancelEarly: grpc.Interceptor = (options, nextCall) => {
    const call = nextCall(options);
    call.cancelWithStatus(Status.CANCELLED, 'cancelled before start');
    return call as grpc.InterceptingCall;
  };
  const outcome = await callUnary(
    client({}, [], [cancelEarly]),
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ callId: 'e' }),
      timeoutMs: 2000,
    },
  );
  expect(outcome.status).toMatchObject({
    code: Status.CANCELLED,
    details: 'cancelled before start',
  });
  expect(outcome.durationMs).toBeLessThan(1000);
  expect(backend.counters.attemptsOf('e')).toBe(0);
});

it('a deadline that passes while the retry attempt is in flight ends the call once, with no further attempt', async () => {
  const calls: RetryingCall[] = [];
  // The second attempt hangs: the backend's default behaviour changes as the retry is decided.
  const c = client(
    {
      initialBackoffMs: 1,
      maxBackoffMs: 1,
      onRetry: () => void (backend.behaviour = { hang: true }),
    },
    calls,
  );
  const outcome = await callUnary(
    c,
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ callId: 'd', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
      timeoutMs: 300,
    },
  );
  expect(outcome.status.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(outcome.statusEvents).toBe(1);
  expect(outcome.durationMs).toBeLessThan(300 + 1000); // its deadline (slack for a loaded CI)
  expect(calls[0].phase).toBe('finished');
  expect(backend.counters.attemptsOf('d')).toBe(2);
  expect(outcome.status.metadata.get('grpc-resilience-retry-stopped')).toEqual(['non-retryable']);
});
