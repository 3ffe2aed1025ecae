import * as grpc from '@grpc/grpc-js';
import { REASON_METADATA_KEY } from '@grpc-resilience/status';
import {
  TEST_METHODS,
  TEST_SERVICE_NAME,
  behaviourMetadata,
  callBidi,
  callClientStream,
  callServerStream,
  callUnary,
  createTestClient,
  startTestBackend,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import {
  createDeadlineInterceptor,
  createServerContextInterceptor,
  type DeadlineOptions,
} from './index';

let backend: TestBackend;
const clients: TestServiceClient[] = [];

beforeEach(async () => {
  backend = await startTestBackend();
});
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  backend.kill();
});

function client(options?: DeadlineOptions, address = backend.address): TestServiceClient {
  const c = createTestClient(address, { interceptors: [createDeadlineInterceptor(options)] });
  clients.push(c);
  return c;
}

describe('every call gets a deadline', () => {
  it('the default (5 s) when nothing else is given', async () => {
    await callUnary(client(), 'GetItem', {});
    const [seen] = backend.counters.deadlinesSeen;
    expect(seen).toBeGreaterThan(4900);
    expect(seen).toBeLessThanOrEqual(5000);
  });

  it('a configured default', async () => {
    await callUnary(client({ defaultMs: 700 }), 'GetItem', {});
    expect(backend.counters.deadlinesSeen[0]).toBeGreaterThan(600);
    expect(backend.counters.deadlinesSeen[0]).toBeLessThanOrEqual(700);
  });

  it("the method's timeoutMs, found by full path before service name", async () => {
    const c = client({
      methods: {
        [TEST_METHODS.getItem]: { timeoutMs: 300 },
        [TEST_SERVICE_NAME]: { timeoutMs: 800 },
      },
    });
    await callUnary(c, 'GetItem', {});
    await callUnary(c, 'PutItem', {});
    const [getItem, putItem] = backend.counters.deadlinesSeen;
    expect(getItem).toBeLessThanOrEqual(300);
    expect(getItem).toBeGreaterThan(250);
    expect(putItem).toBeLessThanOrEqual(800);
    expect(putItem).toBeGreaterThan(750);
  });

  it('never extends, nor shortens, a deadline the caller gave', async () => {
    const c = client({ defaultMs: 100, methods: { [TEST_METHODS.getItem]: { timeoutMs: 100 } } });
    await callUnary(c, 'GetItem', {}, { timeoutMs: 2000 });
    await callUnary(c, 'GetItem', {}, { timeoutMs: 50 });
    const [long, short] = backend.counters.deadlinesSeen;
    expect(long).toBeGreaterThan(1900);
    expect(short).toBeLessThanOrEqual(50);
  });

  it('a hanging server: every call shape ends DEADLINE_EXCEEDED no later than deadline + 50 ms', async () => {
    const c = client({ defaultMs: 200 });
    const hang = { metadata: behaviourMetadata({ hang: true }) };
    const outcomes = await Promise.all([
      callUnary(c, 'GetItem', {}, hang),
      callServerStream(c, 'ListItems', {}, hang),
      callClientStream(c, 'UploadItems', [{ id: 'a' }], hang),
      callBidi(c, 'SyncItems', [{ id: 'a' }], hang),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(outcome.durationMs).toBeGreaterThanOrEqual(195);
      expect(outcome.durationMs).toBeLessThanOrEqual(200 + 50);
      expect(outcome.statusEvents).toBe(1);
    }
  });
});

describe('fail fast when the budget is too small', () => {
  it('sends nothing: the backend sees no call, in every shape', async () => {
    const c = client({ minBudgetMs: 20 });
    const soon = { timeoutMs: 10 };
    const outcomes = await Promise.all([
      callUnary(c, 'GetItem', {}, soon),
      callServerStream(c, 'ListItems', {}, soon),
      callClientStream(c, 'UploadItems', [{ id: 'a' }], soon),
      callBidi(c, 'SyncItems', [{ id: 'a' }], soon),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(outcome.status.details).toMatch(
        /not sent: \d+ ms left of its deadline, below the minimum of 20 ms/,
      );
      expect(outcome.status.metadata.get(REASON_METADATA_KEY)).toEqual(['deadline-budget']);
      expect(outcome.durationMs).toBeLessThan(10);
    }
    expect(backend.counters.calls).toBe(0);
  });

  it('a deadline already past is refused even with the check at 0', async () => {
    const outcome = await callUnary(
      client({ minBudgetMs: 0 }),
      'GetItem',
      {},
      { deadline: Date.now() - 1 },
    );
    expect(outcome.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(backend.counters.calls).toBe(0);
  });
});

describe('server arrival check', () => {
  it('a request arriving with less than the floor left is answered without running the handler', async () => {
    const guarded = await startTestBackend({
      serverOptions: { interceptors: [createServerContextInterceptor({ minBudgetMs: 100 })] },
    });
    const plain = createTestClient(guarded.address); // no client-side check
    try {
      const refused = await callUnary(plain, 'Charge', {}, { timeoutMs: 60 });
      expect(refused.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(refused.status.details).toMatch(/not started: \d+ ms left on arrival/);
      expect(refused.durationMs).toBeLessThan(60);
      const served = await callUnary(plain, 'Charge', {}, { timeoutMs: 1000 });
      expect(served.status.code).toBe(grpc.status.OK);
      expect(guarded.counters.calls).toBe(1);
      expect(guarded.counters.sideEffects).toBe(1);
    } finally {
      plain.close();
      guarded.kill();
    }
  });

  it('serves every call shape through the context interceptor', async () => {
    const served = await startTestBackend({
      serverOptions: { interceptors: [createServerContextInterceptor()] },
    });
    const c = client({}, served.address);
    try {
      const outcomes = await Promise.all([
        callUnary(c, 'GetItem', {}),
        callServerStream(c, 'ListItems', { count: 3 }),
        callClientStream(c, 'UploadItems', [{ id: 'a' }, { id: 'b' }]),
        callBidi(c, 'SyncItems', [{ id: 'a' }, { id: 'b' }]),
      ]);
      expect(outcomes.map((o) => o.status.code)).toEqual([0, 0, 0, 0]);
      expect(outcomes[1].messages).toHaveLength(3);
      expect(outcomes[2].response).toMatchObject({ count: 2 });
      expect(outcomes[3].messages).toHaveLength(2);
    } finally {
      served.kill();
    }
  });
});
