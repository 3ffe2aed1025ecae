import * as grpc from '@grpc/grpc-js';
import { callUnary, createTestClient, extraStatusCount, startTestBackend } from './index';

it('statusEvents sees a second status that grpc-js would hide from the caller', async () => {
  const backend = await startTestBackend();
  // A broken interceptor that reports its call's status twice.
  const twice: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            nextStatus(status);
            nextStatus({ ...status, code: grpc.status.INTERNAL });
          },
        });
      },
    });
  const client = createTestClient(backend.address, { interceptors: [twice] });
  try {
    const before = extraStatusCount();
    const outcome = await callUnary(client, 'GetItem', {});
    expect(outcome.status.code).toBe(grpc.status.OK);
    expect(outcome.statusEvents).toBe(2);
    expect(extraStatusCount()).toBe(before + 1);
  } finally {
    client.close();
    backend.kill();
  }
});
