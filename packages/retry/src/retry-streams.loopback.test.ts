import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import {
  behaviourMetadata,
  callBidi,
  loopbackFixture,
  startTestBackend,
  type TestBackend,
} from '@grpc-resilience/testing';
import { createRetryTestClient } from './retry-test-client.test.helper';
import type { RetryOptions } from './index';
import type { RetryingCall } from './retrying-call';

let backend: TestBackend | undefined;
const loop = loopbackFixture(afterEach);

/**
 * Below the retry layer, each request message leaves 1 ms late, as on a slow link: a retry's
 * replay is then still under way when the server's first echo (sent as the first message
 * arrives) commits the call.
 */
const slowLink: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    sendMessage: (message, next) => void setTimeout(() => next(message), 1),
  });

/** A client with the retry layer; `calls` receives each RetryingCall as it starts. */
function retryingClient(address: string, retry: RetryOptions, calls: RetryingCall[] = []) {
  // The layer's budget is on here, as by default.
  return loop.keep(
    createRetryTestClient(address, { budget: undefined, ...retry }, { calls, below: [slowLink] }),
  );
}

it('bidi, 200 calls, 30% failing before the first reply: every message delivered once, in order', async () => {
  backend = await loop.backend();
  const client = retryingClient(backend.address, {
    initialBackoffMs: 2,
    maxBackoffMs: 5,
    budget: false,
  });
  const items = (call: number) =>
    Array.from({ length: 20 }, (_, i) => ({ id: `c${call}-m${i}`, value: `v${i}` }));
  for (let batch = 0; batch < 200; batch += 20) {
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, j) => {
        const i = batch + j;
        const failing = i % 10 < 3;
        const metadata = behaviourMetadata({
          callId: `c${i}`,
          ...(failing ? { failCode: Status.UNAVAILABLE, failAttempts: 1, delayMs: i % 3 } : {}),
        });
        return callBidi(client, 'SyncItems', items(i), { metadata, timeoutMs: 10_000 });
      }),
    );
    outcomes.forEach((outcome, j) => {
      const i = batch + j;
      expect(outcome.status.code).toBe(Status.OK);
      expect(outcome.statusEvents).toBe(1);
      expect(outcome.messages.map((m) => m.id)).toEqual(items(i).map((m) => m.id));
      expect(backend!.counters.attemptsOf(`c${i}`)).toBe(i % 10 < 3 ? 2 : 1);
    });
  }
});

it('a commit in the middle of a replay: the rest of the kept messages still arrive (writes during and after: bidi-replay-commit)', async () => {
  backend = await loop.backend();
  const calls: RetryingCall[] = [];
  const client = retryingClient(backend.address, { initialBackoffMs: 1, maxBackoffMs: 1 }, calls);
  const items = Array.from({ length: 40 }, (_, i) => ({ id: `m${i}`, value: `v${i}` }));
  const outcome = await callBidi(client, 'SyncItems', items, {
    metadata: behaviourMetadata({ callId: 'b', failCode: Status.UNAVAILABLE, failAttempts: 1 }),
  });
  expect(outcome.status.code).toBe(Status.OK);
  expect(outcome.messages.map((m) => m.id)).toEqual(items.map((m) => m.id));
  expect(backend.counters.attemptsOf('b')).toBe(2);
  expect(calls[0].phase).toBe('finished');
});

describe('the replay buffer is bounded while a retry waits', () => {
  const LIMIT = 1 << 20;
  const message = { id: 'big', value: 'z'.repeat(65_536) };
  const messageBytes = 65_536 + 16;

  it('a client stream writing 64 KiB messages during a backoff holds at most the limit plus one message; writes after a cancel are dropped', async () => {
    const down = await startTestBackend();
    const address = down.address;
    down.kill(); // connection refused: the first attempt fails at once, never sent
    const calls: RetryingCall[] = [];
    let retried!: () => void;
    const backingOff = new Promise<void>((resolve) => (retried = resolve));
    const client = retryingClient(
      address,
      {
        maxBufferBytes: LIMIT,
        initialBackoffMs: 10_000,
        maxBackoffMs: 10_000,
        random: () => 0.5,
        onRetry: () => retried(),
      },
      calls,
    );
    const upload = client.UploadItems.bind(client) as unknown as (
      metadata: grpc.Metadata,
      options: grpc.CallOptions,
      callback: () => void,
    ) => grpc.ClientWritableStream<object>;
    const call = upload(new grpc.Metadata(), { deadline: Date.now() + 30_000 }, () => {
      /* the status event carries the outcome */
    });
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    let accepted = 0;
    let stop = false;
    const writeNext = (): void => {
      if (stop) return;
      call.write(message, () => {
        accepted++;
        writeNext();
      });
    };
    await backingOff; // the first attempt was refused; writes start during the backoff
    writeNext();
    // Writes go on as fast as the call accepts them; wait until it stops accepting them.
    let previous = -1;
    for (let spins = 0; spins < 1000 && previous !== accepted; spins++) {
      previous = accepted;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const retrying = calls[0];
    expect(retrying.phase).toBe('committed');
    expect(retrying.bufferedBytes).toBeGreaterThanOrEqual(LIMIT);
    expect(retrying.bufferedBytes).toBeLessThanOrEqual(LIMIT + messageBytes);
    expect(accepted).toBeLessThanOrEqual(Math.ceil(LIMIT / messageBytes) + 1);

    call.cancel();
    const status = await ended;
    expect(status.code).toBe(Status.CANCELLED);
    expect(retrying.bufferedBytes).toBe(0);
    for (let i = 0; i < 10; i++) retrying.sendMessage(message);
    expect(retrying.bufferedBytes).toBe(0);
    stop = true;
  });
});
