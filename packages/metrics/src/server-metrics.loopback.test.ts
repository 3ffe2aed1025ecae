import * as grpc from '@grpc/grpc-js';
import { Metadata, status as Status } from '@grpc/grpc-js';
import { createServerContextInterceptor } from '@grpc-resilience/deadline';
import { createDedupInterceptor } from '@grpc-resilience/idempotency';
import {
  TEST_METHODS,
  behaviourMetadata,
  callUnary,
  createTestClient,
  startTestBackend,
  type TestBackend,
  type TestServiceClient,
  testServiceDefinition,
  waitUntil,
} from '@grpc-resilience/testing';
import { INSTRUMENTS, SIZE_BUCKETS_BYTES, createServerMetrics } from './index';
import { startSdkMetrics } from './sdk-reader.test.helper';

const CHARGE = TEST_METHODS.charge.slice(1);
const GET = TEST_METHODS.getItem.slice(1);

let sdk: ReturnType<typeof startSdkMetrics>;
let backend: TestBackend;
let client: TestServiceClient;

beforeEach(async () => {
  sdk = startSdkMetrics();
  const metrics = createServerMetrics({ meterProvider: sdk.provider })!;
  backend = await startTestBackend({
    serverOptions: {
      // As the channel's server factory orders them: metrics first, so refusals pass through it.
      interceptors: [
        metrics.interceptor,
        createServerContextInterceptor({ minBudgetMs: 1000 }),
        createDedupInterceptor(),
      ],
    },
  });
  client = createTestClient(backend.address);
});
afterEach(async () => {
  client.close();
  backend.kill();
  await sdk.shutdown();
});

const keyed = (key: string) => {
  const metadata = new Metadata();
  metadata.set('idempotency-key', key);
  return { metadata };
};

test('dedup outcomes: a keyed call runs once, its repeat is replayed, unkeyed calls are not counted', async () => {
  expect((await callUnary(client, 'Charge', {}, keyed('k1'))).status.code).toBe(Status.OK);
  expect((await callUnary(client, 'Charge', {}, keyed('k1'))).status.code).toBe(Status.OK);
  expect((await callUnary(client, 'Charge', {})).status.code).toBe(Status.OK);
  // The handler ran twice: the keyed call once, the unkeyed one once; the repeat was replayed.
  expect(backend.counters.sideEffects).toBe(2);

  const got = await sdk.collect();
  const outcomes = got.series('grpc_resilience.server.dedup.outcomes');
  expect(outcomes.map((s) => [s.attributes, s.value])).toEqual(
    expect.arrayContaining([
      [{ 'grpc.method': CHARGE, 'grpc_resilience.outcome': 'executed' }, 1],
      [{ 'grpc.method': CHARGE, 'grpc_resilience.outcome': 'replayed' }, 1],
    ]),
  );
  expect(outcomes).toHaveLength(2);
  expect(got.find('grpc.server.call.started', { 'grpc.method': CHARGE })!.value).toBe(3);
});

test("the server layer's refusals are counted by reason: a call arriving with too little deadline left", async () => {
  // 500 ms is less than the server's minimum budget (1 s), and enough to get its answer back.
  const refused = await callUnary(client, 'GetItem', { id: 'late' }, { timeoutMs: 500 });
  expect(refused.status.code).toBe(Status.DEADLINE_EXCEEDED);
  // The server's refusal, not the client's own deadline: it was recorded before it was sent.
  expect(refused.status.metadata.get('grpc-resilience-reason')).toEqual(['deadline-budget']);

  const got = await sdk.collect();
  expect(got.series('grpc_resilience.server.call.refused')).toEqual([
    {
      attributes: { 'grpc.method': GET, 'grpc_resilience.reason': 'deadline-budget' },
      value: 1,
    },
  ]);
  expect(
    got.find('grpc.server.call.duration', {
      'grpc.method': GET,
      'grpc.status': 'DEADLINE_EXCEEDED',
    })!.count,
  ).toBe(1);
  expect(
    got.find('grpc_resilience.server.deadline.remaining', { 'grpc.method': GET })!.sum,
  ).toBeLessThanOrEqual(0.5);
});

test('a call the client cancels ends once on the server, as CANCELLED, with the bytes it received', async () => {
  let started: grpc.Call | undefined;
  const request = { id: 'gone', value: 'v' };
  const outcome = callUnary(client, 'GetItem', request, {
    metadata: behaviourMetadata({ hang: true }),
    onCall: (call) => (started = call),
  });
  await waitUntil(() => backend.counters.callsOf('GetItem') === 1);
  started!.cancel();
  expect((await outcome).status.code).toBe(Status.CANCELLED);

  // The server learns of the cancel when the client's reset arrives: collect until it has.
  let got = await sdk.collect();
  for (let i = 0; i < 100 && got.series('grpc.server.call.duration').length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    got = await sdk.collect();
  }
  const cancelled = { 'grpc.method': GET, 'grpc.status': 'CANCELLED' };
  expect(got.series('grpc.server.call.duration').map((s) => [s.attributes, s.count])).toEqual([
    [cancelled, 1],
  ]);
  const requestBytes = testServiceDefinition().GetItem.requestSerialize(request).length;
  expect(got.find(INSTRUMENTS.serverRcvdBytes.name, cancelled)).toMatchObject({
    count: 1,
    sum: requestBytes,
  });
  expect(got.find(INSTRUMENTS.serverSentBytes.name, cancelled)).toMatchObject({ count: 1, sum: 0 });
});

