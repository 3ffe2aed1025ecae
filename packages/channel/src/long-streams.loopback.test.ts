import * as grpc from '@grpc/grpc-js';
import { PROPAGATED_CANCEL_PREFIX } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callBidi,
  callServerStream,
  callUnary,
  createLogSink,
  createTestClient,
  loopbackFixture,
  testServiceClient,
  testServiceDefinition,
  waitUntil,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { circuitBreakerOf, createResilientClient, resilientServerOptions } from './index';

/**
 * How long the long-lived stream runs. The suite runs it past the 5 s unary default; run the
 * full 30 s by hand with `LONG_STREAM_MS=30000 npx jest packages/channel/src/long-streams`.
 */
const STREAM_MS = Number(process.env.LONG_STREAM_MS ?? 6_500);
const INTERVAL_MS = 500;

const TestService = testServiceClient();
const loop = loopbackFixture(afterEach);
const startBackends = (n: number): Promise<TestBackend[]> =>
  Promise.all(Array.from({ length: n }, (_, i) => loop.backend({ name: `b${i}` })));
const total = (group: TestBackend[], read: (b: TestBackend) => number) =>
  group.reduce((sum, b) => sum + read(b), 0);

it(
  `a server stream and a bidi stream through createResilientClient live ${STREAM_MS} ms, until they end`,
  async () => {
    const [b] = await startBackends(1);
    const client = loop.keep(createResilientClient(TestService, b.address)); // no per-method config
    const messages = Math.ceil(STREAM_MS / INTERVAL_MS) + 1;
    const listed = callServerStream(
      client,
      'ListItems',
      {},
      { metadata: behaviourMetadata({ messages, messageIntervalMs: INTERVAL_MS }) },
    );
    const synced = syncFor(client, messages);
    const [stream, bidi] = await Promise.all([listed, synced]);
    expect(stream.status.code).toBe(grpc.status.OK);
    expect(stream.messages).toHaveLength(messages);
    expect(stream.durationMs).toBeGreaterThanOrEqual(STREAM_MS - 50);
    expect(bidi).toMatchObject({ code: grpc.status.OK, replies: messages });
    expect(bidi.durationMs).toBeGreaterThanOrEqual(STREAM_MS - 50);
    // Both carried the stream default (30 min), not the unary 5 s.
    for (const seen of b.counters.deadlinesSeen) expect(seen).toBeGreaterThan(1_790_000);
  },
  STREAM_MS + 15_000,
);

/** A bidi stream that writes one request every INTERVAL_MS, `count` in all, then half-closes. */
function syncFor(client: TestServiceClient, count: number) {
  const startedAt = performance.now();
  const call = client.SyncItems() as unknown as grpc.ClientDuplexStream<object, object>;
  let replies = 0;
  let written = 0;
  const write = (): void => {
    call.write({ id: `m${written++}` });
    if (written === count) call.end();
    else timer = setTimeout(write, INTERVAL_MS);
  };
  let timer = setTimeout(write, 0);
  call.on('data', () => replies++);
  call.on('error', () => undefined); // the status carries it
  return new Promise<{ code: number; replies: number; durationMs: number }>((resolve) =>
    call.on('status', (status: grpc.StatusObject) => {
      clearTimeout(timer);
      resolve({ code: status.code, replies, durationMs: performance.now() - startedAt });
    }),
  );
}

