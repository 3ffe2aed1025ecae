import * as grpc from '@grpc/grpc-js';
import {
  callBidi,
  callClientStream,
  callServerStream,
  callUnary,
  createLogSink,
  createTestClient,
  testServiceDefinition,
  type LogSink,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { ResilientServer } from './index';

const SAFE_DETAILS = /^handler failed \(ref ([0-9a-f]{8})\)$/;

/** Every way a handler can fail, each message a "secret" that must never reach the client. */
const failingHandlers: grpc.UntypedServiceImplementation = {
  async GetItem(call: grpc.ServerUnaryCall<{ id: string }, unknown>) {
    await Promise.resolve();
    if (call.request.id === 'missing') throw { code: grpc.status.NOT_FOUND, details: 'no item' };
    throw new Error('secret: rejected with password=hunter2');
  },
  PutItem() {
    throw new Error('secret: thrown synchronously');
  },
  Charge(_call: unknown, callback: grpc.sendUnaryData<unknown>) {
    callback(new Error('secret: passed to the callback'));
  },
  ListItems(call: grpc.ServerWritableStream<unknown, unknown>) {
    call.write({ id: 'first' });
    setImmediate(() => call.emit('error', new Error('secret: emitted on the stream')));
  },
  UploadItems(call: grpc.ServerReadableStream<unknown, unknown>) {
    // Nothing listens for 'error' on a client-streaming call in grpc-js: this would be fatal.
    call.once('data', () => call.emit('error', new Error('secret: emitted on the request stream')));
  },
  async SyncItems(call: grpc.ServerDuplexStream<unknown, unknown>) {
    for await (const request of call) {
      call.write(request);
      throw new Error('secret: bidi handler rejected');
    }
  },
};

describe('handlers that fail cannot crash the process', () => {
  let server: ResilientServer;
  let client: TestServiceClient;
  let sink: LogSink;
  const fatal: unknown[] = [];
  const onFatal = (error: unknown) => void fatal.push(error);

  beforeEach(async () => {
    fatal.length = 0;
    process.on('unhandledRejection', onFatal);
    process.on('uncaughtException', onFatal);
    sink = createLogSink();
    server = new ResilientServer({ handlerErrors: { logger: sink.logger } });
    server.addService(testServiceDefinition(), failingHandlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    client = createTestClient(`127.0.0.1:${port}`);
  });

  afterEach(() => {
    client.close();
    server.forceShutdown();
    process.off('unhandledRejection', onFatal);
    process.off('uncaughtException', onFatal);
  });

  /** The ref in the client's details, and the one record logged under it. */
  function expectOneRecord(details: string, how: string, secret: string) {
    const ref = SAFE_DETAILS.exec(details)?.[1];
    expect({ details, ref }).toEqual({ details, ref: expect.any(String) });
    const records = sink.records.filter((record) => record.ref === ref);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ msg: 'handler failed', how, level: 50 });
    expect(JSON.stringify(records[0].err)).toContain(secret);
  }

  it.each([
    ['GetItem', 'rejected', 'rejected with password'],
    ['PutItem', 'threw', 'thrown synchronously'],
    ['Charge', 'callback', 'passed to the callback'],
  ] as const)(
    'unary %s that %s ends with UNKNOWN and a ref, never the text',
    async (name, how, secret) => {
      const outcome = await callUnary(client, name, { id: 'x' }, { timeoutMs: 2000 });
      expect(outcome.status.code).toBe(grpc.status.UNKNOWN);
      expect(outcome.status.details).toMatch(SAFE_DETAILS);
      expect(outcome.status.details).not.toContain('secret');
      expectOneRecord(outcome.status.details, how, secret);
      expect(sink.records).toHaveLength(1);
      expect(fatal).toEqual([]);
    },
  );

  it("a server stream's 'error' ends it after the messages sent", async () => {
    const outcome = await callServerStream(client, 'ListItems', {}, { timeoutMs: 2000 });
    expect(outcome.messages.map((message) => message.id)).toEqual(['first']);
    expect(outcome.status.code).toBe(grpc.status.UNKNOWN);
    expectOneRecord(outcome.status.details, 'stream error', 'emitted on the stream');
    expect(sink.records).toHaveLength(1);
    expect(fatal).toEqual([]);
  });

  it("a client stream's 'error', which grpc-js leaves unhandled, ends the call", async () => {
    const outcome = await callClientStream(client, 'UploadItems', [{ id: 'a' }, { id: 'b' }], {
      timeoutMs: 2000,
    });
    expect(outcome.status.code).toBe(grpc.status.UNKNOWN);
    expectOneRecord(outcome.status.details, 'stream error', 'emitted on the request stream');
    expect(sink.records).toHaveLength(1);
    expect(fatal).toEqual([]);
  });

  it('an async bidi handler that throws in its read loop ends its call', async () => {
    const outcome = await callBidi(client, 'SyncItems', [{ id: 'a' }, { id: 'b' }], {
      timeoutMs: 2000,
    });
    expect(outcome.status.code).toBe(grpc.status.UNKNOWN);
    // Throwing out of `for await` destroys the stream with an AbortError first, which ends the
    // call; the one record is the handler's own error, under the ref the client got.
    expectOneRecord(outcome.status.details, 'rejected', 'bidi handler rejected');
    expect(sink.records).toHaveLength(1);
    expect(fatal).toEqual([]);
  });

  it('a status the handler chose goes out as it is, unlogged', async () => {
    const outcome = await callUnary(client, 'GetItem', { id: 'missing' }, { timeoutMs: 2000 });
    expect(outcome.status).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'no item' });
    expect(sink.records).toEqual([]);
    expect(fatal).toEqual([]);
  });

  it('INTERNAL instead of UNKNOWN when asked; a bad code is a ConfigError', () => {
    expect(() => new ResilientServer({ handlerErrors: { code: 'DATA_LOSS' as never } })).toThrow(
      /handlerErrors\.code must be one of "UNKNOWN", "INTERNAL", received "DATA_LOSS"/,
    );
  });
});
