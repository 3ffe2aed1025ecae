import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { rejectedCall } from '@grpc-resilience/status';
import {
  callUnary,
  createTestClient,
  loopbackFixture,
  testServiceDefinition,
} from '@grpc-resilience/testing';
import type { GiveUpEvent } from './index';
import { createRetryTestClient } from './retry-test-client.test.helper';

/*
 * A middle tier whose own client refused its downstream call (the layer's open circuit, with
 * `grpc-resilience-reason: circuit-open`) and which hands that error on as its answer: the reason
 * arrives in the server's trailers. It is that server's UNAVAILABLE, not this client's circuit:
 * an idempotent call is retried like any UNAVAILABLE (another replica's circuit may be closed),
 * and a non-idempotent one gives up as not idempotent, not as "circuit-open".
 */

const loop = loopbackFixture(afterEach);

/** The middle tier's own downstream client, refused by its layer before sending anything. */
function refusedDownstream(done: (error: grpc.ServiceError) => void): void {
  const client = createTestClient('127.0.0.1:1', {
    interceptors: [
      () => rejectedCall(Status.UNAVAILABLE, 'circuit open for /test.Down/Get', 'circuit-open'),
    ],
  });
  client.GetItem({}, (error: grpc.ServiceError | null) => {
    client.close();
    done(error!);
  });
}

/** Each method forwards the downstream refusal on its first run per call id, then answers OK. */
async function startMiddleTier(): Promise<{ address: string; runs: Map<string, number> }> {
  const runs = new Map<string, number>();
  const handler = (
    call: grpc.ServerUnaryCall<unknown, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ) => {
    const id = String(call.metadata.get('x-call-id')[0]);
    const run = (runs.get(id) ?? 0) + 1;
    runs.set(id, run);
    if (run > 1) return callback(null, {});
    refusedDownstream((error) => callback(error));
  };
  const server = new grpc.Server();
  server.addService(testServiceDefinition(), { GetItem: handler, Charge: handler });
  const address = await loop.serve(server);
  return { address, runs };
}

function callIdMetadata(id: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('x-call-id', id);
  return metadata;
}

it("a server's forwarded circuit-open is its UNAVAILABLE: an idempotent call is retried", async () => {
  const server = await startMiddleTier();
  const giveUps: GiveUpEvent[] = [];
  const client = loop.keep(
    createRetryTestClient(server.address, {
      initialBackoffMs: 1,
      maxBackoffMs: 1,
      onGiveUp: (event) => giveUps.push(event),
    }),
  );
  const outcome = await callUnary(
    client,
    'GetItem',
    {},
    { metadata: callIdMetadata('get'), timeoutMs: 10_000 },
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(server.runs.get('get')).toBe(2);
  expect(giveUps).toEqual([]);
});

it('a non-idempotent call it forwards to gives up as not idempotent, not as an open circuit', async () => {
  const server = await startMiddleTier();
  const giveUps: GiveUpEvent[] = [];
  const client = loop.keep(
    createRetryTestClient(server.address, { onGiveUp: (event) => giveUps.push(event) }),
  );
  const outcome = await callUnary(
    client,
    'Charge',
    {},
    { metadata: callIdMetadata('charge'), timeoutMs: 10_000 },
  );
  expect(outcome.status.code).toBe(Status.UNAVAILABLE);
  expect(outcome.status.details).toBe('circuit open for /test.Down/Get');
  expect(server.runs.get('charge')).toBe(1);
  expect(giveUps.map((event) => event.reason)).toEqual(['not-idempotent']);
});
