import { status as Status, type Interceptor } from '@grpc/grpc-js';
import { createDeadlineInterceptor } from '@grpc-resilience/deadline';
import { AdaptiveRetryBudget, createRetryInterceptor } from '@grpc-resilience/retry';
import { methodsFromService } from '@grpc-resilience/status';
import {
  TEST_METHODS,
  callUnary,
  createTestClient,
  startTestBackend,
  testServiceClient,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createClientMetrics, type ClientMetrics } from './index';
import { startSdkMetrics } from './sdk-reader.test.helper';

let sdk: ReturnType<typeof startSdkMetrics>;
let backend: TestBackend;
let metrics: ClientMetrics;
let client: TestServiceClient | undefined;

beforeEach(async () => {
  sdk = startSdkMetrics();
  backend = await startTestBackend({ behaviour: { failCode: Status.UNAVAILABLE } });
  metrics = createClientMetrics({ meterProvider: sdk.provider, target: backend.address })!;
});
afterEach(async () => {
  client?.close();
  backend.kill();
  await sdk.shutdown();
});

/** The retry layer with an adaptive budget, its interceptor right inside, as the factory wires it. */
function budgetedClient(budget: AdaptiveRetryBudget): TestServiceClient {
  const interceptors: Interceptor[] = [
    metrics.callInterceptor,
    createDeadlineInterceptor(),
    createRetryInterceptor({
      methods: methodsFromService(testServiceClient().service),
      budget,
      initialBackoffMs: 1,
      maxBackoffMs: 1,
    }),
    budget.interceptor,
    metrics.attemptInterceptor,
  ];
  return (client = createTestClient(backend.address, { interceptors }));
}

const attributes = (method: string, reason?: string) => {
  const base = { 'grpc.method': method.slice(1), 'grpc.target': `dns:///${backend.address}` };
  return reason === undefined ? base : { ...base, 'grpc_resilience.reason': reason };
};

test('a throttled call: refused by reason "throttled", no attempt started, nothing sent', async () => {
  // Every attempt the servers refuse makes the next more likely to be throttled; drawing 0
  // throttles as soon as the probability is above 0.
  const budget = new AdaptiveRetryBudget({
    throttle: { minRequests: 0, windowMs: 60_000, maxRejectRatio: 1 },
    random: () => 0,
  });
  const c = budgetedClient(budget);
  // Charge is not idempotent: one attempt per call.
  expect((await callUnary(c, 'Charge', {})).status.code).toBe(Status.UNAVAILABLE);
  const throttled = await callUnary(c, 'Charge', {});
  expect(throttled.status.code).toBe(Status.UNAVAILABLE);
  expect(backend.counters.calls).toBe(1);

  const got = await sdk.collect();
  expect(got.series('grpc_resilience.client.call.refused')).toEqual([
    { attributes: attributes(TEST_METHODS.charge, 'throttled'), value: 1 },
  ]);
  expect(got.find('grpc.client.attempt.started', attributes(TEST_METHODS.charge))!.value).toBe(1);
  expect(
    got.find('grpc.client.call.duration', {
      ...attributes(TEST_METHODS.charge),
      'grpc.status': 'UNAVAILABLE',
    })!.count,
  ).toBe(2);
});

test('a spent retry budget: retries stopped by reason "budget" (what GrpcRetryBudgetExhausted reads)', async () => {
  // One token, no deposits: the first call's first retry takes it, and none is left after.
  const budget = new AdaptiveRetryBudget({ ratio: 0, maxTokens: 1, throttle: false });
  metrics.watchBudget(budget);
  metrics.watchBudget(budget); // a second client of the target: still one series
  const c = budgetedClient(budget);
  expect((await callUnary(c, 'GetItem', { id: 'a' })).status.code).toBe(Status.UNAVAILABLE);
  expect((await callUnary(c, 'GetItem', { id: 'b' })).status.code).toBe(Status.UNAVAILABLE);
  // Two attempts for the first call, one for the second.
  expect(backend.counters.calls).toBe(3);

  const got = await sdk.collect();
  expect(got.series('grpc_resilience.client.retry.stopped')).toEqual([
    { attributes: attributes(TEST_METHODS.getItem, 'budget'), value: 2 },
  ]);
  const retries = got.find('grpc.client.call.retries', attributes(TEST_METHODS.getItem))!;
  expect([retries.count, retries.sum]).toEqual([1, 1]);
  expect(got.find('grpc.client.attempt.started', attributes(TEST_METHODS.getItem))!.value).toBe(3);
  expect(got.series('grpc_resilience.client.retry.budget.balance')).toEqual([
    { attributes: { 'grpc.target': `dns:///${backend.address}` }, value: 0 },
  ]);
  expect(got.unit('grpc_resilience.client.retry.budget.balance')).toBe('{token}');
});
