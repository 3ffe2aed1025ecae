import * as net from 'node:net';
import { Metadata, status as Status } from '@grpc/grpc-js';
import {
  behaviourMetadata,
  callServerStream,
  callUnary,
  createTestClient,
  startChaosProxy,
  startSilentServer,
  startTestBackend,
  waitUntil,
  type ChaosProxy,
  type TestBackend,
  type TestServiceClient,
} from './index';

let backend: TestBackend;
let proxy: ChaosProxy;
let client: TestServiceClient;

// Reconnect quickly after a fault, so a test can see the path recover within its time.
const fastReconnect = {
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 200,
};

beforeEach(async () => {
  backend = await startTestBackend();
  proxy = await startChaosProxy(backend.address);
  client = createTestClient(proxy.address, fastReconnect);
});

afterEach(async () => {
  client.close();
  await proxy.close();
  backend.kill();
});

describe('chaos proxy', () => {
  it('passes traffic through', async () => {
    const outcome = await callUnary(client, 'GetItem', { id: 'a' }, { timeoutMs: 2000 });
    expect(outcome.status.code).toBe(Status.OK);
    expect(proxy.acceptedConnections).toBe(1);
    expect(proxy.openConnections).toBe(1);
  });

  it('frozen mid-call: a call with a deadline ends DEADLINE_EXCEEDED on time', async () => {
    await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 }); // connected
    const pending = callUnary(
      client,
      'GetItem',
      {},
      {
        timeoutMs: 200,
        metadata: behaviourMetadata({ delayMs: 50 }),
      },
    );
    await waitUntil(() => backend.counters.calls === 2);
    await proxy.freeze();
    const outcome = await pending;
    expect(outcome.status.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(195);
    expect(outcome.durationMs).toBeLessThan(200 + 1000); // its deadline, not a hang (slack for CI)
    // The server did answer after 50 ms; the frozen proxy held the reply.
    expect(backend.counters.calls).toBe(2);
  });

  it('frozen: a new connection is accepted and held silent, then released by pass()', async () => {
    await proxy.freeze();
    const held = await callUnary(client, 'GetItem', {}, { timeoutMs: 150 });
    expect(held.status.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(proxy.acceptedConnections).toBeGreaterThanOrEqual(1);
    expect(backend.counters.calls).toBe(0);
    await proxy.pass();
    const flowing = await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 });
    expect(flowing.status.code).toBe(Status.OK);
  });

  it('reset: an in-flight call ends UNAVAILABLE, and new connections are reset too', async () => {
    const pending = callUnary(
      client,
      'GetItem',
      {},
      { timeoutMs: 2000, metadata: behaviourMetadata({ delayMs: 300 }) },
    );
    await waitUntil(() => backend.counters.calls === 1);
    await proxy.reset();
    const outcome = await pending;
    expect(outcome.status.code).toBe(Status.UNAVAILABLE); // the answer due at 300 ms never came
    const again = await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 });
    expect(again.status.code).toBe(Status.UNAVAILABLE);
    await proxy.pass();
    const recovered = await callUnary(
      client,
      'GetItem',
      {},
      { timeoutMs: 2000, metadata: new Metadata({ waitForReady: true }) },
    );
    expect(recovered.status.code).toBe(Status.OK);
  });

  it('refuse: new connections fail fast with UNAVAILABLE; listening again recovers', async () => {
    await proxy.refuse();
    const refused = await callUnary(client, 'GetItem', {}, { timeoutMs: 5000 });
    expect(refused.status.code).toBe(Status.UNAVAILABLE);
    expect(refused.durationMs).toBeLessThan(2500); // fast: half the 5 s deadline at most
    expect(proxy.acceptedConnections).toBe(0);
    await proxy.pass();
    const ok = await callUnary(
      client,
      'GetItem',
      {},
      { timeoutMs: 3000, metadata: new Metadata({ waitForReady: true }) },
    );
    expect(ok.status.code).toBe(Status.OK);
  });

  it('adds latency both ways', async () => {
    await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 });
    proxy.setLatency(40);
    const slow = await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 });
    expect(slow.status.code).toBe(Status.OK);
    expect(slow.durationMs).toBeGreaterThanOrEqual(75); // 40 ms each way
    proxy.setLatency(0);
  });

  it('closes a connection after N bytes: the response after a side effect is lost', async () => {
    await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 }); // settle the HTTP/2 handshake
    proxy.closeAfterBytes(1, 'downstream', 1); // the next byte from the server resets, once
    const outcome = await callUnary(client, 'Charge', { account: 'a' }, { timeoutMs: 2000 });
    expect(outcome.status.code).toBe(Status.UNAVAILABLE);
    expect(backend.counters.sideEffects).toBe(1);
    const again = await callUnary(
      client,
      'Charge',
      { account: 'a' },
      { timeoutMs: 2000, metadata: new Metadata({ waitForReady: true }) },
    );
    expect(again.status.code).toBe(Status.OK); // the limit turned itself off
  });

  it('cuts a server stream mid-way with a byte limit', async () => {
    await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 });
    proxy.closeAfterBytes(4000, 'downstream');
    const outcome = await callServerStream(
      client,
      'ListItems',
      { count: 100 },
      {
        timeoutMs: 2000,
        metadata: behaviourMetadata({ responseBytes: 200 }),
      },
    );
    expect(outcome.status.code).toBe(Status.UNAVAILABLE);
    expect(outcome.messages.length).toBeGreaterThan(0);
    expect(outcome.messages.length).toBeLessThan(100);
  });

  it('rejects a malformed target', async () => {
    await expect(startChaosProxy('nowhere')).rejects.toThrow(/host:port/);
  });
});

describe('silent TCP server', () => {
  it('accepts connections and never speaks HTTP/2: calls wait for their deadline', async () => {
    const silent = await startSilentServer();
    const stuck = createTestClient(silent.address);
    try {
      const outcome = await callUnary(stuck, 'GetItem', {}, { timeoutMs: 150 });
      expect(outcome.status.code).toBe(Status.DEADLINE_EXCEEDED);
      expect(silent.acceptedConnections).toBeGreaterThanOrEqual(1);
    } finally {
      stuck.close();
      await silent.close();
    }
  });

  it('holds raw sockets open without writing', async () => {
    const silent = await startSilentServer();
    const socket = net.connect(silent.port, '127.0.0.1');
    try {
      const received: Buffer[] = [];
      socket.on('data', (chunk) => received.push(chunk));
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
      await waitUntil(() => silent.acceptedConnections === 1);
      expect(received).toEqual([]);
    } finally {
      socket.destroy();
      await silent.close();
    }
  });
});
