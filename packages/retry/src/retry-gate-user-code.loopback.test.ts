import { status as Status } from '@grpc/grpc-js';
import { USER_CODE_WARNING } from '@grpc-resilience/status';
import { behaviourMetadata, callUnary, loopbackFixture } from '@grpc-resilience/testing';
import type { RetryGate } from './index';
import { createRetryTestClient } from './retry-test-client.test.helper';

/*
 * `retryGate` is code the caller may write. Asked from a backoff timer, a gate that throws would
 * have been an uncaught exception (the process down, the call's outcome lost), and one that
 * answers something that is no call would have been started as one. Either lets the retry go,
 * with a warning.
 */

const loop = loopbackFixture(afterEach);

let emitWarning: jest.SpyInstance;
beforeEach(() => {
  emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
});
afterEach(() => emitWarning.mockRestore());

it.each<[string, RetryGate]>([
  [
    'throws',
    () => {
      throw new Error('gate broke');
    },
  ],
  ['answers no call', () => true as never],
])('a retry gate that %s lets the retry go, with a warning', async (_case, retryGate) => {
  const backend = await loop.backend();
  const client = loop.keep(
    createRetryTestClient(backend.address, { retryGate, initialBackoffMs: 1, maxBackoffMs: 1 }),
  );
  const metadata = behaviourMetadata({
    callId: 'gated',
    failCode: Status.UNAVAILABLE,
    failAttempts: 1,
  });
  const outcome = await callUnary(client, 'GetItem', {}, { metadata, timeoutMs: 10_000 });
  expect(outcome.status.code).toBe(Status.OK);
  expect(backend.counters.attemptsOf('gated')).toBe(2);
  expect(emitWarning).toHaveBeenCalledTimes(1);
  expect(String(emitWarning.mock.calls[0][0])).toMatch(/retry\.retryGate/);
  expect(emitWarning.mock.calls[0][1]).toEqual({ code: USER_CODE_WARNING });
});
