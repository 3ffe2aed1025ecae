import { InterceptingCall, status as Status, type Interceptor } from '@grpc/grpc-js';
import { ConfigError } from '@grpc-resilience/status';
import {
  TEST_METHODS,
  callUnary,
  loopbackFixture,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { INSTRUMENTS, createClientMetrics, createServerMetrics } from './index';
import { startSdkMetrics } from './sdk-reader.test.helper';

/**
 * What the call path records since it stopped paying the SDK per value where it need not:
 * counters kept in the layer, and instruments a client or server turned off.
 */
const GET = TEST_METHODS.getItem.slice(1);
const SIZES = [INSTRUMENTS.attemptSentBytes.name, INSTRUMENTS.attemptRcvdBytes.name];

let sdk: ReturnType<typeof startSdkMetrics>;
let backend: TestBackend;
const loop = loopbackFixture(afterEach);

beforeEach(async () => {
  sdk = startSdkMetrics();
  // Registered first, so it runs last: after every client and backend is closed.
  loop.onClose(() => sdk.shutdown());
  const server = createServerMetrics({ meterProvider: sdk.provider })!;
  backend = await loop.backend({ serverOptions: { interceptors: [server.interceptor] } });
});

function measuredClient() {
  const metrics = createClientMetrics({ meterProvider: sdk.provider, target: backend.address })!;
  return loop.client(backend.address, {
    interceptors: [metrics.callInterceptor, metrics.attemptInterceptor],
  });
}

test('counts kept in the layer: clients of one target add up in one series, and keep counting after a collection', async () => {
  const first = measuredClient();
  const second = measuredClient();
  const call = async (client: TestServiceClient) =>
    (await callUnary(client, 'GetItem', { id: 'a', value: 'v' }, { timeoutMs: 5000 })).status.code;
  expect([await call(first), await call(second), await call(second)]).toEqual([
    Status.OK,
    Status.OK,
    Status.OK,
  ]);
  const attempts = { 'grpc.method': GET, 'grpc.target': `dns:///${backend.address}` };
  const got = await sdk.collect();
  expect(got.series('grpc.client.attempt.started')).toEqual([{ attributes: attempts, value: 3 }]);
  expect(got.series('grpc.server.call.started')).toEqual([
    { attributes: { 'grpc.method': GET }, value: 3 },
  ]);

  expect(await call(first)).toBe(Status.OK);
  const again = await sdk.collect();
  // Cumulative, as a synchronous counter's: the next collection adds to what was counted.
  expect(again.series('grpc.client.attempt.started')).toEqual([{ attributes: attempts, value: 4 }]);
});

test('turned-off instruments record nothing, the others as before, and sizes are not counted', async () => {
  const server = createServerMetrics({
    meterProvider: sdk.provider,
    disabledMetrics: [
      INSTRUMENTS.serverDuration.name,
      INSTRUMENTS.serverSentBytes.name,
      INSTRUMENTS.serverRcvdBytes.name,
    ],
  })!;
  const own = await loop.backend({ serverOptions: { interceptors: [server.interceptor] } });
  const metrics = createClientMetrics({
    meterProvider: sdk.provider,
    target: own.address,
    disabledMetrics: [...SIZES, INSTRUMENTS.deadlineHeadroom.name],
  })!;
  // Below the attempt interceptor: sees the definition grpc-js will serialize with.
  const wrapped: boolean[] = [];
  const probe: Interceptor = (options, nextCall) => {
    wrapped.push(Object.getOwnPropertySymbols(options.method_definition).length > 0);
    return new InterceptingCall(nextCall(options));
  };
  const client = loop.client(own.address, {
    interceptors: [metrics.callInterceptor, metrics.attemptInterceptor, probe],
  });
  const outcome = await callUnary(client, 'GetItem', { id: 'a', value: 'v' }, { timeoutMs: 5000 });
  expect(outcome.status.code).toBe(Status.OK);

  const got = await sdk.collect();
  expect(got.names()).toEqual([
    'grpc.client.attempt.duration',
    'grpc.client.attempt.started',
    'grpc.client.call.duration',
    'grpc.server.call.started',
    'grpc_resilience.server.deadline.remaining',
  ]);
  const call = { 'grpc.method': GET, 'grpc.target': `dns:///${own.address}` };
  expect(got.series('grpc.client.attempt.started')).toEqual([{ attributes: call, value: 1 }]);
  expect(got.find('grpc.client.call.duration', { ...call, 'grpc.status': 'OK' })!.count).toBe(1);
  // With both size histograms off, the call's serializers are left unwrapped.
  expect(wrapped).toEqual([false]);
});

test('disabledMetrics takes only names of instruments recorded per call', () => {
  const meterProvider = sdk.provider;
  expect(() =>
    createClientMetrics({ meterProvider, disabledMetrics: ['grpc.client.attempt.sizes'] }),
  ).toThrow(ConfigError);
  // Not recorded per call: a View drops it.
  expect(() =>
    createClientMetrics({ meterProvider, disabledMetrics: [INSTRUMENTS.breakerState.name] }),
  ).toThrow(/metrics\.disabledMetrics.*instrument names recorded per call/);
  expect(() =>
    createServerMetrics({
      meterProvider,
      disabledMetrics: INSTRUMENTS.serverStarted.name as unknown as string[],
    }),
  ).toThrow(ConfigError);
});
