import * as grpc from '@grpc/grpc-js';
import {
  callUnary,
  createTestClient,
  testServiceDefinition,
  waitUntil,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import {
  createDeadlineInterceptor,
  createServerContextInterceptor,
  currentSignal,
  remainingTimeMs,
  runDetached,
} from './index';

/** One service in a chain: works `workMs`, then calls the next hop (if any) with GetItem. */
interface Hop {
  address: string;
  server: grpc.Server;
  client?: TestServiceClient;
  /** Remaining ms seen on arrival: from the ambient context, and from grpc-js's own deadline. */
  seen: { ambientMs: number; grpcMs: number }[];
  /** When the handler's AbortSignal fired, if it did. */
  abortedAt?: number;
}

const hops: Hop[] = [];
const clients: TestServiceClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const hop of hops.splice(0)) {
    hop.client?.close();
    hop.server.forceShutdown();
  }
});

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

async function startHop(
  workMs: number,
  next?: Hop,
  opts: { detached?: boolean } = {},
): Promise<Hop> {
  const server = new grpc.Server({ interceptors: [createServerContextInterceptor()] });
  const hop: Hop = { address: '', server, seen: [] };
  if (next) {
    hop.client = createTestClient(next.address, { interceptors: [createDeadlineInterceptor()] });
  }
  server.addService(testServiceDefinition(), {
    GetItem: async (
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const deadline = call.getDeadline();
      hop.seen.push({
        ambientMs: remainingTimeMs(),
        grpcMs: (deadline instanceof Date ? deadline.getTime() : deadline) - Date.now(),
      });
      const signal = currentSignal()!;
      signal.addEventListener('abort', () => (hop.abortedAt = Date.now()));
      // Work across a timer and a promise chain: the context must survive both.
      await sleep(workMs, signal);
      await Promise.resolve();
      if (!hop.client) {
        if (signal.aborted) return callback({ code: grpc.status.CANCELLED });
        return callback(null, { id: 'leaf', value: String(remainingTimeMs()) });
      }
      const call2 = () => callUnary(hop.client!, 'GetItem', { id: 'x' });
      const outcome = await (opts.detached ? runDetached(call2) : call2());
      callback(outcome.status.code === grpc.status.OK ? null : outcome.status, outcome.response);
    },
  });
  hop.address = `127.0.0.1:${await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) =>
      e ? reject(e) : resolve(port),
    ),
  )}`;
  hops.push(hop);
  return hop;
}

function client(address: string, interceptors = [createDeadlineInterceptor()]): TestServiceClient {
  const c = createTestClient(address, { interceptors });
  clients.push(c);
  return c;
}

it('A -> B -> C: each hop inherits what is left of the first deadline', async () => {
  const c = await startHop(0);
  const b = await startHop(50, c);
  const a = await startHop(100, b);
  // 2 s: below the hops' own 5 s default, and room for a loaded CI machine's scheduling.
  const outcome = await callUnary(client(a.address), 'GetItem', {}, { timeoutMs: 2000 });
  expect(outcome.status.code).toBe(grpc.status.OK);
  // A saw at most 2000; B at most 2000 - 100 - margin; C at most 2000 - 150 - 2 margins.
  expect(a.seen[0].grpcMs).toBeLessThanOrEqual(2000);
  expect(b.seen[0].grpcMs).toBeLessThanOrEqual(2000 - 100 - 10);
  expect(c.seen[0].grpcMs).toBeLessThanOrEqual(2000 - 150 - 20);
  expect(c.seen[0].grpcMs).toBeGreaterThan(1000); // not cut to nothing either
  // The ambient context and the grpc-timeout on the wire agree.
  for (const hop of [a, b, c]) {
    expect(Math.abs(hop.seen[0].ambientMs - hop.seen[0].grpcMs)).toBeLessThanOrEqual(5);
  }
});

it('a cancelled call to A cancels B and C, long before any deadline would', async () => {
  const c = await startHop(10_000);
  const b = await startHop(0, c);
  const a = await startHop(0, b);
  let cancelledAt = 0;
  const outcome = await callUnary(
    client(a.address),
    'GetItem',
    {},
    {
      timeoutMs: 5000,
      onCall: (call) => {
        void waitUntil(() => c.seen.length === 1).then(() => {
          cancelledAt = Date.now();
          call.cancel();
        });
      },
    },
  );
  expect(outcome.status.code).toBe(grpc.status.CANCELLED);
  await waitUntil(() => c.abortedAt !== undefined && b.abortedAt !== undefined);
  // Here it takes a few ms; the 5 s deadline would end them 5,000 ms after the call began. A
  // bound far below that and far above a loaded CI machine's scheduling delays.
  expect(b.abortedAt! - cancelledAt).toBeLessThan(1000);
  expect(c.abortedAt! - cancelledAt).toBeLessThan(1000);
});

it('the incoming deadline passing cancels the outgoing call, whose own deadline is shorter', async () => {
  const c = await startHop(10_000);
  const b = await startHop(0, c);
  const outcome = await callUnary(client(b.address), 'GetItem', {}, { timeoutMs: 150 });
  expect(outcome.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  expect(outcome.durationMs).toBeLessThan(150 + 1000); // the 150 ms, not C's 10 s (slack for CI)
  await waitUntil(() => c.abortedAt !== undefined);
});

it('runDetached opts a call out: it gets its own default deadline and is not cancelled', async () => {
  const c = await startHop(0);
  const b = await startHop(0, c, { detached: true });
  await callUnary(client(b.address), 'GetItem', {}, { timeoutMs: 300 });
  expect(c.seen[0].grpcMs).toBeGreaterThan(4000); // the 5 s default, not what B had left
});

it('propagate: false on a client opts all its calls out', async () => {
  const c = await startHop(0);
  const server = new grpc.Server({ interceptors: [createServerContextInterceptor()] });
  const toC = client(c.address, [createDeadlineInterceptor({ propagate: false })]);
  server.addService(testServiceDefinition(), {
    GetItem: async (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      const outcome = await callUnary(toC, 'GetItem', {});
      callback(null, outcome.response);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  hops.push({ address: '', server, seen: [] });
  await callUnary(client(`127.0.0.1:${port}`), 'GetItem', {}, { timeoutMs: 300 });
  expect(c.seen[0].grpcMs).toBeGreaterThan(4000);
});

it('a hop with too little time left fails fast without calling the next one', async () => {
  const c = await startHop(0);
  const b = await startHop(40, c); // works 40 ms of a 50 ms budget, leaving less than margin + 5 ms
  const outcome = await callUnary(client(b.address), 'GetItem', {}, { timeoutMs: 50 });
  expect(outcome.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  expect(c.seen).toHaveLength(0);
});
