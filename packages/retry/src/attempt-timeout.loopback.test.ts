import { status as Status } from '@grpc/grpc-js';
import { AVOID_PEER_METADATA_KEY, RETRY_STOPPED_METADATA_KEY } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callUnary,
  waitUntil,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createRetryTestClient, type AroundRetry } from './retry-test-client.test.helper';
import { onAttemptCut, useCountingBackend, type ServerCancels } from './server-cancels.test.helper';
import type { GiveUpEvent, RetryOptions } from './index';
import type { RetryingCall } from './retrying-call';

/* Per-attempt timeouts, the useful share of the deadline, and where a retry is asked to go, all
 * against a real server that counts attempts and cancellations. */
const fixture = useCountingBackend();
let backend: TestBackend;
let cancels: ServerCancels;
const clients = fixture.clients;
beforeEach(() => ({ backend, cancels } = fixture));

function client(retry: RetryOptions, around: AroundRetry = {}): TestServiceClient {
  const c = createRetryTestClient(
    backend.address,
    { initialBackoffMs: 1, maxBackoffMs: 5, ...retry },
    around,
  );
  clients.push(c);
  return c;
}

/** The first attempt hangs; from the retry on, the backend answers at once. */
function hangUntilRetried(): RetryOptions {
  backend.behaviour = { hang: true };
  return { onRetry: () => void (backend.behaviour = {}) };
}

