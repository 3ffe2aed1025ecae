import { status as Status } from '@grpc/grpc-js';
import { behaviourMetadata } from './behaviour';
import { callServerStream, callUnary } from './calls';
import { loopbackFixture } from './loopback-fixture';
import { startPingEnforcingServer, type PingEnforcingServer } from './ping-enforcing-server';

// grpc-go's enforcement scaled down 1000x: MinTime 300 ms, 2 strikes tolerated.
const MIN_PING_INTERVAL_MS = 300;
let server: PingEnforcingServer;
const loop = loopbackFixture(afterEach);
beforeEach(async () => {
  server = await startPingEnforcingServer({ minPingIntervalMs: MIN_PING_INTERVAL_MS });
  loop.onClose(() => server.close());
});
const pingingEvery = (keepaliveTimeMs: number) =>
  loop.client(server.address, {
    'grpc.keepalive_time_ms': keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': 1000,
  });

it('a server stream that stays quiet while the client pings too often draws GOAWAY too_many_pings', async () => {
  const outcome = await callServerStream(
    pingingEvery(30),
    'ListItems',
    {},
    { timeoutMs: 5000, metadata: behaviourMetadata({ delayMs: 1500, messages: 2 }) },
  );
  expect(server.tooManyPings).toBe(1);
  // The first ping sets the clock; the next three come within MinTime, and the third strike is
  // past the two tolerated (as the reported grpc-go GOAWAY at 120 s with pings every 30 s).
  expect(server.pings).toBe(4);
  expect(server.completed).toBe(0);
  // What grpc-js makes of the RST_STREAM ENHANCE_YOUR_CALM the GOAWAY causes: no trailers.
  expect(outcome.status).toMatchObject({
    code: Status.RESOURCE_EXHAUSTED,
    details: 'Bandwidth exhausted or memory limit exceeded',
  });
  expect(outcome.status.metadata.getMap()).toEqual({});
  expect(outcome.durationMs).toBeLessThan(1500);
});

it('the same quiet stream with pings slower than MinTime ends when the server ends it', async () => {
  const outcome = await callServerStream(
    pingingEvery(MIN_PING_INTERVAL_MS * 1.1),
    'ListItems',
    {},
    { timeoutMs: 5000, metadata: behaviourMetadata({ delayMs: 1500, messages: 2 }) },
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(outcome.messages).toHaveLength(2);
  expect(server.pings).toBeGreaterThanOrEqual(3);
  expect(server.tooManyPings).toBe(0);
});

it("a stream the server writes to keeps resetting the strikes, as grpc-go's writes do", async () => {
  const outcome = await callServerStream(
    pingingEvery(30),
    'ListItems',
    {},
    { timeoutMs: 5000, metadata: behaviourMetadata({ messages: 40, messageIntervalMs: 25 }) },
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(outcome.messages).toHaveLength(40);
  expect(server.pings).toBeGreaterThanOrEqual(3);
  expect(server.tooManyPings).toBe(0);
});

it('unary calls are answered after the delay, as before', async () => {
  const outcome = await callUnary(
    pingingEvery(MIN_PING_INTERVAL_MS * 1.1),
    'GetItem',
    {},
    { timeoutMs: 2000, metadata: behaviourMetadata({ delayMs: 50 }) },
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(server.completed).toBe(1);
});
