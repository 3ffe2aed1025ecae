import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import {
  behaviourMetadata,
  callServerStream,
  callUnary,
  createTestClient,
  loopbackFixture,
  startPingEnforcingServer,
  startSilentServer,
  waitUntil,
  type CallOutcome,
  type TestBackend,
} from '@grpc-resilience/testing';
import { classifyStatus, statusOrigin } from './index';
import { isEnhanceYourCalm } from './origin';

// Every grpc-js message that origin.ts relies on, produced by a real fault.

const loop = loopbackFixture(afterEach);
let backend: TestBackend;
beforeEach(async () => {
  backend = await loop.backend();
});

const context = (outcome: CallOutcome) => ({ headersReceived: outcome.headers !== undefined });

it('refused connection: UNAVAILABLE made locally, never sent', async () => {
  const closed = await startSilentServer();
  const address = closed.address;
  await closed.close(); // nothing listens there any more
  const client = loop.client(address);
  const outcome = await callUnary(client, 'Charge', {}, { timeoutMs: 2000 });
  expect(outcome.status.code).toBe(Status.UNAVAILABLE);
  expect(outcome.status.details).toMatch(/^No connection established/);
  expect(classifyStatus(outcome.status)).toMatchObject({
    origin: 'local',
    neverSent: true,
    retryableIfNotIdempotent: true,
  });
});

it('server-returned UNAVAILABLE: origin server, not known to be unsent', async () => {
  const client = loop.client(backend.address);
  const outcome = await callUnary(
    client,
    'GetItem',
    {},
    { metadata: behaviourMetadata({ failCode: Status.UNAVAILABLE }) },
  );
  expect(classifyStatus(outcome.status, context(outcome))).toMatchObject({
    origin: 'server',
    neverSent: false,
    retryableIfIdempotent: true,
    retryableIfNotIdempotent: false,
  });
});

