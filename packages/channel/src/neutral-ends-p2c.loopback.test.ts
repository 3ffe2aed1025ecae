import * as grpc from '@grpc/grpc-js';
import { PROPAGATED_CANCEL_PREFIX } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callBidi,
  callServerStream,
  callUnary,
  loopbackFixture,
  testServiceClient,
  testServiceDefinition,
  waitUntil,
  type TestBackend,
} from '@grpc-resilience/testing';
import { circuitBreakerOf, createResilientClient, resilientServerOptions } from './index';

/*
 * Done-when 7's second half under the defaults as they are now: the balancer is p2c (no policy
 * given) and the breaker sits outside the retry. Streams that end by their own deadline and
 * downstream calls cancelled because their upstream call ended must leave the breaker closed and
 * eject no backend. p2c has no turn to read ejection from, so a burst of slow calls, which p2c
 * spreads by calls in flight, shows it: an ejected backend would get none of them.
 */

const loop = loopbackFixture(afterEach);
const N = 9; // per kind: past 2 failures per endpoint, and 3 in a row for the breaker
const sum = (group: TestBackend[], read: (b: TestBackend) => number) =>
  group.reduce((total, b) => total + read(b), 0);

it('under p2c (the default): own-deadline streams and propagated cancels leave the breaker closed and every backend in the rotation', async () => {
  const group = await Promise.all([0, 1, 2].map((i) => loop.backend({ name: `p${i}` })));
  const toB = loop.keep(
    createResilientClient(
      testServiceClient(),
      group.map((b) => b.address),
      {
        breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 },
        // No policy: p2c. Ejection after 2 failures in a row, for a minute.
        loadBalancing: {
          ejection: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionMs: 60_000 },
        },
      },
    ),
  );
  const breaker = circuitBreakerOf(toB)!;
  const moves: string[] = [];
  breaker.onStateChange(({ from, to }) => moves.push(`${from}>${to}`));
  // Every backend connected and measured before the neutral ends begin.
  const ready = { metadata: new grpc.Metadata({ waitForReady: true }) };
  for (let i = 0; i < 100 && group.some((b) => b.counters.calls === 0); i++)
    await Promise.all([1, 2, 3].map(() => callUnary(toB, 'GetItem', {}, ready)));
  expect(group.every((b) => b.counters.calls > 0)).toBe(true);

  // 1. Server and bidi streams that end by their own (60 ms) deadline, on every backend.
  const hang = { metadata: behaviourMetadata({ hang: true }), timeoutMs: 60 };
  const streams = await Promise.all(
    Array.from({ length: N }, () => [
      callServerStream(toB, 'ListItems', {}, hang),
      callBidi(toB, 'SyncItems', [{ id: 'a' }], hang),
    ]).flat(),
  );
  for (const outcome of streams) expect(outcome.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);

  // 2. Server A calls B through the layer; A's caller cancels once B has the call.
  const downstream: grpc.StatusObject[] = [];
  const frontend = new grpc.Server(resilientServerOptions());
  loop.onClose(() => frontend.forceShutdown());
  frontend.addService(testServiceDefinition(), {
    GetItem(_call: unknown, callback: grpc.sendUnaryData<unknown>) {
      const call = toB.GetItem({}, behaviourMetadata({ hang: true }), callback) as grpc.Call;
      call.on('status', (status: grpc.StatusObject) => downstream.push(status));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    frontend.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const caller = loop.client(`127.0.0.1:${port}`);
  const cancelled = await Promise.all(
    Array.from({ length: 3 * N }, () => {
      const before = sum(group, (b) => b.counters.calls);
      return callUnary(
        caller,
        'GetItem',
        {},
        {
          // Cancel once B has it: the cancel then reaches B through A's propagation only.
          onCall: (call) =>
            void waitUntil(() => sum(group, (b) => b.counters.calls) > before).then(() =>
              call.cancel(),
            ),
        },
      );
    }),
  );
  for (const outcome of cancelled) expect(outcome.status.code).toBe(grpc.status.CANCELLED);
  await waitUntil(() => downstream.length === 3 * N);
  for (const status of downstream) {
    expect(status.code).toBe(grpc.status.CANCELLED);
    expect(status.details.startsWith(PROPAGATED_CANCEL_PREFIX)).toBe(true);
  }
  // Each backend saw its share of both kinds: each had reason to be ejected, were they failures.
  await waitUntil(() => sum(group, (b) => b.counters.cancellations) === 5 * N);
  for (const b of group) expect(b.counters.cancellations).toBeGreaterThanOrEqual(2);

  // The breaker never moved.
  expect(moves).toEqual([]);
  expect(breaker.stateOf()).toBe('closed');
  // No backend was ejected: p2c gives a burst of 90 slow calls to every one it may pick.
  for (const b of group) b.counters.reset();
  const slow = { metadata: behaviourMetadata({ delayMs: 300 }) };
  const burst = await Promise.all(
    Array.from({ length: 90 }, () => callUnary(toB, 'GetItem', {}, slow)),
  );
  for (const outcome of burst) expect(outcome.status.code).toBe(grpc.status.OK);
  const shares = group.map((b) => b.counters.calls);
  process.stdout.write(`p2c neutral ends: burst shares ${shares.join('/')}\n`);
  // An ejected one would get none (its first probe is due in a minute); shares differ by
  // latency, as p2c means them to.
  for (const share of shares) expect(share).toBeGreaterThanOrEqual(1);
});
