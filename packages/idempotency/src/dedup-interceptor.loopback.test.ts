import { Metadata, status as Status, type Call } from '@grpc/grpc-js';
import {
  DEDUP_SCOPE_METADATA_KEY,
  REASON_METADATA_KEY,
  readDedupScope,
} from '@grpc-resilience/status';
import { callServerStream, callUnary, loopbackFixture, waitUntil } from '@grpc-resilience/testing';
import { startDedupTestServer, type DedupTestServer } from './dedup-server.test.helper';
import {
  DEDUP_REASONS,
  MemoryDedupStore,
  REPLAYED_METADATA_KEY,
  type DedupOptions,
  type DedupStore,
} from './index';

const loop = loopbackFixture(afterEach);

async function serve(options?: DedupOptions): Promise<DedupTestServer> {
  const server = await startDedupTestServer(options);
  loop.onClose(() => server.close());
  return server;
}
function client(address: string) {
  return loop.client(address, {
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 200,
  });
}
const keyed = (key: string, extra: Record<string, string> = {}) => {
  const metadata = new Metadata();
  metadata.set('idempotency-key', key);
  for (const [name, value] of Object.entries(extra)) metadata.set(name, value);
  return metadata;
};
const reasonOf = (status: { metadata: Metadata }) => status.metadata.get(REASON_METADATA_KEY)[0];

describe('a key never gets stuck when its first caller goes away', () => {
  it("first caller's 100 ms deadline, 300 ms handler: a retry within 1 s gets that success", async () => {
    const server = await serve();
    server.charge = { delayMs: 300 };
    const c = client(server.address);
    const first = await callUnary(
      c,
      'Charge',
      { account: 'a' },
      { metadata: keyed('k'), timeoutMs: 100 },
    );
    expect(first.status.code).toBe(Status.DEADLINE_EXCEEDED);
    const retry = await callUnary(
      c,
      'Charge',
      { account: 'a' },
      { metadata: keyed('k'), timeoutMs: 1000 },
    );
    expect(retry.status.code).toBe(Status.OK);
    expect(retry.response).toEqual({ chargeId: 'charge-1', backend: 'a' });
    expect(retry.status.metadata.get(REPLAYED_METADATA_KEY)).toEqual(['true']);
    expect(server.runs.charge).toBe(1);
  });

  it('the same after the caller cancels, and after its connection is reset', async () => {
    const server = await serve();
    server.charge = { delayMs: 200 };
    const proxy = await loop.proxy(server.address);
    const direct = client(server.address);
    const cut = client(proxy.address);

    let call: Call | undefined;
    const cancelled = callUnary(
      direct,
      'Charge',
      { account: 'a' },
      {
        metadata: keyed('cancel'),
        onCall: (started) => (call = started),
      },
    );
    await waitUntil(() => server.runs.charge === 1);
    call!.cancel();
    expect((await cancelled).status.code).toBe(Status.CANCELLED);

    const dropped = callUnary(cut, 'Charge', { account: 'a' }, { metadata: keyed('reset') });
    await waitUntil(() => server.runs.charge === 2);
    await proxy.reset();
    expect((await dropped).status.code).not.toBe(Status.OK);

    for (const key of ['cancel', 'reset']) {
      const retry = await callUnary(
        direct,
        'Charge',
        { account: 'a' },
        {
          metadata: keyed(key),
          timeoutMs: 1000,
        },
      );
      expect(retry.status.code).toBe(Status.OK);
      expect(retry.status.metadata.get(REPLAYED_METADATA_KEY)).toEqual(['true']);
    }
    expect(server.runs.charge).toBe(2);
  });

  it('a response stream cut short by its caller releases the key: the retry runs again', async () => {
    const server = await serve();
    server.list = { messages: 5, intervalMs: 40 };
    const c = client(server.address);
    const first = await callServerStream(
      c,
      'ListItems',
      { prefix: 'p' },
      {
        metadata: keyed('s'),
        timeoutMs: 60,
      },
    );
    expect(first.status.code).toBe(Status.DEADLINE_EXCEEDED);
    const retry = await callServerStream(c, 'ListItems', { prefix: 'p' }, { metadata: keyed('s') });
    expect(retry.status.code).toBe(Status.OK);
    expect(retry.messages).toHaveLength(5);
    expect(server.runs.list).toBe(2);
  });
});