describe('message sizes (gRFC A66 server histograms)', () => {
  const SENT = INSTRUMENTS.serverSentBytes.name;
  const RCVD = INSTRUMENTS.serverRcvdBytes.name;
  const service = testServiceDefinition();
  // A client that keeps the replies' bytes as the server serialized them.
  const raw = (bytes: Buffer) => bytes;
  let rawClient: grpc.Client;
  beforeEach(() => {
    rawClient = new grpc.Client(backend.address, grpc.credentials.createInsecure());
  });
  afterEach(() => rawClient.close());

  test('the exact names, units and buckets', async () => {
    expect([SENT, RCVD]).toEqual([
      'grpc.server.call.sent_total_compressed_message_size',
      'grpc.server.call.rcvd_total_compressed_message_size',
    ]);
    const request = { id: 'a', value: 'hello' };
    await new Promise<void>((resolve, reject) =>
      rawClient.makeUnaryRequest(
        TEST_METHODS.getItem,
        service.GetItem.requestSerialize,
        raw,
        request,
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    const got = await sdk.collect();
    expect([got.unit(SENT), got.unit(RCVD)]).toEqual(['By', 'By']);
    expect(got.series(SENT)[0].boundaries).toEqual(SIZE_BUCKETS_BYTES);
    expect(got.series(RCVD)[0].boundaries).toEqual(SIZE_BUCKETS_BYTES);
  });

  test('a unary call: the request and the reply as serialized, under method and status', async () => {
    const request = { id: 'a', value: 'hello' };
    // A 3,000-byte payload puts the reply in the (2048, 4096] bucket.
    const reply = await new Promise<Buffer>((resolve, reject) =>
      rawClient.makeUnaryRequest(
        TEST_METHODS.getItem,
        service.GetItem.requestSerialize,
        raw,
        request,
        behaviourMetadata({ responseBytes: 3000 }),
        (error, bytes) => (error ? reject(error) : resolve(bytes!)),
      ),
    );
    const got = await sdk.collect();
    const ok = { 'grpc.method': GET, 'grpc.status': 'OK' };
    expect(got.series(SENT).map((s) => s.attributes)).toEqual([ok]);
    expect(got.series(RCVD).map((s) => s.attributes)).toEqual([ok]);
    const sent = got.find(SENT, ok)!;
    expect([sent.count, sent.sum]).toEqual([1, reply.length]);
    expect(reply.length).toBeGreaterThan(3000);
    expect(sent.bucketCounts![SIZE_BUCKETS_BYTES.indexOf(4096)]).toBe(1);
    const rcvd = got.find(RCVD, ok)!;
    expect([rcvd.count, rcvd.sum]).toEqual([1, service.GetItem.requestSerialize(request).length]);
  });

  test('a stream that fails after two replies: every message of the call, under its status', async () => {
    const requests = [
      { id: 'x', value: 'one' },
      { id: 'yy', value: 'two' },
      { id: 'zzz', value: 'three' },
    ];
    const replies: Buffer[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = rawClient.makeBidiStreamRequest(
        TEST_METHODS.syncItems,
        service.SyncItems.requestSerialize,
        raw,
        behaviourMetadata({
          failCode: Status.UNAVAILABLE,
          failAfterMessages: 2,
          responseBytes: 100,
        }),
      );
      call.on('data', (bytes: Buffer) => replies.push(bytes));
      call.on('error', () => undefined);
      call.on('status', resolve);
      for (const request of requests) call.write(request);
      call.end();
    });
    expect(status.code).toBe(Status.UNAVAILABLE);
    expect(replies).toHaveLength(2);

    const got = await sdk.collect();
    const failed = { 'grpc.method': TEST_METHODS.syncItems.slice(1), 'grpc.status': 'UNAVAILABLE' };
    expect(got.series(SENT).map((s) => [s.attributes, s.count])).toEqual([[failed, 1]]);
    expect(got.find(SENT, failed)!.sum).toBe(replies[0].length + replies[1].length);
    // The handler read all three requests before the third reply failed.
    expect(backend.counters.messagesReceived).toBe(3);
    const requestBytes = requests.map((r) => service.SyncItems.requestSerialize(r).length);
    expect(got.find(RCVD, failed)).toMatchObject({
      count: 1,
      sum: requestBytes[0] + requestBytes[1] + requestBytes[2],
    });
  });
});
