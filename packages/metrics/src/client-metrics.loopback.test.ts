import { status as Status } from '@grpc/grpc-js';
import { createCircuitBreakerInterceptor } from '@grpc-resilience/circuit-breaker';
import { createDeadlineInterceptor } from '@grpc-resilience/deadline';
import { createRetryInterceptor } from '@grpc-resilience/retry';
import { ConfigError, methodsFromService } from '@grpc-resilience/status';
import {
  TEST_METHODS,
  behaviourMetadata,
  callUnary,
  loopbackFixture,
  testServiceClient,
  type Behaviour,
  type TestBackend,
} from '@grpc-resilience/testing';
import { createNoopMeter, type MeterProvider } from '@opentelemetry/api';
import {
  HEADROOM_BUCKETS,
  LATENCY_BUCKETS_S,
  SIZE_BUCKETS_BYTES,
  TRANSPARENT_RETRY_BUCKETS,
  createClientMetrics,
  createServerMetrics,
  type ClientMetrics,
} from './index';
import { startSdkMetrics } from './sdk-reader.test.helper';

const GET = TEST_METHODS.getItem.slice(1);
const CHARGE = TEST_METHODS.charge.slice(1);
const methods = methodsFromService(testServiceClient().service);

let sdk: ReturnType<typeof startSdkMetrics>;
let backend: TestBackend;
let metrics: ClientMetrics;
let target: string;
const loop = loopbackFixture(afterEach);

beforeEach(async () => {
  sdk = startSdkMetrics();
  // Registered first, so it runs last: after every client and the backend are closed.
  loop.onClose(() => sdk.shutdown());
  const server = createServerMetrics({ meterProvider: sdk.provider })!;
  backend = await loop.backend({ serverOptions: { interceptors: [server.interceptor] } });
  target = `dns:///${backend.address}`;
  metrics = createClientMetrics({ meterProvider: sdk.provider, target: backend.address })!;
});

/** The layer's client chain, as the channel factory composes it, with metrics at both ends. */
function layeredClient(consecutiveFailures = 5) {
  const breaker = createCircuitBreakerInterceptor({
    target: 'test',
    consecutiveFailures,
    halfOpenAfterMs: 60_000,
  });
  const watch = metrics.watchBreaker(breaker);
  const client = loop.client(backend.address, {
    interceptors: [
      metrics.callInterceptor,
      createDeadlineInterceptor(),
      createRetryInterceptor({
        methods,
        initialBackoffMs: 20,
        maxBackoffMs: 20,
      }),
      breaker.interceptor,
      metrics.attemptInterceptor,
    ],
  });
  return { client, breaker, watch };
}
const meta = (behaviour: Behaviour) => ({ metadata: behaviourMetadata(behaviour) });

