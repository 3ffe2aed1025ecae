import * as grpc from '@grpc/grpc-js';
import type { DrainPhase, ResilientServer } from '@grpc-resilience/server';
import {
  TEST_SERVICE_NAME,
  callUnary,
  loopbackFixture,
  testServiceClient,
  testServiceDefinition,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createResilientClient } from './client-factory';
import { createResilientServer } from './server-create';

const loop = loopbackFixture(afterEach);

// Long enough for the client to hear NOT_SERVING and send 200 calls before the GOAWAY, on a
// loaded machine: here it hears within a batch or two (tens of ms).
const DRAIN_DELAY_MS = 4000;

interface KitServer {
  server: ResilientServer;
  address: string;
  /** GetItem calls it answered. */
  calls: number;
  /** Its drain's phases so far. */
  phases: DrainPhase[];
}

/** A server kit (health on, as by default) serving GetItem, counting what it answers. */
async function kitServer(): Promise<KitServer> {
  const phases: DrainPhase[] = [];
  const server = createResilientServer({
    drain: { drainDelayMs: DRAIN_DELAY_MS, onPhase: (phase) => phases.push(phase) },
  });
  loop.onClose(() => server.forceShutdown());
  const kit = { server, address: '', calls: 0, phases };
  server.addService(testServiceDefinition(), {
    GetItem: (_call: unknown, done: grpc.sendUnaryData<unknown>) => {
      kit.calls++;
      done(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  kit.address = `127.0.0.1:${port}`;
  return kit;
}

/** `size` GetItem calls at once; their status codes. */
async function batch(client: TestServiceClient, size: number): Promise<grpc.status[]> {
  const outcomes = await Promise.all(
    Array.from({ length: size }, () => callUnary(client, 'GetItem', {}, { timeoutMs: 5000 })),
  );
  return outcomes.map((outcome) => outcome.status.code);
}

it("the server kit's drain is the health source: the client stops calling it before its GOAWAY", async () => {
  const [draining, staying] = await Promise.all([kitServer(), kitServer()]);
  const client = loop.keep(
    createResilientClient(testServiceClient(), [draining.address, staying.address], {
      retry: false,
      breaker: false,
      loadBalancing: { healthCheck: { serviceName: TEST_SERVICE_NAME } },
    }),
  );
  const ok = Array(20).fill(grpc.status.OK);
  // Warm-up until one batch reaches both: the watches said SERVING, and neither endpoint's
  // latency estimate keeps p2c off it (so a batch that misses it later means something).
  let spread = false;
  for (let i = 0; i < 50 && !spread; i++) {
    const before = [draining.calls, staying.calls];
    expect(await batch(client, 20)).toEqual(ok);
    spread = draining.calls > before[0] && staying.calls > before[1];
  }
  expect(spread).toBe(true);

  const drained = draining.server.gracefulShutdown();
  expect(draining.phases).toEqual(['not-serving']);
  // Until the client has heard NOT_SERVING: the first batch of which none went there.
  let heard = false;
  for (let i = 0; i < 100 && !heard; i++) {
    const before = draining.calls;
    expect(await batch(client, 20)).toEqual(ok);
    heard = draining.calls === before;
  }
  expect(heard).toBe(true);
  const seen = draining.calls;
  for (let i = 0; i < 10; i++) expect(await batch(client, 20)).toEqual(ok);
  expect(draining.calls).toBe(seen);
  // All of that before the drain's GOAWAY: health, not the connection's end, moved the calls.
  expect(draining.phases).toEqual(['not-serving']);

  // The client's health watch is a response stream: the drain ends it after the GOAWAY.
  expect((await drained).forced).toBe(false);
  expect(await batch(client, 20)).toEqual(ok);
  expect(draining.calls).toBe(seen);
}, 30_000);
