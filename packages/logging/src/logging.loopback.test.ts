import { Metadata, status as Status, type Interceptor } from '@grpc/grpc-js';
import pino from 'pino';
import { ConfigError, rejectedCall } from '@grpc-resilience/status';
import {
  TEST_METHODS,
  behaviourMetadata,
  callBidi,
  callServerStream,
  callUnary,
  createLogSink,
  createTestClient,
  startTestBackend,
  type TestBackend,
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

it('refuses a missing logger, or one of the wrong shape, naming the option', () => {
  for (const logger of [undefined, null, 'console', { log: () => undefined }]) {
    expect(() => createClientLoggingInterceptor({ logger } as never)).toThrow(
      'logging.logger must be a logger with an info(object, message) method',
    );
  }
  expect(() => createServerLoggingInterceptor({ logger: 42 } as never)).toThrow(ConfigError);
});

it('logging.redact must be key names; they match whatever their case', () => {
  const logger = createLogSink().logger;
  expect(() => createClientLoggingInterceptor({ logger, redact: 'x-secret' as never })).toThrow(
    'logging.redact must be an array of metadata key names',
  );
  expect(() => createClientLoggingInterceptor({ logger, redact: [42] as never })).toThrow(
    ConfigError,
  );
});

describe('loggers that are not pino', () => {
  let backend: TestBackend;
  beforeEach(async () => (backend = await startTestBackend()));
  afterEach(() => backend.kill());

  it('an object with info and warn only (console-like) gets every failure record, never a crash', async () => {
    const lines: [string, unknown, string | undefined][] = [];
    const consoleLike = {
      info: (record: object, message?: string) => void lines.push(['info', record, message]),
      warn: (record: object, message?: string) => void lines.push(['warn', record, message]),
    };
    const client = createTestClient(backend.address, {
      interceptors: [createClientLoggingInterceptor({ logger: consoleLike, redact: ['X-Secret'] })],
    });
    try {
      const metadata = behaviourMetadata({ failCode: Status.INTERNAL });
      metadata.set('x-secret', 'hunter2');
      const ok = await callUnary(client, 'GetItem', {}); // debug: off without isLevelEnabled
      const failed = await callUnary(client, 'GetItem', {}, { metadata });
      expect([ok.status.code, failed.status.code]).toEqual([Status.OK, Status.INTERNAL]);
      // error falls back to warn, the next level the logger has
      expect(lines.map(([level, , message]) => [level, message])).toEqual([
        ['warn', 'grpc call failed'],
      ]);
      expect((lines[0][1] as { grpc: { metadata: object } }).grpc.metadata).toMatchObject({
        'x-secret': REDACTED,
      });
    } finally {
      client.close();
    }
  });

  it('a logger that throws costs no call its outcome', async () => {
    const throwing = {
      info: () => {
        throw new Error('disk full');
      },
      isLevelEnabled: () => true,
    };
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const client = createTestClient(backend.address, {
      interceptors: [createClientLoggingInterceptor({ logger: throwing, successLevel: 'info' })],
    });
    try {
      const outcomes = [
        await callUnary(client, 'GetItem', {}),
        await callUnary(client, 'GetItem', {}),
      ];
      expect(outcomes.map((o) => [o.status.code, o.statusEvents])).toEqual([
        [Status.OK, 1],
        [Status.OK, 1],
      ]);
      expect(emitWarning).toHaveBeenCalledTimes(1); // reported once, not per record
      expect(String(emitWarning.mock.calls[0][0])).toContain('disk full');
    } finally {
      emitWarning.mockRestore();
      client.close();
    }
  });

  it('pino with custom levels type-checks and works', async () => {
    const sink = createLogSink();
    const custom = pino({ customLevels: { audit: 35 }, level: 'info' }, { write: () => undefined });
    expect(() => createClientLoggingInterceptor({ logger: custom })).not.toThrow();
    expect(() =>
      createClientLoggingInterceptor({ logger: sink.logger.child({ a: 1 }) }),
    ).not.toThrow();
  });
});

it('a call the layer refused says so: sent false, ended by the reason, no peer, no server fault', async () => {
  const sink = createLogSink({ level: 'info' });
  const refuse: Interceptor = () =>
    rejectedCall(Status.UNAVAILABLE, 'circuit open for target', 'circuit-open');
  const client = createTestClient('127.0.0.1:1', {
    interceptors: [createClientLoggingInterceptor({ logger: sink.logger }), refuse],
  });
  try {
    await callUnary(client, 'GetItem', {});
    expect(sink.records).toHaveLength(1);
    const grpc = sink.records[0].grpc as Record<string, unknown>;
    expect(grpc).toMatchObject({ origin: 'local', sent: false, endedBy: 'circuit-open' });
    expect(grpc.peer).toBeUndefined();
  } finally {
    client.close();
  }
});
