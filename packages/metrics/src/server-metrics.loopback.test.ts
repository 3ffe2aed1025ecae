import { Metadata, status as Status } from '@grpc/grpc-js';
import { createServerContextInterceptor } from '@grpc-resilience/deadline';
import { createDedupInterceptor } from '@grpc-resilience/idempotency';
import {
  TEST_METHODS,
  callUnary,
  createTestClient,
  startTestBackend,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createServerMetrics } from './index';
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
