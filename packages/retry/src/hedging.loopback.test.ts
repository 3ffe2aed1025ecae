import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import {
  behaviourMetadata,
  callServerStream,
  callUnary,
  waitUntil,
  type Behaviour,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import {
  AdaptiveRetryBudget,
  type HedgeEvent,
  type HedgingOptions,
  type RetryOptions,
} from './index';
import {
  AVOID_PEER_METADATA_KEY,
  PICKED_PEER_KEY,
  type PickedPeerSlot,
} from '@grpc-resilience/status';
import type { RetryingCall } from './retrying-call';
import { createRetryTestClient } from './retry-test-client.test.helper';
import { onAttemptCut, useCountingBackend, type ServerCancels } from './server-cancels.test.helper';

/* Hedging against a real server: what it sees (attempts, cancels, metadata) is what counts. */
const fixture = useCountingBackend();
let backend: TestBackend;
let cancels: ServerCancels;
const clients = fixture.clients;
let hedges: HedgeEvent[];
beforeEach(() => {
  ({ backend, cancels } = fixture);
  hedges = [];
});

/**
 * Below the retry layer, does what the load-balancer package's picker does with the slot the
 * retry layer puts in each attempt's metadata options: writes the endpoint picked (here the
 * one backend). The real picker is tested with two backends in the load-balancer package.
 */
const reportPick: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      const slot = (metadata.getOptions() as { [PICKED_PEER_KEY]?: PickedPeerSlot })[
        PICKED_PEER_KEY
      ];
      if (slot !== undefined) slot.peer = backend.address;
      next(metadata, listener);
    },
  });

/** Quick to warm up, a 20 ms floor, no cap on extra load unless a test sets one. */
const HEDGING: HedgingOptions = { minSamples: 5, minDelayMs: 20, maxDelayMs: 100, maxExtraLoad: 1 };

/**
 * A client whose first attempts follow `first` and whose hedges follow `hedge` (the backend's
 * default behaviour changes as the hedge is decided, before the hedge reaches the server).
 */
function client(
  retry: RetryOptions = {},
  hedge?: Behaviour,
  calls: RetryingCall[] = [],
): TestServiceClient {
  const c = createRetryTestClient(
    backend.address,
    {
      hedging: HEDGING,
      onHedge: (event) => {
        hedges.push(event);
        if (hedge !== undefined) backend.behaviour = hedge;
      },
      ...retry,
    },
    { calls, below: [reportPick] },
  );
  clients.push(c);
  return c;
}

/** `minSamples` fast calls, so the method has a latency percentile. */
async function warmUp(c: TestServiceClient, count = HEDGING.minSamples!): Promise<void> {
  for (let i = 0; i < count; i++)
    expect((await callUnary(c, 'GetItem', { id: 'warm' })).status.code).toBe(Status.OK);
  backend.counters.reset();
}

const slowCall = (c: TestServiceClient, callId: string) =>
  callUnary(c, 'GetItem', { id: callId }, { metadata: behaviourMetadata({ callId }) });

it('cuts the latency of a slow call: the hedge answers, the slow attempt is cancelled', async () => {
  // Hedging off: the call takes as long as its slow attempt.
  const plain = createRetryTestClient(backend.address, {});
  clients.push(plain);
  backend.behaviour = { delayMs: 600 };
  const unhedged = await slowCall(plain, 'off');
  expect(unhedged.status.code).toBe(Status.OK);
  expect(backend.counters.attemptsOf('off')).toBe(1);

  backend.behaviour = {};
  const c = client({}, {});
  await warmUp(c);
  backend.behaviour = { delayMs: 600 }; // the first attempt; the hedge finds the backend fast
  const hedged = await slowCall(c, 'on');
  expect(hedged.status.code).toBe(Status.OK);
  expect(hedged.durationMs).toBeLessThan(unhedged.durationMs / 2);
  expect(backend.counters.attemptsOf('on')).toBe(2);
  await waitUntil(() => cancels.cancelled.length === 1);
  expect(cancels.cancelled).toEqual(['on']);
  // The hedge says it is one, and asks for another endpoint than the live attempt's.
  // The hedge says it is one, and asks for another endpoint than the live attempt's: the one
  // the picker reported for it (grpc-js's getPeer() says 'unknown' before a commit).
  const hedge = backend.counters.records[1].metadata;
  expect(hedge.get('grpc-previous-rpc-attempts')).toEqual(['1']);
  expect(hedge.get(AVOID_PEER_METADATA_KEY)).toEqual([backend.address]);
  expect(backend.counters.records[0].metadata.get(AVOID_PEER_METADATA_KEY)).toEqual([]);
  expect(hedges).toEqual([expect.objectContaining({ attempt: 2, avoidPeer: backend.address })]);
  expect(hedges[0].delayMs).toBeGreaterThanOrEqual(HEDGING.minDelayMs!);
});

