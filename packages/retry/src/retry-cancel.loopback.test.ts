import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import {
  behaviourMetadata,
  callBidi,
  callUnary,
  extraStatusCount,
  loopbackFixture,
  type TestBackend,
} from '@grpc-resilience/testing';
import { createRetryTestClient } from './retry-test-client.test.helper';
import type { RetryOptions } from './index';
import type { RetryingCall } from './retrying-call';

/* A caller's cancel in each phase of a retried call ends it once, with CANCELLED, and no attempt
 * starts after it. */
let backend: TestBackend;
// Declared before the check below, so its teardown runs first (jest runs afterEach hooks in order).
const loop = loopbackFixture(afterEach);
let extraBefore: number;
beforeEach(async () => {
  backend = await loop.backend();
  extraBefore = extraStatusCount();
});
afterEach(() => {
  expect(extraStatusCount()).toBe(extraBefore);
});

function client(retry: RetryOptions, calls: RetryingCall[]) {
  return loop.keep(createRetryTestClient(backend.address, retry, { calls }));
}

it('while the first attempt is in flight', async () => {
  const calls: RetryingCall[] = [];
  const outcome = await callUnary(
    client({}, calls),
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ callId: 'a', hang: true }),
      onCall: (call) => setImmediate(() => call.cancel()),
    },
  );
  expect(outcome.status.code).toBe(Status.CANCELLED);
  expect(outcome.statusEvents).toBe(1);
  expect(calls[0].phase).toBe('finished');
  expect(backend.counters.attemptsOf('a')).toBeLessThanOrEqual(1);
});

it('while the retry attempt is in flight', async () => {
  const calls: RetryingCall[] = [];
  let cancel!: () => void;
  // The second attempt hangs: the backend's default behaviour changes as the retry is decided.
  const c = client(
    {
      initialBackoffMs: 1,
      maxBackoffMs: 1,
      onRetry: () => void (backend.behaviour = { hang: true }),
    },
    calls,
  );
  const pending = callUnary(
    c,
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({
        callId: 'b',
        failCode: Status.UNAVAILABLE,
        failAttempts: 1,
      }),
      onCall: (call) => (cancel = () => call.cancel()),
    },
  );
  await waitFor(() => backend.counters.attemptsOf('b') === 2);
  cancel();
  const outcome = await pending;
  expect(outcome.status.code).toBe(Status.CANCELLED);
  expect(outcome.statusEvents).toBe(1);
  expect(backend.counters.attemptsOf('b')).toBe(2);
});

it('while a retry replays a bidi stream, and after the stream committed', async () => {
  const calls: RetryingCall[] = [];
  const items = Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, value: 'v' }));
  let cancelReplay!: () => void;
  let phaseAtCancel: string | undefined;
  // Below the retry layer: the retry attempt's third replayed message triggers the cancel.
  const cancelInReplay: grpc.Interceptor = (options, nextCall) => {
    let retry = false;
    let sent = 0;
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        retry = metadata.get('grpc-previous-rpc-attempts').length > 0;
        next(metadata, listener);
      },
      sendMessage(message, next) {
        if (retry && ++sent === 3) {
          phaseAtCancel = calls[0].phase;
          setImmediate(cancelReplay);
        }
        next(message);
      },
    });
  };
  const retrying = loop.keep(
    createRetryTestClient(
      backend.address,
      { initialBackoffMs: 1, maxBackoffMs: 1 },
      { calls, below: [cancelInReplay] },
    ),
  );
  const replaying = callBidi(retrying, 'SyncItems', items, {
    metadata: behaviourMetadata({ callId: 'c', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
    onCall: (call) => (cancelReplay = () => call.cancel()),
  });
  const first = await replaying;
  expect(phaseAtCancel).toBe('replaying');
  expect(first.status.code).toBe(Status.CANCELLED);
  expect(first.statusEvents).toBe(1);
  expect(calls[0].phase).toBe('finished');
  expect(backend.counters.attemptsOf('c')).toBe(2);

  let cancelCommitted!: () => void;
  const committed = callBidi(client({}, calls), 'SyncItems', items, {
    metadata: behaviourMetadata({ callId: 'd', messageIntervalMs: 20 }),
    onCall: (call) => {
      cancelCommitted = () => call.cancel();
      (call as grpc.ClientDuplexStream<object, object>).on('data', () =>
        setImmediate(cancelCommitted),
      );
    },
  });
  const second = await committed;
  expect(second.status.code).toBe(Status.CANCELLED);
  expect(second.statusEvents).toBe(1);
  expect(second.messages.length).toBeGreaterThanOrEqual(1);
  expect(backend.counters.attemptsOf('d')).toBe(1);
});

/** Waits for a condition the test's own servers make true, a bounded number of times. */
async function waitFor(condition: () => boolean, state?: () => string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!condition()) throw new Error(`never happened; ${state?.() ?? ''}`);
}