describe('waiters wait within their own deadline and cancellation, never longer', () => {
  it('a duplicate ends by its own deadline, and by its own cancel, while the first run holds', async () => {
    const memory = new MemoryDedupStore();
    let claims = 0;
    const counting: DedupStore = {
      claim: (key, fingerprint) => (claims++, memory.claim(key, fingerprint)),
      complete: (key, token, outcome) => memory.complete(key, token, outcome),
      release: (key, token) => memory.release(key, token),
    };
    const server = await serve({ store: counting });
    server.charge = { hold: true };
    const c = client(server.address);
    const first = callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('k') });
    await waitUntil(() => server.runs.charge === 1);
    const late = await callUnary(
      c,
      'Charge',
      { account: 'a' },
      { metadata: keyed('k'), timeoutMs: 150 },
    );
    // The client ends at its own deadline whatever the server does; that the server's wait ends
    // too (and frees the waiter) is shown in dedup-waiter-own-deadline.loopback.test.ts.
    expect(late.status.code).toBe(Status.DEADLINE_EXCEEDED);

    let call: Call | undefined;
    const cancelling = callUnary(
      c,
      'Charge',
      { account: 'a' },
      {
        metadata: keyed('k'),
        onCall: (started) => (call = started),
      },
    );
    await waitUntil(() => claims === 3); // the server holds the duplicate: it waits on the first
    call!.cancel();
    expect((await cancelling).status.code).toBe(Status.CANCELLED);

    server.releaseHeld();
    expect((await first).status.code).toBe(Status.OK);
    expect(server.runs.charge).toBe(1);
    const after = await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('k') });
    expect(after.response).toEqual((await first).response);
  });

  it('a duplicate with no deadline is answered ABORTED once the first run outlives its lease', async () => {
    const server = await serve({ store: new MemoryDedupStore({ inFlightTtlMs: 200 }) });
    server.charge = { hold: true };
    const c = client(server.address);
    const first = callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('k') });
    await waitUntil(() => server.runs.charge === 1);
    const waiting = await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('k') });
    expect(waiting.status.code).toBe(Status.ABORTED);
    expect(reasonOf(waiting.status)).toBe(DEDUP_REASONS.released);
    expect(waiting.durationMs).toBeLessThan(1000);
    server.releaseHeld();
    await first;
  });
});

describe('a key is not a password', () => {
  it('the same key with another request is refused, unrun', async () => {
    const server = await serve();
    const c = client(server.address);
    expect(
      (await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('k') })).status.code,
    ).toBe(Status.OK);
    const other = await callUnary(c, 'Charge', { account: 'b' }, { metadata: keyed('k') });
    expect(other.status.code).toBe(Status.INVALID_ARGUMENT);
    expect(reasonOf(other.status)).toBe('idempotency-key-reused');
    expect(server.runs.charge).toBe(1);
  });

  it('keys of different scopes never meet; a throwing scopeOf fails the call unrun', async () => {
    const server = await serve({
      scopeOf: ({ metadata }) => {
        const tenant = metadata.get('x-tenant')[0];
        if (tenant === 'boom') throw new Error('no tenant');
        return String(tenant);
      },
      onError: () => undefined,
    });
    const c = client(server.address);
    const a = await callUnary(
      c,
      'Charge',
      { account: 'x' },
      { metadata: keyed('k', { 'x-tenant': 'a' }) },
    );
    const b = await callUnary(
      c,
      'Charge',
      { account: 'x' },
      { metadata: keyed('k', { 'x-tenant': 'b' }) },
    );
    const aAgain = await callUnary(
      c,
      'Charge',
      { account: 'x' },
      { metadata: keyed('k', { 'x-tenant': 'a' }) },
    );
    expect(a.response).not.toEqual(b.response);
    expect(aAgain.response).toEqual(a.response);
    const boom = await callUnary(
      c,
      'Charge',
      { account: 'x' },
      { metadata: keyed('k', { 'x-tenant': 'boom' }) },
    );
    expect(boom.status.code).toBe(Status.INTERNAL);
    expect(reasonOf(boom.status)).toBe('dedup-scope-failed');
    expect(server.runs.charge).toBe(2);
  });

  it('never keeps a CANCELLED or a status this layer made: the retry runs again', async () => {
    const server = await serve();
    const c = client(server.address);
    const local = new Metadata();
    local.set(REASON_METADATA_KEY, 'circuit-open');
    for (const [key, fail] of [
      ['c', { name: 'x', message: 'x', code: Status.CANCELLED }],
      ['l', { name: 'x', message: 'x', code: Status.FAILED_PRECONDITION, metadata: local }],
    ] as const) {
      server.charge = { fail };
      await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed(key) });
      server.charge = {};
      const retry = await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed(key) });
      expect(retry.status.code).toBe(Status.OK);
      expect(retry.status.metadata.get(REPLAYED_METADATA_KEY)).toEqual([]);
    }
    expect(server.runs.charge).toBe(4);
  });
});