it('the first attempt wins: the hedge is cancelled, and the server sees the cancel', async () => {
  const calls: RetryingCall[] = [];
  const c = client({}, { hang: true }, calls);
  await warmUp(c);
  backend.behaviour = { delayMs: 250 }; // past the longest hedge delay (100 ms)
  const outcome = await slowCall(c, 'w');
  expect(outcome.status.code).toBe(Status.OK);
  expect(outcome.response).toMatchObject({ id: 'w' });
  expect(backend.counters.attemptsOf('w')).toBe(2);
  await waitUntil(() => cancels.cancelled.length === 1); // the hedge, hanging when cut
  expect(calls.at(-1)!.phase).toBe('finished');
});

it('a hedge that wins gets its budget token back; a hedge that loses keeps it spent', async () => {
  const budget = new AdaptiveRetryBudget({ maxTokens: 3, ratio: 0, throttle: false });
  const c = client({ budget }, {});
  await warmUp(c);
  backend.behaviour = { delayMs: 600 }; // the first attempt; the hedge finds the backend fast
  expect((await slowCall(c, 'won')).status.code).toBe(Status.OK);
  await waitUntil(() => cancels.cancelled.length === 1); // the slow first attempt, cut
  expect(budget.balance).toBe(3);

  backend.behaviour = {};
  const hanging = client({ budget }, { hang: true });
  await warmUp(hanging);
  backend.behaviour = { delayMs: 250 }; // past the longest hedge delay (100 ms)
  expect((await slowCall(hanging, 'lost')).status.code).toBe(Status.OK);
  expect(backend.counters.attemptsOf('lost')).toBe(2);
  await waitUntil(() => cancels.cancelled.length === 2); // the hedge, hanging when cut
  expect(budget.balance).toBe(2);
});

it('never hedges a non-idempotent method or a stream, however slow', async () => {
  const c = client({}, {});
  await warmUp(c);
  for (let i = 0; i < HEDGING.minSamples!; i++) await callUnary(c, 'Charge', { account: 'a' });
  backend.counters.reset();
  backend.behaviour = { delayMs: 200 };
  const charge = await callUnary(
    c,
    'Charge',
    { account: 'a' },
    { metadata: behaviourMetadata({ callId: 'charge' }) },
  );
  const stream = await callServerStream(
    c,
    'ListItems',
    { count: 1 },
    { metadata: behaviourMetadata({ callId: 'list' }) },
  );
  expect([charge.status.code, stream.status.code]).toEqual([Status.OK, Status.OK]);
  expect(backend.counters.attemptsOf('charge')).toBe(1);
  expect(backend.counters.attemptsOf('list')).toBe(1);
  expect(backend.counters.sideEffects).toBe(1);
  expect(hedges).toEqual([]);
});

it('warms up first: no hedge before minSamples successful attempts of the method', async () => {
  const c = client({}, {});
  await warmUp(c, HEDGING.minSamples! - 1);
  backend.behaviour = { delayMs: 200 };
  await slowCall(c, 'cold');
  expect(backend.counters.attemptsOf('cold')).toBe(1);
  // That slow success was the last sample needed: the next slow call is hedged.
  backend.behaviour = { delayMs: 200 };
  await slowCall(c, 'warm');
  expect(backend.counters.attemptsOf('warm')).toBe(2);
});