describe('streams ending by their own deadline and cancels propagated from upstream', () => {
  const N = 9; // per kind: well past 2 failures per endpoint and 3 in a row for the breaker

  it('leave the breaker closed, every backend un-ejected, and nothing logged at warn', async () => {
    const group = await startBackends(3);
    const sink = createLogSink({ level: 'info' });
    const toB = loop.keep(
      createResilientClient(
        TestService,
        group.map((b) => b.address),
        {
          breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 },
          loadBalancing: {
            // Round-robin, so "every backend still gets its share" below says none was ejected;
            // p2c would rightly favour the fastest one.
            policy: 'round_robin',
            ejection: { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionMs: 60_000 },
          },
          logger: sink.logger,
        },
      ),
    );
    const changes: string[] = [];
    circuitBreakerOf(toB)!.onStateChange(({ from, to }) => changes.push(`${from}>${to}`));
    await warmUp(toB, group);

    // 1. Streams that end by their own deadline (a watch that ran its course).
    const hang = { metadata: behaviourMetadata({ hang: true }), timeoutMs: 60 };
    for (let i = 0; i < N; i++) {
      expect((await callServerStream(toB, 'ListItems', {}, hang)).status.code).toBe(
        grpc.status.DEADLINE_EXCEEDED,
      );
      expect((await callBidi(toB, 'SyncItems', [{ id: 'a' }], hang)).status.code).toBe(
        grpc.status.DEADLINE_EXCEEDED,
      );
    }

    // 2. Server A calls B through the layer; A's caller cancels once B is working on it.
    const downstream: grpc.StatusObject[] = [];
    const a = await startFrontend(toB, downstream);
    const caller = loop.keep(createTestClient(a));
    for (let i = 0; i < N; i++) {
      for (const shape of ['unary', 'stream'] as const) {
        const seen = total(group, (b) => b.counters.calls);
        const onCall = (call: grpc.Call) =>
          void waitUntil(() => total(group, (b) => b.counters.calls) > seen).then(() =>
            call.cancel(),
          );
        const outcome =
          shape === 'unary'
            ? await callUnary(caller, 'GetItem', {}, { onCall })
            : await callServerStream(caller, 'ListItems', {}, { onCall });
        expect(outcome.status.code).toBe(grpc.status.CANCELLED);
      }
    }
    await waitUntil(() => downstream.length === 2 * N);
    await waitUntil(() => total(group, (b) => b.counters.cancellations) === 4 * N);

    // The breaker never moved; every backend still gets its share of calls.
    expect(changes).toEqual([]);
    expect(circuitBreakerOf(toB)!.stateOf()).toBe('closed');
    for (const b of group) b.counters.reset();
    for (let i = 0; i < 30; i++) {
      expect((await callUnary(toB, 'GetItem', {})).status.code).toBe(grpc.status.OK);
    }
    for (const b of group) expect(b.counters.calls).toBeGreaterThanOrEqual(5);
    // Every one of them was logged, none at warn or above.
    expect(sink.find('grpc call failed')).toHaveLength(4 * N);
    expect(sink.records.filter((r) => (r.level as number) >= 40)).toEqual([]);
    // And the downstream calls did end by the propagated cancel, not by something else.
    for (const status of downstream) {
      expect(status.code).toBe(grpc.status.CANCELLED);
      expect(status.details.startsWith(PROPAGATED_CANCEL_PREFIX)).toBe(true);
    }
  });
});

/** Waits until round-robin has reached every backend, then forgets those calls. */
async function warmUp(client: TestServiceClient, group: TestBackend[]): Promise<void> {
  const ready = { metadata: new grpc.Metadata({ waitForReady: true }) };
  for (let i = 0; i < 50 && group.some((b) => b.counters.calls === 0); i++) {
    await callUnary(client, 'GetItem', {}, ready);
  }
  expect(group.every((b) => b.counters.calls > 0)).toBe(true);
  for (const b of group) b.counters.reset();
}

/**
 * Server A, built with resilientServerOptions (so its handlers run in the deadline context), whose
 * GetItem and ListItems call B through `toB` with calls that hang, and record how they ended.
 */
async function startFrontend(
  toB: TestServiceClient,
  downstream: grpc.StatusObject[],
): Promise<string> {
  const server = new grpc.Server(resilientServerOptions());
  loop.onClose(() => server.forceShutdown());
  const hang = () => behaviourMetadata({ hang: true });
  server.addService(testServiceDefinition(), {
    GetItem(_call: unknown, callback: grpc.sendUnaryData<unknown>) {
      const call = toB.GetItem({ id: 'x' }, hang(), callback) as grpc.ClientUnaryCall;
      call.on('status', (status) => downstream.push(status));
    },
    ListItems(call: grpc.ServerWritableStream<unknown, unknown>) {
      const stream = toB.ListItems({}, hang()) as grpc.ClientReadableStream<unknown>;
      stream.on('data', (message) => call.write(message));
      stream.on('error', (error) => call.destroy(error));
      stream.on('status', (status) => downstream.push(status));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return `127.0.0.1:${port}`;
}