describe('client and server metrics with the OpenTelemetry SDK', () => {
  test('a success: gRFC A66 names, units, attributes and one count each', async () => {
    const { client } = layeredClient();
    const request = { id: 'a', value: 'payload' };
    const outcome = await callUnary(client, 'GetItem', request, { timeoutMs: 5000 });
    expect(outcome.status.code).toBe(Status.OK);

    const got = await sdk.collect();
    expect(got.names()).toEqual([
      'grpc.client.attempt.duration',
      'grpc.client.attempt.rcvd_total_compressed_message_size',
      'grpc.client.attempt.sent_total_compressed_message_size',
      'grpc.client.attempt.started',
      'grpc.client.call.duration',
      'grpc.server.call.duration',
      'grpc.server.call.rcvd_total_compressed_message_size',
      'grpc.server.call.sent_total_compressed_message_size',
      'grpc.server.call.started',
      'grpc_resilience.client.deadline.headroom',
      'grpc_resilience.server.deadline.remaining',
    ]);
    const units = Object.fromEntries(got.names().map((name) => [name, got.unit(name)]));
    expect(units).toEqual({
      'grpc.client.attempt.duration': 's',
      'grpc.client.attempt.rcvd_total_compressed_message_size': 'By',
      'grpc.client.attempt.sent_total_compressed_message_size': 'By',
      'grpc.client.attempt.started': '{attempt}',
      'grpc.client.call.duration': 's',
      'grpc.server.call.duration': 's',
      'grpc.server.call.rcvd_total_compressed_message_size': 'By',
      'grpc.server.call.sent_total_compressed_message_size': 'By',
      'grpc.server.call.started': '{call}',
      'grpc_resilience.client.deadline.headroom': '1',
      'grpc_resilience.server.deadline.remaining': 's',
    });
    const call = { 'grpc.method': GET, 'grpc.target': target };
    const ok = { ...call, 'grpc.status': 'OK' };
    expect(got.series('grpc.client.attempt.started')).toEqual([{ attributes: call, value: 1 }]);
    expect(got.series('grpc.client.attempt.duration').map((s) => [s.attributes, s.count])).toEqual([
      [ok, 1],
    ]);
    const callDuration = got.find('grpc.client.call.duration', ok)!;
    expect(callDuration.count).toBe(1);
    expect(callDuration.boundaries).toEqual(LATENCY_BUCKETS_S);
    // The request's bytes as grpc-js serialized them, and a reply that came back.
    const serialized = testServiceClient().service.GetItem.requestSerialize(request).length;
    const sent = got.find('grpc.client.attempt.sent_total_compressed_message_size', ok)!;
    expect([sent.count, sent.sum]).toEqual([1, serialized]);
    expect(sent.boundaries).toEqual(SIZE_BUCKETS_BYTES);
    const rcvd = got.find('grpc.client.attempt.rcvd_total_compressed_message_size', ok)!;
    expect(rcvd.count).toBe(1);
    expect(rcvd.sum).toBeGreaterThan(0);
    // The server's side of the same call: no target (gRFC A66).
    expect(got.series('grpc.server.call.started')).toEqual([
      { attributes: { 'grpc.method': GET }, value: 1 },
    ]);
    const served = { 'grpc.method': GET, 'grpc.status': 'OK' };
    expect(got.find('grpc.server.call.duration', served)!.count).toBe(1);
    // The bytes one side sent are the bytes the other received.
    expect(got.find('grpc.server.call.rcvd_total_compressed_message_size', served)!.sum).toBe(
      serialized,
    );
    expect(got.find('grpc.server.call.sent_total_compressed_message_size', served)!.sum).toBe(
      rcvd.sum,
    );
    // Headroom: the share of 5 s the call did not use.
    const headroom = got.find('grpc_resilience.client.deadline.headroom', ok)!;
    expect(headroom.boundaries).toEqual(HEADROOM_BUCKETS);
    expect(headroom.count).toBe(1);
    // What the call took of its 5 s, as the caller measured it around the call (a little more
    // than the interceptor saw), is what is missing from the headroom.
    expect(headroom.sum).toBeGreaterThanOrEqual(1 - outcome.durationMs / 5000 - 0.001);
    expect(headroom.sum).toBeLessThanOrEqual(1);
  });

  test('a retried call: two attempts, one call, A96 retries and retry delay', async () => {
    const { client } = layeredClient();
    const outcome = await callUnary(
      client,
      'GetItem',
      { id: 'r' },
      meta({ callId: 'retried', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
    );
    expect(outcome.status.code).toBe(Status.OK);

    const got = await sdk.collect();
    const call = { 'grpc.method': GET, 'grpc.target': target };
    expect(got.series('grpc.client.attempt.started')).toEqual([{ attributes: call, value: 2 }]);
    const attempts = got.series('grpc.client.attempt.duration');
    expect(attempts.map((s) => [s.attributes['grpc.status'], s.count]).sort()).toEqual([
      ['OK', 1],
      ['UNAVAILABLE', 1],
    ]);
    expect(got.series('grpc.client.call.duration').map((s) => [s.attributes, s.count])).toEqual([
      [{ ...call, 'grpc.status': 'OK' }, 1],
    ]);
    const retries = got.find('grpc.client.call.retries', call)!;
    expect([retries.count, retries.sum]).toEqual([1, 1]);
    expect(got.unit('grpc.client.call.retries')).toBe('{retry}');
    expect(retries.boundaries).toEqual([1, 2, 3, 4, 5]);
    // The backoff was drawn from (0, 20 ms] with full jitter: the delay between the attempts
    // lies inside the call's duration.
    const delay = got.find('grpc.client.call.retry_delay', call)!;
    expect(delay.count).toBe(1);
    expect(got.unit('grpc.client.call.retry_delay')).toBe('s');
    expect(delay.sum).toBeGreaterThanOrEqual(0);
    expect(delay.sum).toBeLessThan(got.series('grpc.client.call.duration')[0].sum!);
    // The call holds its attempts and the delay between them, all on one monotonic clock.
    const attemptsSum = attempts.reduce((sum, s) => sum + s.sum!, 0);
    expect(got.series('grpc.client.call.duration')[0].sum).toBeGreaterThanOrEqual(
      attemptsSum + delay.sum!,
    );
    expect(got.series('grpc.client.call.hedges')).toEqual([]);
    expect(got.series('grpc.server.call.started')[0].value).toBe(2);
  });

  test('attempts that never reached a server: A96 transparent retries, not retries', async () => {
    // Nothing listens on port 1: every attempt fails in grpc-js, before any byte is sent, and
    // the retry layer retries even a non-idempotent method.
    const dead = createClientMetrics({ meterProvider: sdk.provider, target: '127.0.0.1:1' })!;
    const client = loop.client('127.0.0.1:1', {
      interceptors: [
        dead.callInterceptor,
        createDeadlineInterceptor(),
        createRetryInterceptor({ methods, initialBackoffMs: 1, maxBackoffMs: 1, budget: false }),
        dead.attemptInterceptor,
      ],
    });
    const outcome = await callUnary(client, 'Charge', {}, { timeoutMs: 5000 });
    expect(outcome.status.code).toBe(Status.UNAVAILABLE);
    expect(outcome.status.details).toMatch(/No connection established/);
    const attempts = Number(outcome.status.metadata.get('grpc-resilience-attempts')[0]);
    expect(attempts).toBeGreaterThan(1);

    const got = await sdk.collect();
    const call = { 'grpc.method': CHARGE, 'grpc.target': 'dns:///127.0.0.1:1' };
    expect(got.find('grpc.client.attempt.started', call)!.value).toBe(attempts);
    const transparent = got.find('grpc.client.call.transparent_retries', call)!;
    expect([transparent.count, transparent.sum]).toEqual([1, attempts - 1]);
    expect(got.unit('grpc.client.call.transparent_retries')).toBe('{transparent_retry}');
    expect(transparent.boundaries).toEqual(TRANSPARENT_RETRY_BUCKETS);
    // A96: retries exclude transparent ones; none here, and 0 is not reported.
    expect(got.series('grpc.client.call.retries')).toEqual([]);
    expect(got.find('grpc.client.call.retry_delay', call)!.count).toBe(1);
  });

  test('a server that forwards a never-sent text answered: its retry is a retry', async () => {
    const { client } = layeredClient();
    const outcome = await callUnary(
      client,
      'GetItem',
      { id: 'f' },
      meta({
        callId: 'forwarded',
        failCode: Status.UNAVAILABLE,
        failDetails: 'No connection established. Last error: connect ECONNREFUSED 10.0.0.9:1',
        failAttempts: 1,
      }),
    );
    expect(outcome.status.code).toBe(Status.OK);

    const got = await sdk.collect();
    const call = { 'grpc.method': GET, 'grpc.target': target };
    expect(got.find('grpc.client.attempt.started', call)!.value).toBe(2);
    const retries = got.find('grpc.client.call.retries', call)!;
    expect([retries.count, retries.sum]).toEqual([1, 1]);
    expect(got.series('grpc.client.call.transparent_retries')).toEqual([]);
  });

  test('a call refused by an open circuit: counted by reason, and no attempt started', async () => {
    const { client, watch } = layeredClient(1);
    // Charge is not idempotent: its UNAVAILABLE is not retried and opens the circuit (1 failure).
    const failed = await callUnary(client, 'Charge', {}, meta({ failCode: Status.UNAVAILABLE }));
    expect(failed.status.code).toBe(Status.UNAVAILABLE);
    const refused = await callUnary(client, 'Charge', {});
    expect(refused.status.code).toBe(Status.UNAVAILABLE);
    expect(refused.status.details).toMatch(/circuit open/);
    watch.dispose();

    const got = await sdk.collect();
    const call = { 'grpc.method': CHARGE, 'grpc.target': target };
    expect(got.find('grpc.client.attempt.started', call)!.value).toBe(1);
    expect(
      got.find('grpc.client.call.duration', { ...call, 'grpc.status': 'UNAVAILABLE' })!.count,
    ).toBe(2);
    expect(got.series('grpc_resilience.client.call.refused')).toEqual([
      { attributes: { ...call, 'grpc_resilience.reason': 'circuit-open' }, value: 1 },
    ]);
    expect(got.unit('grpc_resilience.client.call.refused')).toBe('{call}');
    const stopped = got.series('grpc_resilience.client.retry.stopped');
    expect(stopped.map((s) => [s.attributes['grpc_resilience.reason'], s.value]).sort()).toEqual([
      ['circuit-open', 1],
      ['not-idempotent', 1],
    ]);
    const circuit = { 'grpc.target': target, 'grpc_resilience.circuit': 'test' };
    expect(got.series('grpc_resilience.client.breaker.transitions')).toEqual([
      { attributes: { ...circuit, 'grpc_resilience.state': 'open' }, value: 1 },
    ]);
    const states = got.series('grpc_resilience.client.breaker.state');
    expect(states.map((s) => [s.attributes['grpc_resilience.state'], s.value]).sort()).toEqual([
      ['closed', 0],
      ['half-open', 0],
      ['open', 1],
    ]);
    // The server saw the first call only.
    expect(got.series('grpc.server.call.started')).toEqual([
      { attributes: { 'grpc.method': CHARGE }, value: 1 },
    ]);
  });

  test('deadline headroom: a call that ran out of time lands at 0; the server saw what was left', async () => {
    const { client } = layeredClient();
    const outcome = await callUnary(
      client,
      'GetItem',
      { id: 'h' },
      { ...meta({ hang: true }), timeoutMs: 500 },
    );
    expect(outcome.status.code).toBe(Status.DEADLINE_EXCEEDED);

    const got = await sdk.collect();
    const exceeded = {
      'grpc.method': GET,
      'grpc.target': target,
      'grpc.status': 'DEADLINE_EXCEEDED',
    };
    const headroom = got.find('grpc_resilience.client.deadline.headroom', exceeded)!;
    expect(headroom.count).toBe(1);
    expect(headroom.bucketCounts![0]).toBe(1); // the (-inf, 0] bucket
    const arrival = got.find('grpc_resilience.server.deadline.remaining', { 'grpc.method': GET })!;
    expect(arrival.count).toBe(1);
    // At most the 500 ms the client gave, less what the way there took.
    expect(arrival.sum).toBeLessThanOrEqual(0.5);
    expect(arrival.sum).toBeGreaterThan(0);
  });

  test('a hedge: two attempts in flight at once, one call, A96 hedges and no retries', async () => {
    const hedging = { minSamples: 5, minDelayMs: 20, maxDelayMs: 100, maxExtraLoad: 1 };
    const client = loop.client(backend.address, {
      interceptors: [
        metrics.callInterceptor,
        createDeadlineInterceptor(),
        createRetryInterceptor({
          methods: methodsFromService(testServiceClient().service),
          hedging,
          // The hedge is decided while the first attempt hangs on; the hedge itself is fast.
          onHedge: () => void (backend.behaviour = {}),
        }),
        metrics.attemptInterceptor,
      ],
    });
    for (let i = 0; i < hedging.minSamples; i++) {
      expect((await callUnary(client, 'GetItem', { id: 'warm' })).status.code).toBe(Status.OK);
    }
    backend.behaviour = { delayMs: 2000 };
    const hedged = await callUnary(client, 'GetItem', { id: 'slow' });
    expect(hedged.status.code).toBe(Status.OK);
    expect(hedged.durationMs).toBeLessThan(2000);

    const got = await sdk.collect();
    const call = { 'grpc.method': GET, 'grpc.target': target };
    expect(got.find('grpc.client.attempt.started', call)!.value).toBe(hedging.minSamples + 2);
    const hedges = got.find('grpc.client.call.hedges', call)!;
    expect([hedges.count, hedges.sum]).toEqual([1, 1]);
    expect(got.unit('grpc.client.call.hedges')).toBe('{hedge}');
    expect(got.series('grpc.client.call.retries')).toEqual([]);
    // The slow attempt was cancelled when the hedge answered.
    expect(
      got.find('grpc.client.attempt.duration', { ...call, 'grpc.status': 'CANCELLED' })?.count,
    ).toBe(1);
    expect(got.find('grpc.client.call.duration', { ...call, 'grpc.status': 'OK' })!.count).toBe(
      hedging.minSamples + 1,
    );
  });

  test('methods not registered are recorded as "other" (gRFC A66)', async () => {
    const only = createClientMetrics({
      meterProvider: sdk.provider,
      target: backend.address,
      methods: [TEST_METHODS.putItem],
    })!;
    const client = loop.client(backend.address, {
      interceptors: [only.callInterceptor, only.attemptInterceptor],
    });
    await callUnary(client, 'GetItem', { id: 'o' });
    await callUnary(client, 'PutItem', { id: 'o' });
    const got = await sdk.collect();
    expect(
      got
        .series('grpc.client.attempt.started')
        .map((s) => s.attributes['grpc.method'])
        .sort(),
    ).toEqual(['grpc_resilience.test.v1.TestService/PutItem', 'other']);
  });
});

describe('without a meter provider', () => {
  test('nothing to record: no interceptors at all', () => {
    // Nothing is registered with @opentelemetry/api in this test file.
    expect(createClientMetrics()).toBeUndefined();
    expect(createServerMetrics()).toBeUndefined();
    const noop: MeterProvider = { getMeter: () => createNoopMeter() };
    expect(createClientMetrics({ meterProvider: noop })).toBeUndefined();
  });

  test('bad options throw a ConfigError naming the option', () => {
    expect(() => createClientMetrics({ maxMethods: 0 })).toThrow(ConfigError);
    expect(() => createClientMetrics({ maxMethods: 0 })).toThrow(/metrics.maxMethods/);
    expect(() => createClientMetrics({ methods: ['GetItem'] })).toThrow(/metrics.methods/);
    expect(() => createClientMetrics({ target: '' })).toThrow(/metrics.target/);
    expect(() => createClientMetrics({ meterProvider: {} as MeterProvider })).toThrow(
      /metrics.meterProvider/,
    );
  });
});