it('an idempotent attempt past perAttemptTimeoutMs is cancelled (the server sees it) and retried', async () => {
  const metadata = behaviourMetadata({ callId: 't' });
  const outcome = await callUnary(
    client({ perAttemptTimeoutMs: 100, ...hangUntilRetried() }),
    'GetItem',
    { id: 'a' },
    { metadata, timeoutMs: 10_000 },
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(backend.counters.attemptsOf('t')).toBe(2);
  await waitUntil(() => cancels.cancelled.length === 1);
  // Well inside the 10 s deadline: the timer, not the deadline, ended the first attempt.
  expect(outcome.durationMs).toBeLessThan(5000);
  const retry = backend.counters.records[1].metadata;
  expect(retry.get('grpc-previous-rpc-attempts')).toEqual(['1']);
  // The retry asks the balancer to avoid the endpoint of the attempt that failed.
  expect(retry.get(AVOID_PEER_METADATA_KEY)).toEqual([backend.address]);
  expect(backend.counters.records[0].metadata.get(AVOID_PEER_METADATA_KEY)).toEqual([]);
  // The caller's metadata is its own: each attempt had a copy.
  expect(metadata.get(AVOID_PEER_METADATA_KEY)).toEqual([]);
  expect(metadata.get('grpc-previous-rpc-attempts')).toEqual([]);
});

it('a non-idempotent call is never cut by it: its one attempt runs to the answer', async () => {
  backend.behaviour = { delayMs: 300 };
  const outcome = await callUnary(
    client({ perAttemptTimeoutMs: 50 }),
    'Charge',
    { account: 'a' },
    { metadata: behaviourMetadata({ callId: 'c' }), timeoutMs: 10_000 },
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(backend.counters.attemptsOf('c')).toBe(1);
  expect(backend.counters.sideEffects).toBe(1);
  expect(cancels.cancelled).toEqual([]);
});

it('the last allowed attempt is not cut: it has the rest of the deadline', async () => {
  backend.behaviour = { delayMs: 400 };
  const outcome = await callUnary(
    client({ perAttemptTimeoutMs: 100, maxAttempts: 2 }),
    'GetItem',
    {},
    { metadata: behaviourMetadata({ callId: 'l' }), timeoutMs: 10_000 },
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(backend.counters.attemptsOf('l')).toBe(2);
  await waitUntil(() => cancels.cancelled.length === 1);
  expect(cancels.cancelled).toEqual(['l']); // the first attempt only
});

it('each timed-out attempt is retried until maxAttempts, within the overall deadline', async () => {
  backend.behaviour = { hang: true };
  const giveUps: GiveUpEvent[] = [];
  const outcome = await callUnary(
    client({ perAttemptTimeoutMs: 50, maxAttempts: 3, onGiveUp: (e) => giveUps.push(e) }),
    'GetItem',
    {},
    { metadata: behaviourMetadata({ callId: 'h' }), timeoutMs: 1500 },
  );
  // Attempts 1 and 2 cut by the layer, attempt 3 (the last) by the overall deadline.
  expect(outcome.status.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(backend.counters.attemptsOf('h')).toBe(3);
  await waitUntil(() => cancels.cancelled.length === 3);
  // The overall deadline is final, as always.
  expect(giveUps.map((e) => [e.reason, e.attempts])).toEqual([['non-retryable', 3]]);
});

it('no retry starts with less than the useful share of the deadline left: the caller gets the real status', async () => {
  const slowFailure = { failCode: Status.UNAVAILABLE, delayMs: 1000 };
  const giveUps: GiveUpEvent[] = [];
  const refused = await callUnary(
    client({ minAttemptShare: 0.5, onGiveUp: (e) => giveUps.push(e) }),
    'GetItem',
    {},
    { metadata: behaviourMetadata({ callId: 's', ...slowFailure }), timeoutMs: 1500 },
  );
  expect(refused.status.code).toBe(Status.UNAVAILABLE);
  expect(refused.status.metadata.get(RETRY_STOPPED_METADATA_KEY)).toEqual(['deadline']);
  expect(giveUps.map((e) => e.reason)).toEqual(['deadline']);
  expect(backend.counters.attemptsOf('s')).toBe(1);

  // Without the rule, the retry starts with about 500 ms of 1500 left and dies of the deadline.
  const doomed = await callUnary(
    client({ minAttemptShare: 0 }),
    'GetItem',
    {},
    { metadata: behaviourMetadata({ callId: 'z', ...slowFailure }), timeoutMs: 1500 },
  );
  expect(doomed.status.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(backend.counters.attemptsOf('z')).toBe(2);
});

it('the caller cancelling while a timed-out attempt reports its status: one CANCELLED, no retry', async () => {
  const calls: RetryingCall[] = [];
  const phases: string[] = [];
  let cancel!: () => void;
  const cancelOnCut = onAttemptCut(() => {
    phases.push(calls[0].phase);
    cancel();
  });
  backend.behaviour = { hang: true };
  const outcome = await callUnary(
    client({ perAttemptTimeoutMs: 50 }, { calls, below: [cancelOnCut] }),
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ callId: 'x' }),
      timeoutMs: 10_000,
      onCall: (call) => (cancel = () => call.cancel()),
    },
  );
  expect(phases).toEqual(['timed-out']);
  expect(outcome.status.code).toBe(Status.CANCELLED);
  expect(outcome.statusEvents).toBe(1);
  expect(calls[0].phase).toBe('finished');
  expect(backend.counters.attemptsOf('x')).toBe(1);
});

it('a retry after a failure avoids the failed endpoint; the caller metadata stays untouched', async () => {
  const metadata = behaviourMetadata({
    callId: 'u',
    failCode: Status.UNAVAILABLE,
    failAttempts: 2,
  });
  const before = metadata.getMap();
  const outcome = await callUnary(client({}), 'GetItem', {}, { metadata });
  expect(outcome.status.code).toBe(Status.OK);
  const seen = backend.counters.records.map((r) => r.metadata.get(AVOID_PEER_METADATA_KEY));
  // Each attempt names every endpoint that failed this call so far, once.
  expect(seen).toEqual([[], [backend.address], [backend.address]]);
  expect(metadata.getMap()).toEqual(before);
});

it('rejects bad values, naming the option', () => {
  expect(() => client({ perAttemptTimeoutMs: 0 })).toThrow(
    'retry.perAttemptTimeoutMs must be an integer from 1 to 600000, received 0',
  );
  expect(() => client({ minAttemptShare: 2 })).toThrow('retry.minAttemptShare');
  expect(() => client({ hedging: 'yes' as never })).toThrow('retry.hedging');
  expect(() => client({ hedging: { maxDelayMs: 5, minDelayMs: 10 } })).toThrow(
    'retry.hedging.maxDelayMs must not be below minDelayMs (10)',
  );
});
