import * as grpc from '@grpc/grpc-js';
import {
  behaviourMetadata,
  callUnary,
  createLogSink,
  loopbackFixture,
  testServiceClient,
  testServiceDefinition,
  waitUntil,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import type { BreakerStateChange } from '@grpc-resilience/circuit-breaker';
import { createResilientClient, createResilientServer, resilientServerOptions } from './index';

const loop = loopbackFixture(afterEach);

/** Serves the test service on a loopback port; its address. */
async function bind(server: grpc.Server, implementation: grpc.UntypedServiceImplementation) {
  loop.onClose(() => server.forceShutdown());
  server.addService(testServiceDefinition(), implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return `127.0.0.1:${port}`;
}

async function serve(server: grpc.Server, implementation: grpc.UntypedServiceImplementation) {
  return loop.client(await bind(server, implementation));
}

it('resilientServerOptions({ admission }) refuses what is over the limit, unrun', async () => {
  const pending: (() => void)[] = [];
  const client = await serve(
    new grpc.Server(resilientServerOptions({ admission: { initialLimit: 1, maxLimit: 1 } })),
    {
      PutItem: (_call: unknown, done: grpc.sendUnaryData<unknown>) =>
        void pending.push(() => done(null, {})),
    },
  );
  const first = callUnary(client, 'PutItem', {}, { timeoutMs: 5000 });
  await waitUntil(() => pending.length === 1);
  const second = await callUnary(client, 'PutItem', {}, { timeoutMs: 5000 });
  expect(second.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(pending).toHaveLength(1);
  pending[0]();
  expect((await first).status.code).toBe(grpc.status.OK);
});

it('createResilientServer: a rejecting handler ends its call and logs once to the kit logger', async () => {
  const sink = createLogSink();
  const server = createResilientServer({
    logger: sink.logger,
    drain: { drainDelayMs: 0 },
    admission: {},
  });
  const client = await serve(server, {
    GetItem: async () => {
      throw new Error('secret');
    },
  });
  const outcome = await callUnary(client, 'GetItem', {}, { timeoutMs: 5000 });
  expect(outcome.status.code).toBe(grpc.status.UNKNOWN);
  expect(outcome.status.details).not.toContain('secret');
  expect(sink.find('handler failed')).toHaveLength(1);
  expect(server.admission?.stats.admitted).toBe(1);
  expect(server.health?.statusOf('grpc_resilience.test.v1.TestService')).toBe('SERVING');
  expect(await server.gracefulShutdown()).toEqual({ forced: false, streamsEnded: 0 });
});

/** One attempt as the server saw it, before admission: when it came, how it ended. */
interface Attempt {
  callId: string;
  at: number;
  endedAt?: number;
  code?: grpc.status;
  pushbackMs?: number;
}

/** A server interceptor, outermost, that records every attempt (those admission refuses too). */
function attemptRecorder(attempts: Attempt[]): grpc.ServerInterceptor {
  return (_method, call) => {
    let attempt: Attempt | undefined;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            attempt = { callId: String(metadata.get('x-test-call-id')[0]), at: performance.now() };
            attempts.push(attempt);
            nextMetadata(metadata);
          },
        }),
      sendStatus: (status, next) => {
        if (attempt) {
          attempt.endedAt = performance.now();
          attempt.code = status.code;
          const pushback = status.metadata?.get('grpc-retry-pushback-ms')[0];
          if (pushback !== undefined) attempt.pushbackMs = Number(pushback);
        }
        next(status);
      },
    });
  };
}

/** GetItem waits `w<ms>` of the request's value (I/O), 20 ms by default; counts what it ran. */
function waitingHandler(counts: { handled: number }) {
  return {
    GetItem(
      call: grpc.ServerUnaryCall<{ value?: string }, unknown>,
      done: grpc.sendUnaryData<unknown>,
    ) {
      counts.handled++;
      const ms = Number(call.request.value?.slice(1)) || 20;
      setTimeout(() => done(null, {}), ms);
    },
  };
}

function layerClient(address: string, changes: BreakerStateChange[]): TestServiceClient {
  // The layer's defaults, with only a listener on the breaker to see whether it ever moves.
  return loop.keep(
    createResilientClient(testServiceClient(), address, {
      breaker: { onStateChange: (change) => changes.push(change) },
    }) as TestServiceClient,
  );
}

