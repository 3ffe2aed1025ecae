import * as grpc from '@grpc/grpc-js';
import {
  callUnary,
  loopbackFixture,
  testServiceClient,
  testServiceDefinition,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import type { BreakerStateChange } from '@grpc-resilience/circuit-breaker';
import { createResilientClient, resilientServerOptions } from './index';

/*
 * The layer's client against a server kit that sheds load. Its refusals (RESOURCE_EXHAUSTED,
 * `grpc-resilience-reason: overloaded`, pushback) are the servers saying "not accepted": a
 * retry refused so keeps its budget token spent, and the client throttle counts it, so the
 * client sheds first attempts itself instead of sending each call up to five times.
 */

const loop = loopbackFixture(afterEach);

/** The layer's default budget: `ratio` per call, starting from `maxTokens`. */
const BUDGET = { ratio: 0.2, maxTokens: 10 };
/** The server's slots and how long a call holds one, ms: a capacity of 40 calls/s. */
const SLOTS = 2;
const WORK_MS = 50;

/** Attempts as the server saw them, outermost, before admission: refused ones included. */
interface ServerCounts {
  firstAttempts: number;
  retries: number;
  refusedRetries: number;
  refused: number;
  handled: number;
}

/** A server interceptor, outermost, that counts every attempt and how it ended. */
function attemptCounter(counts: ServerCounts): grpc.ServerInterceptor {
  return (_method, call) => {
    let isRetry = false;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            // gRFC A6: the layer's retry marks every attempt after the first.
            isRetry = metadata.get('grpc-previous-rpc-attempts').length > 0;
            if (isRetry) counts.retries++;
            else counts.firstAttempts++;
            nextMetadata(metadata);
          },
        }),
      sendStatus: (status, next) => {
        if (status.code === grpc.status.RESOURCE_EXHAUSTED) {
          counts.refused++;
          if (isRetry) counts.refusedRetries++;
        }
        next(status);
      },
    });
  };
}

async function startShedding(counts: ServerCounts): Promise<string> {
  const options = resilientServerOptions({
    admission: { initialLimit: SLOTS, minLimit: SLOTS, maxLimit: SLOTS },
  });
  const server = new grpc.Server({
    ...options,
    interceptors: [attemptCounter(counts), ...(options.interceptors ?? [])],
  });
  loop.onClose(() => server.forceShutdown());
  server.addService(testServiceDefinition(), {
    GetItem(_call: unknown, done: grpc.sendUnaryData<unknown>) {
      counts.handled++;
      setTimeout(() => done(null, {}), WORK_MS);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return `127.0.0.1:${port}`;
}

const isThrottled = (outcome: CallOutcome) =>
  outcome.status.metadata.get('grpc-resilience-reason')[0] === 'throttled';

it("a server's shed refusals spend the retry budget and feed the throttle, which lets go when the load drops", async () => {
  const counts: ServerCounts = {
    firstAttempts: 0,
    retries: 0,
    refusedRetries: 0,
    refused: 0,
    handled: 0,
  };
  const address = await startShedding(counts);
  const changes: BreakerStateChange[] = [];
  const client = loop.keep(
    createResilientClient(testServiceClient(), address, {
      retry: { budget: BUDGET },
      breaker: { onStateChange: (change) => changes.push(change) },
    }) as TestServiceClient,
  );
  const call = () => callUnary(client, 'GetItem', {}, { timeoutMs: 10_000 });

  // 800 calls, 8 every 20 ms: about 400/s against 40/s, so still several times the capacity
  // when this machine's timers run late.
  const calls = 800;
  const overload: Promise<CallOutcome>[] = [];
  while (overload.length < calls) {
    for (let i = 0; i < 8; i++) overload.push(call());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const outcomes = await Promise.all(overload);
  // The load was past the limit; the throttle keeps most of it here, so the server need not
  // refuse more than it runs.
  expect(counts.refused).toBeGreaterThan(calls / 20);

  // The budget's own bound: every retry that a server refused took a token that never came back.
  expect(counts.refusedRetries).toBeLessThanOrEqual(BUDGET.maxTokens + BUDGET.ratio * calls);
  // So the servers saw about 1 + ratio attempts per call, not one per attempt allowed (5).
  const attemptsPerCall = (counts.firstAttempts + counts.retries) / calls;
  expect(attemptsPerCall).toBeLessThan(1.5);
  // The throttle refused some first attempts here, unsent, once the servers kept refusing.
  const throttled = outcomes.filter(isThrottled).length;
  expect(counts.firstAttempts).toBeLessThan(calls);
  expect(throttled).toBeGreaterThanOrEqual(calls - counts.firstAttempts);
  for (const outcome of outcomes) {
    expect([grpc.status.OK, grpc.status.RESOURCE_EXHAUSTED, grpc.status.UNAVAILABLE]).toContain(
      outcome.status.code,
    );
  }
  expect(counts.handled).toBe(outcomes.filter((o) => o.status.code === grpc.status.OK).length);
  expect(changes).toEqual([]); // neither refusals nor throttling open the breaker

  // The load drops to one call at a time, within the limit: the throttle lets go as the
  // servers accept again (its window slides out the overload), and every call is sent.
  const refusedBefore = counts.refused;
  let inARow = 0;
  let quiet = 0;
  for (; quiet < 1000 && inARow < 20; quiet++) {
    const outcome = await call();
    inARow = outcome.status.code === grpc.status.OK ? inARow + 1 : 0;
    if (!isThrottled(outcome)) expect(outcome.status.code).toBe(grpc.status.OK);
  }
  expect(inARow).toBe(20);
  expect(counts.refused).toBe(refusedBefore);
});