it('client deadline vs a server that itself returns DEADLINE_EXCEEDED', async () => {
  const client = loop.client(backend.address);
  const local = await callUnary(
    client,
    'GetItem',
    {},
    { timeoutMs: 50, metadata: behaviourMetadata({ hang: true }) },
  );
  expect(local.status.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(statusOrigin(local.status)).toBe('local');
  const remote = await callUnary(
    client,
    'GetItem',
    {},
    {
      timeoutMs: 2000,
      metadata: behaviourMetadata({
        failCode: Status.DEADLINE_EXCEEDED,
        failDetails: 'database timed out',
      }),
    },
  );
  expect(remote.status.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(statusOrigin(remote.status)).toBe('server');
});

it("oversize messages: the client's own limits are local, the server's answer is the server's", async () => {
  const small = await loop.backend({
    serverOptions: { 'grpc.max_receive_message_length': 100 },
  });
  const sendLimited = loop.client(backend.address, { 'grpc.max_send_message_length': 50 });
  const receiveLimited = loop.client(backend.address, {
    'grpc.max_receive_message_length': 100,
  });
  const toSmall = loop.client(small.address);
  const big = { id: 'x'.repeat(500) };
  const sent = await callUnary(sendLimited, 'GetItem', big, { timeoutMs: 2000 });
  expect(sent.status.code).toBe(Status.RESOURCE_EXHAUSTED);
  expect(classifyStatus(sent.status, context(sent))).toMatchObject({
    origin: 'local',
    fault: 'caller',
    breakerFailure: false,
  });

  const received = await callUnary(
    receiveLimited,
    'GetItem',
    {},
    {
      timeoutMs: 2000,
      metadata: behaviourMetadata({ responseBytes: 1000 }),
    },
  );
  expect(received.status.code).toBe(Status.RESOURCE_EXHAUSTED);
  expect(classifyStatus(received.status, context(received))).toMatchObject({
    origin: 'local',
    fault: 'caller',
  });

  const rejected = await callUnary(toSmall, 'GetItem', big, { timeoutMs: 2000 });
  expect(rejected.status.code).toBe(Status.RESOURCE_EXHAUSTED);
  expect(classifyStatus(rejected.status, context(rejected))).toMatchObject({
    origin: 'server',
    fault: 'caller',
    retryableIfIdempotent: false,
    breakerFailure: false,
  });
});

it('a connection reset mid-call: a transport failure, possibly processed', async () => {
  const proxy = await loop.proxy(backend.address);
  const client = loop.client(proxy.address);
  const pending = callUnary(
    client,
    'GetItem',
    {},
    { timeoutMs: 2000, metadata: behaviourMetadata({ delayMs: 500 }) },
  );
  await waitUntil(() => backend.counters.calls === 1);
  await proxy.reset();
  const outcome = await pending;
  expect(outcome.status.code).toBe(Status.UNAVAILABLE);
  expect(classifyStatus(outcome.status)).toMatchObject({
    origin: 'transport',
    neverSent: false,
    retryableIfNotIdempotent: false,
  });
});

it("a cancellation by the caller is local and the caller's", async () => {
  const client = loop.client(backend.address);
  const outcome = await callUnary(
    client,
    'GetItem',
    {},
    {
      metadata: behaviourMetadata({ hang: true }),
      onCall: (call) => setTimeout(() => call.cancel(), 20),
    },
  );
  expect(outcome.status).toMatchObject({
    code: Status.CANCELLED,
    details: 'Cancelled on client',
  });
  expect(classifyStatus(outcome.status)).toMatchObject({
    origin: 'local',
    fault: 'caller',
    breakerFailure: false,
  });
});

describe('streams reset without a gRPC status (a raw HTTP/2 peer, like a proxy or a server past its grace)', () => {
  let server: http2.Http2Server;
  let rstCode: number;
  let sendHeaders: boolean;
  beforeEach(async () => {
    sendHeaders = false;
    server = http2.createServer();
    server.on('stream', (stream) => {
      stream.on('error', () => undefined);
      if (sendHeaders) stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      setImmediate(() => stream.close(rstCode));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  // Closes its client at once: this block's raw server closes (and waits for its connections)
  // before the suite's fixture would.
  const callRaw = async () => {
    const client = createTestClient(`127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      return await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 });
    } finally {
      client.close();
    }
  };

  it('RST_STREAM NO_ERROR: the INTERNAL grpc-js makes up is a transport failure', async () => {
    rstCode = http2.constants.NGHTTP2_NO_ERROR;
    sendHeaders = true;
    const outcome = await callRaw();
    expect(outcome.status.code).toBe(Status.INTERNAL);
    expect(outcome.status.details).toMatch(/^Received RST_STREAM with code 0/);
    expect(classifyStatus(outcome.status)).toMatchObject({
      origin: 'transport',
      retryableIfIdempotent: true,
      breakerFailure: true,
    });
  });

  it('RST_STREAM INTERNAL_ERROR: the server never said INTERNAL', async () => {
    rstCode = http2.constants.NGHTTP2_INTERNAL_ERROR;
    const outcome = await callRaw();
    expect(outcome.status).toMatchObject({
      code: Status.INTERNAL,
      details: 'Received RST_STREAM with code 2 (Internal server error)',
    });
    expect(classifyStatus(outcome.status)).toMatchObject({
      origin: 'transport',
      retryableIfIdempotent: true,
      breakerFailure: true,
    });
  });

  it('RST_STREAM CANCEL: a CANCELLED the caller never asked for', async () => {
    rstCode = http2.constants.NGHTTP2_CANCEL;
    const outcome = await callRaw();
    expect(outcome.status).toMatchObject({ code: Status.CANCELLED, details: 'Call cancelled' });
    expect(classifyStatus(outcome.status)).toMatchObject({
      origin: 'transport',
      retryableIfIdempotent: true,
      breakerFailure: true,
    });
  });

  it("RST_STREAM ENHANCE_YOUR_CALM: the peer refused the client's behaviour, not sick", async () => {
    rstCode = http2.constants.NGHTTP2_ENHANCE_YOUR_CALM;
    const outcome = await callRaw();
    expect(outcome.status).toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
      details: 'Bandwidth exhausted or memory limit exceeded',
    });
    expect(isEnhanceYourCalm(outcome.status)).toBe(true);
    expect(classifyStatus(outcome.status)).toMatchObject({
      origin: 'local',
      fault: 'caller',
      neverSent: false,
      retryableIfIdempotent: false,
      breakerFailure: false,
    });
  });

  it('RST_STREAM REFUSED_STREAM: never processed', async () => {
    rstCode = http2.constants.NGHTTP2_REFUSED_STREAM;
    const outcome = await callRaw();
    expect(outcome.status.code).toBe(Status.UNAVAILABLE);
    expect(classifyStatus(outcome.status)).toMatchObject({
      neverSent: true,
      retryableIfNotIdempotent: true,
    });
  });
});

describe("a server's ping enforcement (GOAWAY too_many_pings) is the client's keepalive, not a sick server", () => {
  it('a quiet server stream closed by GOAWAY ENHANCE_YOUR_CALM: not retried, not counted', async () => {
    // grpc-go's enforcement scaled down 1000x, against a client pinging every 30 ms.
    const enforcing = await startPingEnforcingServer({ minPingIntervalMs: 300 });
    loop.onClose(() => enforcing.close());
    const client = loop.client(enforcing.address, {
      'grpc.keepalive_time_ms': 30,
      'grpc.keepalive_timeout_ms': 1000,
    });
    const outcome = await callServerStream(
      client,
      'ListItems',
      {},
      { timeoutMs: 5000, metadata: behaviourMetadata({ delayMs: 2000 }) },
    );
    expect(enforcing.tooManyPings).toBe(1);
    expect(outcome.status).toMatchObject({
      code: Status.RESOURCE_EXHAUSTED,
      details: 'Bandwidth exhausted or memory limit exceeded',
    });
    expect(classifyStatus(outcome.status, context(outcome))).toMatchObject({
      origin: 'local',
      fault: 'caller',
      retryableIfIdempotent: false,
      retryableIfNotIdempotent: false,
      breakerFailure: false,
    });
  });

  it('the same text sent by a server in its trailers is the server answering', async () => {
    const client = loop.client(backend.address);
    const outcome = await callUnary(
      client,
      'GetItem',
      {},
      {
        metadata: behaviourMetadata({
          failCode: Status.RESOURCE_EXHAUSTED,
          failDetails: 'Bandwidth exhausted or memory limit exceeded',
        }),
      },
    );
    expect(outcome.status.details).toBe('Bandwidth exhausted or memory limit exceeded');
    expect(isEnhanceYourCalm(outcome.status)).toBe(false);
    expect(classifyStatus(outcome.status, context(outcome))).toMatchObject({
      origin: 'server',
      fault: 'server',
      retryableIfIdempotent: true,
      breakerFailure: true,
    });
  });
});
