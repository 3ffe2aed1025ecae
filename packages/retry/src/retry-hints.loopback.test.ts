import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import {
  RETRY_STOPPED_METADATA_KEY,
  STATUS_DETAILS_METADATA_KEY,
  retryInfoStatusDetails,
} from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callUnary,
  loopbackFixture,
  type Behaviour,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createRetryTestClient } from './retry-test-client.test.helper';
import type { GiveUpEvent } from './index';

/*
 * google.rpc.RetryInfo, sent by a real server in the grpc-status-details-bin trailer of its
 * error: the client waits at least the delay it asks for, and a hint it cannot read stops retries.
 * The time between attempts is measured on the server, where the load lands.
 */

/** What the server's interceptor puts in the trailer of every failure. */
let details: (code: number, message: string) => Buffer;

/** A server interceptor adding `details` to every failed status. */
const retryInfoTrailer: grpc.ServerInterceptor = (_method, call) =>
  new grpc.ServerInterceptingCall(call, {
    sendStatus(status, next) {
      if (status.code !== Status.OK) {
        const metadata = status.metadata ?? new grpc.Metadata();
        metadata.set(STATUS_DETAILS_METADATA_KEY, details(status.code, status.details));
        return next({ ...status, metadata });
      }
      next(status);
    },
  });

let backend: TestBackend;
const loop = loopbackFixture(afterEach);
let giveUps: GiveUpEvent[];
beforeEach(async () => {
  backend = await loop.backend({ serverOptions: { interceptors: [retryInfoTrailer] } });
  giveUps = [];
});

function client(random = Math.random): TestServiceClient {
  return loop.keep(
    createRetryTestClient(backend.address, {
      initialBackoffMs: 20,
      maxBackoffMs: 40,
      random,
      onGiveUp: (event) => giveUps.push(event),
    }),
  );
}

const exhausted = (callId: string, more: Behaviour = {}) => ({
  timeoutMs: 5000,
  metadata: behaviourMetadata({ callId, failCode: Status.RESOURCE_EXHAUSTED, ...more }),
});

/** Milliseconds between consecutive attempts of `callId`, as the server saw them. */
function gaps(callId: string): number[] {
  const at = backend.counters.records.filter((r) => r.callId === callId).map((r) => r.at);
  return at.slice(1).map((t, i) => t - at[i]);
}

it('RESOURCE_EXHAUSTED with RetryInfo 300 ms: no attempt reaches the server sooner', async () => {
  details = (code, message) => retryInfoStatusDetails(code, message, 300);
  // Without the hint, this client's backoff would be at most 20 then 40 ms.
  const outcome = await callUnary(client(), 'GetItem', {}, exhausted('r', { failAttempts: 2 }));
  expect(outcome.status.code).toBe(Status.OK);
  expect(backend.counters.attemptsOf('r')).toBe(3);
  for (const gap of gaps('r')) expect(gap).toBeGreaterThanOrEqual(300);
});

it('backs off from the hint: the jittered backoff comes on top of the delay', async () => {
  details = (code, message) => retryInfoStatusDetails(code, message, 100);
  // random() near 1: the first retry's backoff is just under its 20 ms ceiling.
  const outcome = await callUnary(
    client(() => 0.999),
    'GetItem',
    {},
    exhausted('j', { failAttempts: 1 }),
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(gaps('j')[0]).toBeGreaterThanOrEqual(119);
});

it('with both hints, the longer one: RetryInfo 250 ms beats a pushback of 50 ms', async () => {
  details = (code, message) => retryInfoStatusDetails(code, message, 250);
  const outcome = await callUnary(
    client(),
    'GetItem',
    {},
    exhausted('b', { failAttempts: 1, pushbackMs: 50 }),
  );
  expect(outcome.status.code).toBe(Status.OK);
  expect(gaps('b')[0]).toBeGreaterThanOrEqual(250);
});

it('a malformed RetryInfo: one attempt, and the reason in the retry-stopped trailer', async () => {
  for (const [name, bytes] of [
    ['garbage', () => Buffer.from([0xff, 0xff])],
    ['negative', () => Buffer.from(negativeDelayStatus())],
  ] as const) {
    details = bytes;
    const outcome = await callUnary(client(), 'GetItem', {}, exhausted(name));
    expect(outcome.status.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(backend.counters.attemptsOf(name)).toBe(1);
    expect(outcome.status.metadata.get(RETRY_STOPPED_METADATA_KEY)).toEqual(['retry-info']);
    expect(giveUps.at(-1)?.reason).toBe('retry-info');
  }
});

/** google.rpc.Status{code 8, details [Any{RetryInfo{retry_delay {seconds: -1}}}]}, by hand. */
function negativeDelayStatus(): number[] {
  const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
  const duration = [0x08, ...minusOne];
  const retryInfo = [0x0a, duration.length, ...duration];
  const typeUrl = [...Buffer.from('type.googleapis.com/google.rpc.RetryInfo')];
  const any = [0x0a, typeUrl.length, ...typeUrl, 0x12, retryInfo.length, ...retryInfo];
  return [0x08, 8, 0x1a, any.length, ...any];
}
