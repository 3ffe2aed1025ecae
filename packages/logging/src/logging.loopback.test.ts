import { Metadata, status as Status } from '@grpc/grpc-js';
import {
  TEST_METHODS,
  behaviourMetadata,
  callBidi,
  callServerStream,
  callUnary,
  createLogSink,
  createTestClient,
  startTestBackend,
} from '@grpc-resilience/testing';
import {
  createClientLoggingInterceptor,
  createServerLoggingInterceptor,
  redactMetadata,
  REDACTED,
} from './index';

it('client and server each write one record per call, at a level by classification', async () => {
  const serverSink = createLogSink();
  const clientSink = createLogSink({ level: 'info' });
  const backend = await startTestBackend({
    serverOptions: {
      interceptors: [createServerLoggingInterceptor({ logger: serverSink.logger })],
    },
  });
  const client = createTestClient(backend.address, {
    interceptors: [createClientLoggingInterceptor({ logger: clientSink.logger })],
  });
  try {
    await callUnary(client, 'GetItem', {}); // success: debug, dropped at info on the client
    await callUnary(
      client,
      'GetItem',
      {},
      { metadata: behaviourMetadata({ failCode: Status.INTERNAL }) },
    );
    await callUnary(
      client,
      'GetItem',
      {},
      { metadata: behaviourMetadata({ failCode: Status.NOT_FOUND }) },
    );
    expect(clientSink.records.map((r) => [r.level, (r.grpc as { status: string }).status])).toEqual(
      [
        [50, 'INTERNAL'], // returned by the server: a bug there, error
        [30, 'NOT_FOUND'], // the caller's: info
      ],
    );
    expect(serverSink.records.map((r) => [r.level, (r.grpc as { status: string }).status])).toEqual(
      [
        [20, 'OK'],
        [50, 'INTERNAL'], // the server's own INTERNAL: error
        [30, 'NOT_FOUND'],
      ],
    );
    expect(serverSink.records[0].grpc).toMatchObject({
      method: TEST_METHODS.getItem,
      peer: expect.any(String),
      durationMs: expect.any(Number),
    });
  } finally {
    client.close();
    backend.kill();
  }
});

it('a stream ending by its own deadline is info, not warn; a unary call timing out stays warn', async () => {
  const sink = createLogSink({ level: 'info' });
  const backend = await startTestBackend();
  const client = createTestClient(backend.address, {
    interceptors: [createClientLoggingInterceptor({ logger: sink.logger })],
  });
  const hang = { metadata: behaviourMetadata({ hang: true }), timeoutMs: 50 };
  try {
    await callServerStream(client, 'ListItems', {}, hang);
    await callBidi(client, 'SyncItems', [{ id: 'a' }], hang);
    await callUnary(client, 'GetItem', {}, hang);
    expect(sink.records.map((r) => [r.level, (r.grpc as { method: string }).method])).toEqual([
      [30, TEST_METHODS.listItems],
      [30, TEST_METHODS.syncItems],
      [40, TEST_METHODS.getItem],
    ]);
    expect(sink.records[0].grpc).toMatchObject({
      status: 'DEADLINE_EXCEEDED',
      fault: 'none',
      endedBy: 'own-deadline',
    });
    expect(sink.records[2].grpc).toMatchObject({ fault: 'server' });
    expect(sink.records[2].grpc).not.toHaveProperty('endedBy');
  } finally {
    client.close();
    backend.kill();
  }
});

it('redacts authorization, cookies, API and idempotency keys, every -bin value, and configured keys', () => {
  const metadata = new Metadata();
  metadata.set('authorization', 'Bearer x');
  metadata.set('cookie', 'sid=1');
  metadata.set('trace-bin', Buffer.from('x'));
  metadata.set('x-tenant', 'acme');
  metadata.set('x-secret', 'y');
  expect(redactMetadata(metadata, new Set(['authorization', 'cookie', 'x-secret']))).toEqual({
    authorization: REDACTED,
    cookie: REDACTED,
    'trace-bin': REDACTED,
    'x-tenant': 'acme',
    'x-secret': REDACTED,
  });
});

it('refuses a missing logger', () => {
  expect(() => createClientLoggingInterceptor({} as never)).toThrow(
    'logging.logger must be a pino logger',
  );
});
