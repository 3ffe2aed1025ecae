import { Metadata, status as Status } from '@grpc/grpc-js';
import {
  behaviourMetadata,
  callBidi,
  callClientStream,
  callServerStream,
  callUnary,
  createTestClient,
  startTestBackend,
  type Behaviour,
  type TestBackend,
  type TestServiceClient,
  waitUntil,
} from './index';

let backend: TestBackend;
let client: TestServiceClient;

beforeEach(async () => {
  backend = await startTestBackend({ name: 'b1' });
  client = createTestClient(backend.address);
});

afterEach(() => {
  client.close();
  backend.kill();
});

const meta = (behaviour: Behaviour) => ({ metadata: behaviourMetadata(behaviour) });
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `i${i}`, value: `v${i}` }));

describe('test backend', () => {
  it('answers every call shape and names itself', async () => {
    const unary = await callUnary(client, 'GetItem', { id: 'a', value: 'x' });
    expect(unary.status.code).toBe(Status.OK);
    expect(unary.response).toMatchObject({ id: 'a', value: 'x', backend: 'b1' });

    const server = await callServerStream(client, 'ListItems', { count: 4, prefix: 'p' });
    expect(server.status.code).toBe(Status.OK);
    expect(server.messages.map((m) => m.id)).toEqual(['p0', 'p1', 'p2', 'p3']);

    const upload = await callClientStream(client, 'UploadItems', items(3));
    expect(upload.response).toMatchObject({ count: 3, ids: ['i0', 'i1', 'i2'], backend: 'b1' });

    const bidi = await callBidi(client, 'SyncItems', items(3));
    expect(bidi.status.code).toBe(Status.OK);
    expect(bidi.messages.map((m) => [m.id, m.seq])).toEqual([
      ['i0', 0],
      ['i1', 1],
      ['i2', 2],
    ]);

    expect(backend.counters.calls).toBe(4);
    expect(backend.counters.messagesReceived).toBe(6);
    expect(backend.counters.sideEffects).toBe(1); // UploadItems is a write; GetItem is not
  });

  it('fails with the given code and details, in every call shape', async () => {
    const behaviour = { failCode: Status.NOT_FOUND, failDetails: 'no such item' };
    const outcomes = await Promise.all([
      callUnary(client, 'GetItem', { id: 'a' }, meta(behaviour)),
      callServerStream(client, 'ListItems', { count: 2 }, meta(behaviour)),
      callClientStream(client, 'UploadItems', items(2), meta(behaviour)),
      callBidi(client, 'SyncItems', items(2), meta(behaviour)),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status).toMatchObject({ code: Status.NOT_FOUND, details: 'no such item' });
      expect(outcome.messages).toEqual([]);
      expect(outcome.statusEvents).toBe(1);
    }
  });

  it('fails only the first K attempts of a call id', async () => {
    const behaviour = { callId: 'c1', failCode: Status.UNAVAILABLE, failAttempts: 2 };
    const codes: number[] = [];
    for (let i = 0; i < 3; i++)
      codes.push((await callUnary(client, 'GetItem', {}, meta(behaviour))).status.code);
    expect(codes).toEqual([Status.UNAVAILABLE, Status.UNAVAILABLE, Status.OK]);
    expect(backend.counters.attemptsOf('c1')).toBe(3);
    expect(backend.counters.records.map((r) => r.attempt)).toEqual([1, 2, 3]);
  });

  it('applies the side effect before failing when asked, and not otherwise', async () => {
    await callUnary(
      client,
      'Charge',
      { account: 'a', amountCents: 5 },
      meta({ failCode: Status.UNAVAILABLE }),
    );
    expect(backend.counters.sideEffects).toBe(0);
    const lost = await callUnary(
      client,
      'Charge',
      { account: 'a' },
      meta({ failCode: Status.UNAVAILABLE, failAfterEffect: true }),
    );
    expect(lost.status.code).toBe(Status.UNAVAILABLE);
    expect(backend.counters.sideEffects).toBe(1);
    const ok = await callUnary(client, 'Charge', { account: 'a' });
    expect(ok.response).toMatchObject({ chargeId: 'b1-2', backend: 'b1' });
    expect(backend.counters.sideEffects).toBe(2);
  });

  it('streams N messages then fails, on server and bidi streams', async () => {
    const behaviour = { failCode: Status.INTERNAL, failAfterMessages: 2 };
    const server = await callServerStream(client, 'ListItems', { count: 5 }, meta(behaviour));
    expect(server.messages).toHaveLength(2);
    expect(server.status.code).toBe(Status.INTERNAL);
    const bidi = await callBidi(client, 'SyncItems', items(5), meta(behaviour));
    expect(bidi.messages).toHaveLength(2);
    expect(bidi.status.code).toBe(Status.INTERNAL);
  });

  it('streams the number of messages the header asks for', async () => {
    const outcome = await callServerStream(
      client,
      'ListItems',
      { count: 2 },
      meta({ messages: 7 }),
    );
    expect(outcome.messages).toHaveLength(7);
  });

  it('delays its answer', async () => {
    const outcome = await callUnary(client, 'GetItem', {}, meta({ delayMs: 80 }));
    expect(outcome.status.code).toBe(Status.OK);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(75);
  });

  it('hangs until the deadline in every call shape, and sees the cancellation', async () => {
    const options = { ...meta({ hang: true }), timeoutMs: 100 };
    const outcomes = await Promise.all([
      callUnary(client, 'GetItem', {}, options),
      callServerStream(client, 'ListItems', {}, options),
      callClientStream(client, 'UploadItems', items(1), options),
      callBidi(client, 'SyncItems', items(1), options),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status.code).toBe(Status.DEADLINE_EXCEEDED);
      expect(outcome.durationMs).toBeGreaterThanOrEqual(95);
      expect(outcome.durationMs).toBeLessThan(100 + 900); // ended by the deadline, not hanging
    }
    await waitUntil(() => backend.counters.cancellations === 4);
  });

  it('records the deadline each handler saw', async () => {
    await callUnary(client, 'GetItem', {}, { timeoutMs: 500 });
    await callUnary(client, 'GetItem', {});
    const [withDeadline, without] = backend.counters.deadlinesSeen;
    expect(withDeadline).toBeGreaterThan(250); // less the time to connect, on a slow machine too
    expect(withDeadline).toBeLessThanOrEqual(500);
    expect(without).toBe(Infinity);
  });

  it('sees a cancellation by the client', async () => {
    await callUnary(
      client,
      'GetItem',
      {},
      {
        ...meta({ hang: true }),
        // Cancel once the handler runs: a fixed timer can land before the call reached it.
        onCall: (call) =>
          void waitUntil(() => backend.counters.calls === 1).then(() => call.cancel()),
      },
    );
    await waitUntil(() => backend.counters.cancellations === 1);
  });

  it('counts no cancellation for calls it answered, in every shape, failed or not', async () => {
    // grpc-js also emits 'cancelled' on the server after it sent a status.
    const failing = meta({ failCode: Status.UNAVAILABLE });
    const outcomes = await Promise.all([
      callUnary(client, 'GetItem', {}),
      callServerStream(client, 'ListItems', {}),
      callClientStream(client, 'UploadItems', items(2)),
      callBidi(client, 'SyncItems', items(2)),
      callUnary(client, 'GetItem', {}, failing),
      callBidi(client, 'SyncItems', items(1), failing),
    ]);
    expect(outcomes.map((o) => o.status.code)).toEqual([0, 0, 0, 0, 14, 14]);
    expect(backend.counters.calls).toBe(6);
    expect(backend.counters.cancellations).toBe(0);
  });

  it('returns a grpc-retry-pushback-ms trailer, malformed values included', async () => {
    const ms = await callUnary(
      client,
      'GetItem',
      {},
      meta({ failCode: Status.UNAVAILABLE, pushbackMs: 200 }),
    );
    expect(ms.status.metadata.get('grpc-retry-pushback-ms')).toEqual(['200']);
    const bad = await callUnary(
      client,
      'GetItem',
      {},
      meta({ failCode: Status.UNAVAILABLE, pushbackMs: 'soon' }),
    );
    expect(bad.status.metadata.get('grpc-retry-pushback-ms')).toEqual(['soon']);
  });

  it('keeps the request metadata of every attempt and resets its counters', async () => {
    const metadata = new Metadata();
    metadata.set('idempotency-key', 'k1');
    await callUnary(client, 'PutItem', { id: 'a' }, { metadata });
    expect(backend.counters.records[0].metadata.get('idempotency-key')).toEqual(['k1']);
    expect(backend.counters.callsOf('PutItem')).toBe(1);
    backend.counters.reset();
    expect(backend.counters.calls).toBe(0);
    expect(backend.counters.records).toHaveLength(0);
  });

  it("a default behaviour applies to every call, and a call's own metadata wins", async () => {
    backend.behaviour = { failCode: Status.UNAVAILABLE };
    expect((await callUnary(client, 'GetItem', {})).status.code).toBe(Status.UNAVAILABLE);
    expect(
      (await callUnary(client, 'GetItem', {}, meta({ failCode: Status.NOT_FOUND }))).status.code,
    ).toBe(Status.NOT_FOUND);
    backend.behaviour = {};
    expect((await callUnary(client, 'GetItem', {})).status.code).toBe(Status.OK);
  });

  it('fails a share of attempts with failRatio', async () => {
    backend.behaviour = { failCode: Status.UNAVAILABLE, failRatio: 0.5 };
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () => callUnary(client, 'GetItem', {})),
    );
    const failed = outcomes.filter((o) => o.status.code === Status.UNAVAILABLE).length;
    expect(failed).toBeGreaterThan(50); // 100 expected; bounds far outside chance
    expect(failed).toBeLessThan(150);
  });

  it('restarts on the same port after a kill', async () => {
    const { port } = backend;
    backend.kill();
    const down = await callUnary(client, 'GetItem', {}, { timeoutMs: 1000 });
    expect(down.status.code).toBe(Status.UNAVAILABLE);
    backend = await startTestBackend({ name: 'b1-again', port });
    const up = await callUnary(
      client,
      'GetItem',
      {},
      { timeoutMs: 5000, metadata: waitForReady() },
    );
    expect(up.response).toMatchObject({ backend: 'b1-again' });
  });
});

function waitForReady(): Metadata {
  return new Metadata({ waitForReady: true });
}
