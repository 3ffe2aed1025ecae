import { status as Status } from '@grpc/grpc-js';
import { behaviourMetadata, callUnary, type TestServiceClient } from '@grpc-resilience/testing';
import type { HedgingOptions } from './index';
import { createRetryTestClient } from './retry-test-client.test.helper';
import { useCountingBackend } from './server-cancels.test.helper';

/* The hedge cap against a real server: the attempts it receives are what the cap bounds. */
const fixture = useCountingBackend();

const WARM_UP = 5;
const CALLS = 40;
const IN_FLIGHT = 4;
/** Every attempt of the measured calls takes this long: far past the hedge delay's 30 ms cap. */
const SLOW_MS = 150;
const HEDGING: HedgingOptions = { minSamples: WARM_UP, minDelayMs: 20, maxDelayMs: 30 };

/** One call whose attempts the server counts under `callId`; it must succeed. */
async function call(client: TestServiceClient, callId: string): Promise<void> {
  const metadata = behaviourMetadata({ callId });
  const outcome = await callUnary(client, 'GetItem', { id: callId }, { metadata, timeoutMs: 5000 });
  expect(outcome.status.code).toBe(Status.OK);
}

/**
 * `WARM_UP` fast calls, then `CALLS` slow ones, `IN_FLIGHT` at a time; returns the attempts the
 * server received for them (by call id, so a straggler of another run cannot count).
 */
async function run(client: TestServiceClient, run: string): Promise<number> {
  fixture.backend.behaviour = {};
  for (let i = 0; i < WARM_UP; i++) await call(client, `${run}-warm${i}`);
  fixture.backend.behaviour = { delayMs: SLOW_MS };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CALLS) await call(client, `${run}-${next++}`);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return fixture.backend.counters.records.filter((r) => r.callId?.startsWith(`${run}-`)).length;
}

function client(maxExtraLoad: number, hedges: { count: number }): TestServiceClient {
  const c = createRetryTestClient(fixture.backend.address, {
    hedging: { ...HEDGING, maxExtraLoad },
    onHedge: () => hedges.count++,
  });
  fixture.clients.push(c);
  return c;
}

it('sends at most maxExtraLoad hedges per call, counted on the server from the first call', async () => {
  // Every measured call is slow enough to want a hedge: without the cap each one gets it.
  const uncapped = { count: 0 };
  const uncappedExtra = (await run(client(1, uncapped), 'uncapped')) - (WARM_UP + CALLS);
  expect(uncapped.count).toBe(CALLS);
  // (A hedge cancelled before its handler started is not counted: on a loaded machine, a few.)
  expect(uncappedExtra).toBeGreaterThan(CALLS / 2);

  const capped = { count: 0 };
  const attempts = await run(client(0.1, capped), 'capped');
  // The bucket starts empty and earns 0.1 per call, warm-up included, so the constant over
  // floor(0.1 x calls) is 0 from the client's first call. (Counted only after the warm-up, it
  // would be what the warm-up banked: 0.1 x 5 = 0.5, so still no whole hedge.)
  const calls = WARM_UP + CALLS;
  const bound = Math.floor(0.1 * calls); // 4
  expect(attempts - calls).toBeLessThanOrEqual(bound);
  expect(attempts - calls).toBeLessThanOrEqual(capped.count);
  // And the cap is what limits it: the share is spent, not left unused.
  expect(capped.count).toBeLessThanOrEqual(bound);
  expect(capped.count).toBeGreaterThanOrEqual(bound - 1);
});
