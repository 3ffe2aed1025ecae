import type * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { behaviourMetadata, loopbackFixture } from '@grpc-resilience/testing';
import { createRetryTestClient } from './retry-test-client.test.helper';
import type { RetryingCall } from './retrying-call';

/*
 * The other half of "drop everything after a cancel or a final status": the cancel half is in
 * retry-streams.loopback.test.ts. A client stream whose call has ended with its final status
 * (here its deadline, the server hanging) keeps nothing it was given for replay, and keeps
 * nothing written afterwards, through the public stream or straight to the retry layer.
 */

const loop = loopbackFixture(afterEach);
const message = { id: 'm', value: 'z'.repeat(4096) };

it('a client stream ended by its final status holds no message, and keeps none written after it', async () => {
  const backend = await loop.backend();
  const calls: RetryingCall[] = [];
  const client = loop.keep(createRetryTestClient(backend.address, {}, { calls }));
  const upload = client.UploadItems.bind(client) as unknown as (
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: () => void,
  ) => grpc.ClientWritableStream<object>;
  const call = upload(behaviourMetadata({ hang: true }), { deadline: Date.now() + 300 }, () => {
    /* the status event carries the outcome */
  });
  call.on('error', () => undefined);
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  for (let i = 0; i < 5; i++) call.write(message);
  const retrying = calls[0];
  // Live, the call keeps what it was given: a retry would replay it.
  expect(retrying.bufferedBytes).toBeGreaterThan(5 * 4096);

  expect((await ended).code).toBe(Status.DEADLINE_EXCEEDED);
  expect(retrying.phase).toBe('finished');
  expect(retrying.bufferedBytes).toBe(0);
  let acknowledged = 0;
  for (let i = 0; i < 10; i++)
    retrying.sendMessageWithContext({ callback: () => acknowledged++ }, message);
  for (let i = 0; i < 10; i++) retrying.sendMessage(message);
  // A writer waiting on its callback is never left hanging, and nothing is kept.
  expect(acknowledged).toBe(10);
  expect(retrying.bufferedBytes).toBe(0);
});