describe('bounded memory', () => {
  it('a store full of runs in flight answers RESOURCE_EXHAUSTED dedup-full, unrun', async () => {
    const server = await serve({ store: new MemoryDedupStore({ maxEntries: 2 }) });
    server.charge = { hold: true };
    const c = client(server.address);
    const held = ['a', 'b'].map((key) =>
      callUnary(c, 'Charge', { account: key }, { metadata: keyed(key) }),
    );
    await waitUntil(() => server.runs.charge === 2);
    const third = await callUnary(c, 'Charge', { account: 'c' }, { metadata: keyed('c') });
    expect(third.status.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(reasonOf(third.status)).toBe('dedup-full');
    expect(server.runs.charge).toBe(2);
    server.releaseHeld();
    await Promise.all(held);
  });

  it('a keyed stream larger than maxOutcomeBytes runs once; a repeat learns its outcome was not kept', async () => {
    const server = await serve({ maxOutcomeBytes: 4096 });
    server.list = { messages: 10, payloadBytes: 1000 };
    const c = client(server.address);
    const first = await callServerStream(c, 'ListItems', { prefix: 'p' }, { metadata: keyed('s') });
    expect(first.messages).toHaveLength(10);
    const again = await callServerStream(c, 'ListItems', { prefix: 'p' }, { metadata: keyed('s') });
    expect(again.status.code).toBe(Status.FAILED_PRECONDITION);
    expect(reasonOf(again.status)).toBe('dedup-outcome-not-kept');
    expect(server.runs.list).toBe(1);
  });
});

describe('servers say what they guarantee', () => {
  it('every response carries the dedup scope, in headers and trailers, keyed or not', async () => {
    const server = await serve();
    const c = client(server.address);
    const plain = await callUnary(c, 'Charge', { account: 'a' });
    expect(readDedupScope(plain.headers)).toBe('process');
    expect(readDedupScope(plain.status.metadata)).toBe('process');
    server.charge = { fail: { name: 'x', message: 'no', code: Status.NOT_FOUND } };
    const failed = await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('k') });
    expect(readDedupScope(failed.status.metadata)).toBe('process');
    const replayed = await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('k') });
    expect(replayed.status.metadata.get(REPLAYED_METADATA_KEY)).toEqual(['true']);
    expect(replayed.status.metadata.get(DEDUP_SCOPE_METADATA_KEY)).toEqual(['process']);
  });

  it("a store's declared scope is what the server announces", async () => {
    const memory = new MemoryDedupStore();
    const shared: DedupStore = {
      scope: 'shared',
      claim: (key, fingerprint) => memory.claim(key, fingerprint),
      complete: (key, token, outcome) => memory.complete(key, token, outcome),
      release: (key, token) => memory.release(key, token),
    };
    const server = await serve({ store: shared });
    const c = client(server.address);
    const first = await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('k') });
    expect(readDedupScope(first.headers)).toBe('shared');
    expect(readDedupScope(first.status.metadata)).toBe('shared');
  });
});

describe('a store is user code', () => {
  it('a failing or nonsensical store fails the call with a clear status, never the process', async () => {
    const errors: string[] = [];
    const memory = new MemoryDedupStore();
    let mode: 'throw' | 'garbage' | 'reject-complete' = 'throw';
    const store: DedupStore = {
      claim(key, fingerprint) {
        if (mode === 'throw') throw new Error('store down');
        if (mode === 'garbage') return { state: 'maybe' } as never;
        return memory.claim(key, fingerprint);
      },
      complete: () => Promise.reject(new Error('write lost')),
      release: (key, token) => memory.release(key, token),
    };
    const server = await serve({ store, onError: (_e, { operation }) => errors.push(operation) });
    const c = client(server.address);
    const thrown = await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('1') });
    expect(thrown.status.code).toBe(Status.UNAVAILABLE);
    expect(reasonOf(thrown.status)).toBe('dedup-store-failed');
    mode = 'garbage';
    const garbage = await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('2') });
    expect(garbage.status.code).toBe(Status.UNAVAILABLE);
    expect(server.runs.charge).toBe(0);
    mode = 'reject-complete';
    const ran = await callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('3') });
    expect(ran.status.code).toBe(Status.OK);
    await waitUntil(() => errors.length === 3);
    expect(errors).toEqual(['claim', 'claim', 'complete']);
  });
});
