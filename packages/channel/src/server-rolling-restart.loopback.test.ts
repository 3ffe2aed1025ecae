import * as grpc from '@grpc/grpc-js';
import { REASON_METADATA_KEY } from '@grpc-resilience/status';
import {
  callServerStream,
  callUnary,
  loopbackFixture,
  testServiceClient,
  testServiceDefinition,
  waitUntil,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createResilientClient, createResilientServer } from './index';

/** How many times each Charge ran, over every backend: a non-idempotent call must run once. */
const charges = new Map<string, number>();

interface Backend {
  readonly name: string;
  readonly port: number;
  server: ReturnType<typeof createResilientServer>;
  served: number;
}

function handlers(backend: Backend): grpc.UntypedServiceImplementation {
  return {
    GetItem(
      call: grpc.ServerUnaryCall<{ id: string }, unknown>,
      done: grpc.sendUnaryData<unknown>,
    ) {
      backend.served++;
      setTimeout(() => done(null, { id: call.request.id, backend: backend.name }), 2);
    },
    Charge(
      call: grpc.ServerUnaryCall<{ account: string }, unknown>,
      done: grpc.sendUnaryData<unknown>,
    ) {
      backend.served++;
      charges.set(call.request.account, (charges.get(call.request.account) ?? 0) + 1);
      setTimeout(() => done(null, { chargeId: call.request.account, backend: backend.name }), 2);
    },
    ListItems(call: grpc.ServerWritableStream<unknown, unknown>) {
      let seq = 0;
      const timer = setInterval(() => call.write({ seq: seq++, backend: backend.name }), 20);
      call.on('cancelled', () => clearInterval(timer));
    },
  };
}

/** Starts (or restarts, on its old port) one backend built with createResilientServer. */
async function start(backend: Backend): Promise<void> {
  backend.server = createResilientServer({
    // A grace far beyond what a drain needs here, so a starved event loop cannot force one.
    drain: { drainDelayMs: 200, streamGraceMs: 100, graceMs: 30_000 },
  });
  backend.server.addService(testServiceDefinition(), handlers(backend));
  await new Promise<void>((resolve, reject) =>
    backend.server.bindAsync(
      `127.0.0.1:${backend.port}`,
      grpc.ServerCredentials.createInsecure(),
      (error) => (error ? reject(error) : resolve()),
    ),
  );
}

async function startNew(name: string): Promise<Backend> {
  const probe = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) =>
    probe.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  probe.forceShutdown();
  const backend = { name, port, served: 0 } as Backend;
  await start(backend);
  // Whichever server the backend runs at the end: a restart replaces it.
  loop.onClose(() => backend.server.forceShutdown());
  return backend;
}

const loop = loopbackFixture(afterEach);

it('a rolling restart of 3 drained backends under 500 calls/s: 0 failed, no charge twice, streams resumed elsewhere', async () => {
  const backends = await Promise.all(['b0', 'b1', 'b2'].map(startNew));
  const c = loop.keep(
    createResilientClient(
      testServiceClient(),
      backends.map((backend) => `127.0.0.1:${backend.port}`),
    ) as TestServiceClient,
  );

  // Long-lived streams, resumed by their caller whenever the server ends them.
  let stopping = false;
  const streamEnds: { status: grpc.StatusObject; from: string | undefined; next?: string }[] = [];
  const subscriber = async () => {
    let previous: (typeof streamEnds)[number] | undefined;
    while (!stopping) {
      let active: grpc.Call | undefined;
      const stopper = setInterval(() => stopping && active?.cancel(), 10);
      const outcome: CallOutcome = await callServerStream(
        c,
        'ListItems',
        {},
        {
          timeoutMs: 60_000,
          onCall: (call) => void (active = call),
        },
      );
      clearInterval(stopper);
      if (stopping) return;
      if (previous !== undefined) previous.next = outcome.messages[0]?.backend as string;
      previous = { status: outcome.status, from: outcome.messages.at(-1)?.backend as string };
      streamEnds.push(previous);
    }
  };
  const subscribers = [subscriber(), subscriber(), subscriber()];

  // 500 calls/s, caught up on every tick (timers run late on a loaded machine): idempotent
  // reads and non-idempotent charges in turn. At most MAX_IN_FLIGHT at once, so that a machine
  // too busy to serve 500/s gets a slower test, not a queue that outgrows every deadline.
  const MAX_IN_FLIGHT = 100;
  const outcomes: Promise<CallOutcome>[] = [];
  let n = 0;
  let inFlight = 0;
  const track = (outcome: Promise<CallOutcome>) => {
    inFlight++;
    outcomes.push(outcome.finally(() => inFlight--));
  };
  const loadStart = performance.now();
  const load = setInterval(() => {
    for (const due = (performance.now() - loadStart) / 2; n < due; n++) {
      if (inFlight >= MAX_IN_FLIGHT) {
        n = Math.ceil(due); // the calls this tick could not start are skipped, not queued
        break;
      }
      track(
        n % 2 === 0
          ? callUnary(c, 'GetItem', { id: `g${n}` }, { timeoutMs: 30_000 })
          : callUnary(c, 'Charge', { account: `a${n}`, amountCents: 1 }, { timeoutMs: 30_000 }),
      );
    }
  }, 10);
  try {
    await waitUntil(() => backends.every((backend) => backend.served > 10), { timeoutMs: 20_000 });
    for (const backend of backends) {
      const result = await backend.server.gracefulShutdown();
      expect(result.forced).toBe(false);
      backend.served = 0;
      await start(backend);
      await waitUntil(() => backend.served > 10, { timeoutMs: 20_000 });
    }
  } finally {
    clearInterval(load);
    stopping = true;
  }
  const loadSeconds = (performance.now() - loadStart) / 1000;
  await Promise.all(subscribers);
  const settled = await Promise.all(outcomes);

  const failed = settled.filter((outcome) => outcome.status.code !== grpc.status.OK);
  expect(failed.map((outcome) => outcome.status.details)).toEqual([]);
  // The achieved rate, for whoever reads a slow run.
  console.log(`${settled.length} calls in ${loadSeconds.toFixed(1)} s`);
  expect(settled.length).toBeGreaterThan(500);
  const charged = settled.filter((outcome) => outcome.response?.chargeId !== undefined);
  expect(charged.length).toBeGreaterThan(250);
  expect([...charges.values()].filter((count) => count !== 1)).toEqual([]);
  expect(charges.size).toBe(charged.length);

  // Every stream the servers ended said so with UNAVAILABLE `draining`, and its caller's next
  // stream was served by another backend.
  expect(streamEnds.length).toBeGreaterThan(0);
  for (const end of streamEnds) {
    expect(end.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(end.status.metadata.get(REASON_METADATA_KEY)).toEqual(['draining']);
    if (end.next !== undefined) expect(end.next).not.toBe(end.from);
  }
}, 120_000);