it('at several times the limit, the layer client keeps its breaker closed and waits out each pushback', async () => {
  const attempts: Attempt[] = [];
  const counts = { handled: 0 };
  const options = resilientServerOptions({
    admission: { initialLimit: 4, minLimit: 4, maxLimit: 4 },
  });
  const server = new grpc.Server({
    ...options,
    interceptors: [attemptRecorder(attempts), ...(options.interceptors ?? [])],
  });
  const address = await bind(server, waitingHandler(counts));
  const changes: BreakerStateChange[] = [];
  const client = layerClient(address, changes);
  const outcomes: CallOutcome[] = [];
  // First one call against a full server, while the client's throttle has seen too few requests
  // to refuse anything: its retries reach the server, whatever the storm's dice do below (there
  // the throttle refuses most retries itself, and in some runs every one).
  const holders = Array.from({ length: 4 }, (_, i) =>
    callUnary(
      client,
      'GetItem',
      { value: 'w400' },
      {
        metadata: behaviourMetadata({ callId: `holder-${i}` }),
        timeoutMs: 10_000,
      },
    ),
  );
  await waitUntil(() => counts.handled === 4);
  const probe = await callUnary(
    client,
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ callId: 'probe' }),
      timeoutMs: 10_000,
    },
  );
  outcomes.push(probe, ...(await Promise.all(holders)));
  expect(attempts.filter((a) => a.callId === 'probe').length).toBeGreaterThan(1);
  // Then 24 callers, each calling again as soon as it hears back, against 4 slots: six times over.
  await Promise.all(
    Array.from({ length: 24 }, async (_, caller) => {
      for (let i = 0; i < 4; i++) {
        const metadata = behaviourMetadata({ callId: `${caller}-${i}` });
        outcomes.push(await callUnary(client, 'GetItem', {}, { metadata, timeoutMs: 10_000 }));
      }
    }),
  );
  const refused = attempts.filter((a) => a.code === grpc.status.RESOURCE_EXHAUSTED);
  expect(refused.length).toBeGreaterThan(0); // the load was over the limit
  expect(changes).toEqual([]); // the breaker never opened
  for (const outcome of outcomes) {
    expect(outcome.status.details).not.toMatch(/circuit open/);
    // The client's throttle refuses some attempts itself, unsent, while the server refuses most.
    if (outcome.status.code === grpc.status.UNAVAILABLE)
      expect(outcome.status.metadata.get('grpc-resilience-reason')).toEqual(['throttled']);
    else expect([grpc.status.OK, grpc.status.RESOURCE_EXHAUSTED]).toContain(outcome.status.code);
  }
  const ok = outcomes.filter((o) => o.status.code === grpc.status.OK).length;
  expect(counts.handled).toBe(ok); // each admitted attempt ran once and answered its call
  // Every retry after a refusal came no sooner than the pushback the refusal carried.
  let retriedAfterPushback = 0;
  for (const attempt of refused) {
    expect(attempt.pushbackMs).toBeGreaterThanOrEqual(1);
    const next = attempts.find((a) => a.callId === attempt.callId && a.at > attempt.at);
    if (next === undefined) continue; // the retry's budget or attempts ran out
    retriedAfterPushback++;
    // 1 ms of slack: Node rounds timers to whole ms.
    expect(next.at - attempt.endedAt!).toBeGreaterThanOrEqual(attempt.pushbackMs! - 1);
  }
  expect(retriedAfterPushback).toBeGreaterThan(0);
});

it('at normal load through the layer client, the default limiter refuses nothing', async () => {
  const counts = { handled: 0 };
  const server = createResilientServer({ admission: {}, health: false });
  const address = await bind(server, waitingHandler(counts));
  const changes: BreakerStateChange[] = [];
  const client = layerClient(address, changes);
  // 16 callers (under the start limit of 20, past half of it), a mix of 1 ms and 30 ms calls:
  // each window's latency is far past 1.5x the least seen without the limit ever being reached.
  const outcomes: CallOutcome[] = [];
  await Promise.all(
    Array.from({ length: 16 }, async (_, caller) => {
      for (let i = 0; i < 25; i++) {
        const value = (caller + i) % 4 === 0 ? 'w30' : 'w1';
        outcomes.push(await callUnary(client, 'GetItem', { value }, { timeoutMs: 10_000 }));
      }
    }),
  );
  expect(outcomes.filter((o) => o.status.code !== grpc.status.OK)).toEqual([]);
  expect(server.admission?.stats).toMatchObject({ admitted: 400, shed: 0, tooLate: 0 });
  expect(counts.handled).toBe(400);
  expect(changes).toEqual([]);
});

it('a call refused unrun for its deadline budget does not count against the server either', async () => {
  const counts = { handled: 0 };
  const server = createResilientServer({
    admission: { windowMs: 10, minWindowSamples: 1 },
    health: false,
  });
  const address = await bind(server, waitingHandler(counts));
  const changes: BreakerStateChange[] = [];
  const client = layerClient(address, changes);
  // Calls take 200 ms: the server learns so, then refuses calls that have 100 ms left.
  for (let i = 0; i < 3; i++)
    expect((await callUnary(client, 'GetItem', { value: 'w200' })).status.code).toBe(0);
  for (let i = 0; i < 8; i++) {
    const hurried = await callUnary(client, 'GetItem', { value: 'w200' }, { timeoutMs: 100 });
    expect(hurried.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  }
  expect(server.admission?.stats.tooLate).toBeGreaterThanOrEqual(8);
  expect(counts.handled).toBe(3);
  expect(changes).toEqual([]); // five failures in a row would have opened it
});
