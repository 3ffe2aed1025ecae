import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { callUnary, createTestClient, testServiceDefinition } from '@grpc-resilience/testing';
import { createDedupInterceptor } from './index';

/*
 * A handler that throws (synchronously, or by a rejected promise from an async handler that
 * still answers) is a server fault: the caller gets the error, the key is released rather than
 * kept, and a retry with the same key runs again.
 */
it('a handler that throws: the key is released, and a retry with the same key runs again', async () => {
  let runs = 0;
  const server = new grpc.Server({ interceptors: [createDedupInterceptor()] });
  server.addService(testServiceDefinition(), {
    Charge(_call: unknown, callback: grpc.sendUnaryData<object>) {
      runs++;
      if (runs === 1) throw new Error('handler bug');
      callback(null, { chargeId: `run-${runs}` });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const client = createTestClient(`127.0.0.1:${port}`);
  try {
    const keyed = () => {
      const metadata = new grpc.Metadata();
      metadata.set('idempotency-key', 'k-throws');
      return { metadata, timeoutMs: 2000 };
    };
    const first = await callUnary(client, 'Charge', { account: 'a' }, keyed());
    expect(first.status.code).not.toBe(Status.OK);
    const retry = await callUnary(client, 'Charge', { account: 'a' }, keyed());
    expect(retry.status.code).toBe(Status.OK);
    expect(retry.response).toMatchObject({ chargeId: 'run-2' });
    expect(runs).toBe(2);
  } finally {
    client.close();
    server.forceShutdown();
  }
});
