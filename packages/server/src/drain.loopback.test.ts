import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { REASON_METADATA_KEY } from '@grpc-resilience/status';
import {
  TEST_SERVICE_NAME,
  callServerStream,
  callUnary,
  createTestClient,
  testServiceDefinition,
  waitUntil,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { DRAIN_DETAILS, ResilientServer, type DrainPhase } from './index';

/** GetItem waits `value` ms; ListItems streams every 20 ms until cancelled. */
const handlers: grpc.UntypedServiceImplementation = {
  GetItem(
    call: grpc.ServerUnaryCall<{ id: string; value: string }, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ) {
    setTimeout(() => callback(null, { id: call.request.id }), Number(call.request.value) || 0);
  },
  ListItems(call: grpc.ServerWritableStream<unknown, unknown>) {
    let seq = 0;
    const timer = setInterval(() => call.write({ seq: seq++ }), 20);
    call.on('cancelled', () => clearInterval(timer));
  },
};

const HealthClient = grpc.makeClientConstructor(
  healthService as unknown as grpc.ServiceDefinition,
  'grpc.health.v1.Health',
) as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
) => grpc.Client & {
  check(
    request: { service: string },
    callback: (error: grpc.ServiceError | null, reply?: { status: string }) => void,
  ): void;
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

let server: ResilientServer;
let address: string;
const closers: (() => void)[] = [];
beforeEach(async () => {
  server = new ResilientServer({ drain: { drainDelayMs: 0 } });
  server.addService(testServiceDefinition(), handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  address = `127.0.0.1:${port}`;
});
afterEach(() => {
  for (const close of closers.splice(0)) close();
  server.forceShutdown();
});

function healthClient() {
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  closers.push(() => client.close());
  return client;
}
function testClient(): TestServiceClient {
  const client = createTestClient(address);
  closers.push(() => client.close());
  return client;
}
const check = (service: string) =>
  new Promise<string>((resolve) =>
    healthClient().check({ service }, (error, reply) =>
      resolve(error ? grpc.status[error.code] : reply!.status),
    ),
  );

describe('health', () => {
  it('serves the server and each added service SERVING; unknown services are NOT_FOUND', async () => {
    expect(await check('')).toBe('SERVING');
    expect(await check(TEST_SERVICE_NAME)).toBe('SERVING');
    expect(await check('no.such.Service')).toBe('NOT_FOUND');
    server.health!.setStatus(TEST_SERVICE_NAME, 'NOT_SERVING');
    expect(await check(TEST_SERVICE_NAME)).toBe('NOT_SERVING');
  });

  it('off with health: false', async () => {
    const plain = new ResilientServer({ health: false });
    expect(plain.health).toBeUndefined();
    expect(() => new ResilientServer({ health: 'yes' as never })).toThrow(
      /health must be true or false/,
    );
  });
});

describe('gracefulShutdown', () => {
  it('NOT_SERVING reaches a Watch client before GOAWAY; calls in flight finish; streams end UNAVAILABLE', async () => {
    const events: string[] = [];
    const watch = healthClient().watch({ service: '' });
    watch.on('data', (reply: { status: string }) => events.push(`health ${reply.status}`));
    watch.on('error', () => undefined);
    // A bare HTTP/2 connection, to see the GOAWAY itself.
    const session = http2.connect(`http://${address}`);
    closers.push(() => session.destroy());
    session.on('goaway', () => {
      events.push('goaway');
      session.close();
    });
    session.on('error', () => undefined);
    await waitUntil(() => events.includes('health SERVING'));

    const client = testClient();
    const slow = Array.from({ length: 5 }, (_, i) =>
      callUnary(client, 'GetItem', { id: `slow${i}`, value: '300' }, { timeoutMs: 5000 }),
    );
    const stream = callServerStream(client, 'ListItems', {}, { timeoutMs: 10_000 });
    await waitUntil(() => server.tracker.inFlight >= 7); // 5 unary, the stream, the Watch

    const phases: DrainPhase[] = [];
    const result = await server.gracefulShutdown({
      drainDelayMs: 100,
      streamGraceMs: 200,
      graceMs: 3000,
      onPhase: (phase) => phases.push(phase),
    });

    expect(phases).toEqual(['not-serving', 'goaway', 'streams-ended', 'stopped']);
    expect(result).toEqual({ forced: false, streamsEnded: 2 }); // ListItems and the Watch
    expect(events.indexOf('health NOT_SERVING')).toBeGreaterThan(-1);
    expect(events.indexOf('health NOT_SERVING')).toBeLessThan(events.indexOf('goaway'));
    for (const outcome of await Promise.all(slow)) expect(outcome.status.code).toBe(grpc.status.OK);
    const ended = await stream;
    expect(ended.messages.length).toBeGreaterThan(0);
    expect(ended.status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: DRAIN_DETAILS });
    expect(ended.status.metadata.get(REASON_METADATA_KEY)).toEqual(['draining']);
    expect(server.tracker.inFlight).toBe(0);
  });

  it('forces what is left when the grace runs out', async () => {
    const client = testClient();
    const slow = callUnary(client, 'GetItem', { id: 'slow', value: '5000' }, { timeoutMs: 10_000 });
    await waitUntil(() => server.tracker.inFlight === 1);
    const result = await server.gracefulShutdown({ graceMs: 100 });
    expect(result.forced).toBe(true);
    expect((await slow).status.code).not.toBe(grpc.status.OK);
  });

  it('shutdownOnSignal drains once on SIGTERM, and the listener can be removed', async () => {
    const drained: boolean[] = [];
    const before = process.listenerCount('SIGTERM');
    const dispose = server.shutdownOnSignal({
      exit: false,
      onDrained: (result) => void drained.push(result.forced),
    });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    process.emit('SIGTERM', 'SIGTERM');
    await waitUntil(() => drained.length === 1);
    expect(drained).toEqual([false]);
    dispose();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('bad drain options are ConfigErrors', () => {
    expect(() => new ResilientServer({ drain: { drainDelayMs: -1 } })).toThrow(
      /drain\.drainDelayMs must be an integer from 0 to 300000, received -1/,
    );
    expect(() => server.shutdownOnSignal({ signals: ['TERM' as never] })).toThrow(/signals/);
  });
});