it('hedges stay within maxExtraLoad per call', async () => {
  // 0.25 a call: after the 5 warm-up calls and the two slow ones, 1.75 hedges to spend: one.
  const c = client({ hedging: { ...HEDGING, maxExtraLoad: 0.25 } });
  await warmUp(c);
  backend.behaviour = { delayMs: 200 };
  await Promise.all([slowCall(c, 's1'), slowCall(c, 's2')]);
  expect(backend.counters.attemptsOf('s1')).toBe(2);
  expect(backend.counters.attemptsOf('s2')).toBe(1);
  expect(hedges).toHaveLength(1);
});

it('a retryable failure of one attempt leaves the other to answer; a final one ends the call', async () => {
  // The first attempt fails after the longest hedge delay (100 ms), however slow the warm-up was.
  const c = client({}, { delayMs: 500 });
  await warmUp(c);
  backend.behaviour = { delayMs: 300, failCode: Status.UNAVAILABLE };
  const cured = await slowCall(c, 'cured');
  expect(cured.status.code).toBe(Status.OK);
  expect(backend.counters.attemptsOf('cured')).toBe(2); // no retry besides the hedge

  const d = client({}, { hang: true });
  backend.behaviour = {};
  await warmUp(d);
  backend.behaviour = { delayMs: 300, failCode: Status.INVALID_ARGUMENT };
  const final = await slowCall(d, 'final');
  expect(final.status.code).toBe(Status.INVALID_ARGUMENT);
  expect(backend.counters.attemptsOf('final')).toBe(2);
  await waitUntil(() => cancels.cancelled.length === 1); // the hanging hedge
});

it('the caller cancelling while hedging ends the call once; the server sees both cancelled', async () => {
  const calls: RetryingCall[] = [];
  let cancel!: () => void;
  const c = client(
    {
      onHedge: () => {
        backend.behaviour = { hang: true };
        setImmediate(() => cancel()); // once the hedge is on its way
      },
    },
    undefined,
    calls,
  );
  await warmUp(c);
  backend.behaviour = { hang: true };
  const outcome = await callUnary(
    c,
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ callId: 'x' }),
      onCall: (call) => (cancel = () => call.cancel()),
    },
  );
  expect(outcome.status.code).toBe(Status.CANCELLED);
  expect(outcome.statusEvents).toBe(1);
  expect(calls.at(-1)!.phase).toBe('finished');
  await waitUntil(() => cancels.cancelled.length === 2);
  expect(backend.counters.attemptsOf('x')).toBe(2);
});

it('a cancel as a hedged pair loses its first attempt to the per-attempt timeout ends both', async () => {
  const calls: RetryingCall[] = [];
  const phases: string[] = [];
  let cancel!: () => void;
  const cancelOnCut = onAttemptCut(() => {
    phases.push(calls.at(-1)!.phase);
    cancel();
  });
  const c = createRetryTestClient(
    backend.address,
    { hedging: HEDGING, perAttemptTimeoutMs: 300, maxAttempts: 3 },
    { calls, below: [reportPick, cancelOnCut] },
  );
  clients.push(c);
  await warmUp(c);
  backend.behaviour = { hang: true }; // the first attempt and its hedge
  const outcome = await callUnary(
    c,
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ callId: 'p' }),
      timeoutMs: 10_000,
      onCall: (call) => (cancel = () => call.cancel()),
    },
  );
  expect(phases).toEqual(['hedging']);
  expect(outcome.status.code).toBe(Status.CANCELLED);
  expect(outcome.statusEvents).toBe(1);
  expect(backend.counters.attemptsOf('p')).toBe(2);
  await waitUntil(() => cancels.cancelled.length === 2); // the hedge too, not left to hang
});
