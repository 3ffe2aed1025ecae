import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { callClientStream, loopbackFixture, testServiceDefinition } from '@grpc-resilience/testing';
import { createDedupInterceptor, MemoryDedupStore } from './index';

/*
 * Done-when 5, "memory stays under the configured byte bound", with a response shaped like many
 * real ones: a repeated field of short strings. memory-dedup-store.test.ts measures the heap
 * with one small message per outcome, where the message's serialized size (what the store
 * counts) is close to what its JS object holds. Here each kept response holds 10,000 ids of
 * 6 characters: about 80 KB on the wire, several times that as JS strings in an array.
 */

const loop = loopbackFixture(afterEach);
const MAX_BYTES = 16 * 1024 * 1024;
const IDS = 10_000;
const CALLS = 300; // about 24 MB of serialized outcomes: more than the bound holds

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const heapBytes = () => process.memoryUsage().heapUsed + process.memoryUsage().external;

it(`a server's dedup store kept under maxBytes (${MAX_BYTES} B) by the heap, with ${CALLS} keyed responses of ${IDS} short strings each`, async () => {
  const store = new MemoryDedupStore({ maxBytes: MAX_BYTES, maxEntries: 1_000_000 });
  const server = new grpc.Server({ interceptors: [createDedupInterceptor({ store })] });
  loop.onClose(() => server.forceShutdown());
  let next = 0;
  server.addService(testServiceDefinition(), {
    UploadItems(
      call: grpc.ServerReadableStream<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      call.on('data', () => undefined);
      call.on('end', () => {
        // Fresh strings per response, as a handler reading rows from a database makes them.
        const ids = Array.from({ length: IDS }, () => (next++).toString(36).padStart(6, '0'));
        callback(null, { count: ids.length, ids, backend: 'a' });
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const client = loop.client(`127.0.0.1:${port}`);
  const gc = exposeGc();
  gc();
  gc();
  const before = heapBytes();
  for (let i = 0; i < CALLS; i++) {
    const metadata = new grpc.Metadata();
    metadata.set('idempotency-key', `upload-${i}`);
    const outcome = await callClientStream(client, 'UploadItems', [{ id: 'x' }], { metadata });
    expect(outcome.status.code).toBe(grpc.status.OK);
  }
  gc();
  gc();
  const growth = heapBytes() - before;
  process.stdout.write(
    `dedup heap: entries ${store.size}, accounted ${store.usage().bytes} B, ` +
      `heap+external growth ${growth} B, bound ${MAX_BYTES} B (${(growth / MAX_BYTES).toFixed(2)}x)\n`,
  );
  expect(store.usage().bytes).toBeLessThanOrEqual(MAX_BYTES);
  // The same tolerance as memory-dedup-store.test.ts: the bound, plus a quarter for the rest.
  expect(growth).toBeLessThanOrEqual(MAX_BYTES * 1.25);
}, 120_000);
