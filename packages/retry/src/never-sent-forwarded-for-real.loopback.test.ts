import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import {
  callUnary,
  createTestClient,
  loopbackFixture,
  testServiceDefinition,
} from '@grpc-resilience/testing';
import type { GiveUpEvent } from './index';
import { createRetryTestClient } from './retry-test-client.test.helper';

/*
 * Done-when 4 with the texts grpc-js really makes: a server whose Charge handler (its side
 * effect done) calls a downstream of its own, gets grpc-js's local "never sent" status, and
 * forwards it as its answer, either trailers-only or after sending its response headers (then
 * its trailers carry nothing but grpc-status and grpc-message, so only the headers show that
 * the peer answered). The caller's non-idempotent call ran once: it must not be retried.
 */

const loop = loopbackFixture(afterEach);

type Downstream = 'refused' | 'closed' | 'too-large';
const DOWNSTREAM = 'x-test-downstream';
const HEADERS_FIRST = 'x-test-headers-first';

/** Makes the downstream call that fails locally in grpc-js, and hands over its error. */
function failDownstream(kind: Downstream, done: (error: grpc.ServiceError) => void): void {
  const client =
    kind === 'too-large'
      ? createTestClient('127.0.0.1:1', { 'grpc.max_send_message_length': 8 })
      : createTestClient('127.0.0.1:1'); // nothing listens on port 1: connection refused
  const request = { account: 'an account name longer than eight bytes' };
  client.Charge(request, { deadline: Date.now() + 5_000 }, (error: grpc.ServiceError | null) => {
    client.close();
    done(error!);
  });
  // Closed while its call waits for a connection: grpc-js fails the call as never started.
  if (kind === 'closed') client.close();
}

async function startForwardingServer(): Promise<{ address: string; runs: () => number }> {
  let runs = 0;
  const server = new grpc.Server();
  server.addService(testServiceDefinition(), {
    Charge(call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      runs++; // the side effect
      const kind = String(call.metadata.get(DOWNSTREAM)[0]) as Downstream;
      if (call.metadata.get(HEADERS_FIRST).length > 0) call.sendMetadata(new grpc.Metadata());
      failDownstream(kind, (error) => callback({ code: error.code, details: error.details }));
    },
  });
  const address = await loop.serve(server);
  return { address, runs: () => runs };
}

const CASES: [Downstream, Status, RegExp][] = [
  ['refused', Status.UNAVAILABLE, /^No connection established|^[a-z_]+: No connection established/],
  ['closed', Status.UNAVAILABLE, /^Channel closed before call started/],
  ['too-large', Status.RESOURCE_EXHAUSTED, /^Attempted to send message with a size larger than 8/],
];

describe.each([
  ['trailers-only', false],
  ['after its response headers', true],
])('a server forwarding the local status of its own downstream call, %s', (_shape, headers) => {
  it.each(CASES)(
    'downstream %s: the caller gets %s, the handler ran once, no retry',
    async (kind, code, details) => {
      const server = await startForwardingServer();
      const giveUps: GiveUpEvent[] = [];
      const client = loop.keep(
        createRetryTestClient(server.address, {
          initialBackoffMs: 1,
          maxBackoffMs: 1,
          onGiveUp: (event) => giveUps.push(event),
        }),
      );
      const metadata = new grpc.Metadata();
      metadata.set(DOWNSTREAM, kind);
      if (headers) metadata.set(HEADERS_FIRST, '1');
      const outcome = await callUnary(client, 'Charge', {}, { metadata, timeoutMs: 10_000 });
      // The real text grpc-js made for the downstream call reached the caller as it was.
      expect(outcome.status.code).toBe(code);
      expect(outcome.status.details).toMatch(details);
      expect(server.runs()).toBe(1);
      expect(outcome.status.metadata.get('grpc-resilience-attempts')).toEqual([]);
      expect(giveUps).toHaveLength(1);
    },
  );
});
