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
  loopbackFixture,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import {
  createDeadlineInterceptor,
  createServerContextInterceptor,
  type DeadlineOptions,
} from './index';

const loop = loopbackFixture(afterEach);
let backend: TestBackend;
beforeEach(async () => {
  backend = await loop.backend();
});

/**
 * Counts the statuses each call's listener receives, by method, from an interceptor outside the
 * one under test. grpc-js drops a second status at the top level (client.ts ignores any status
 * after the first), so a count taken from the call's 'status' event can never exceed 1; here a
 * second report would be seen.
 */
function statusCounter() {
  const counts = new Map<string, number>();
  const interceptor: grpc.Interceptor = (options, nextCall) => {
    const path = options.method_definition.path;
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        next(
          metadata,
          new grpc.ListenerBuilder()
            .withOnReceiveStatus((status, nextStatus) => {
              counts.set(path, (counts.get(path) ?? 0) + 1);
              nextStatus(status);
            })
            .build(),
        );
      },
    });
  };
  return { interceptor, counts };
}

function client(
  options?: DeadlineOptions,
  address = backend.address,
  outer: grpc.Interceptor[] = [],
): TestServiceClient {
  return loop.client(address, { interceptors: [...outer, createDeadlineInterceptor(options)] });
}

describe('every call gets a deadline', () => {
  it('the default (5 s) when nothing else is given', async () => {
    await callUnary(client(), 'GetItem', {});
    const [seen] = backend.counters.deadlinesSeen;
    expect(seen).toBeGreaterThan(4000); // time to connect and schedule, with room for slow CI
    expect(seen).toBeLessThanOrEqual(5000);
  });

  it('a configured default', async () => {
    await callUnary(client({ defaultMs: 700 }), 'GetItem', {});
    expect(backend.counters.deadlinesSeen[0]).toBeGreaterThan(350);
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
    expect(getItem).toBeGreaterThan(100);
    expect(putItem).toBeLessThanOrEqual(800);
    expect(putItem).toBeGreaterThan(300); // the service's, not the method's
  });

  it('never extends, nor shortens, a deadline the caller gave', async () => {
    const c = client({ defaultMs: 100, methods: { [TEST_METHODS.getItem]: { timeoutMs: 100 } } });
    await callUnary(c, 'GetItem', {}, { timeoutMs: 2000 });
    await callUnary(c, 'GetItem', {}, { timeoutMs: 50 });
    const [long, short] = backend.counters.deadlinesSeen;
    expect(long).toBeGreaterThan(1000);
    expect(short).toBeLessThanOrEqual(50);
  });

  it('server-streaming and bidi calls get streamDefaultMs; unary and client-streaming defaultMs', async () => {
    const c = client({ defaultMs: 700, streamDefaultMs: 60_000 });
    await callUnary(c, 'GetItem', {});
    await callClientStream(c, 'UploadItems', [{ id: 'a' }]);
    await callServerStream(c, 'ListItems', { count: 1 });
    await callBidi(c, 'SyncItems', [{ id: 'a' }]);
    const seen = Object.fromEntries(
      backend.counters.records.map((record) => [record.method, record.remainingMs]),
    );
    for (const method of ['GetItem', 'UploadItems']) {
      expect(seen[method]).toBeGreaterThan(350);
      expect(seen[method]).toBeLessThanOrEqual(700);
    }
    for (const method of ['ListItems', 'SyncItems']) {
      expect(seen[method]).toBeGreaterThan(59_000);
      expect(seen[method]).toBeLessThanOrEqual(60_000);
    }
  });

  it("a stream's default is 30 minutes, and the method's timeoutMs wins over it", async () => {
    await callServerStream(client(), 'ListItems', { count: 1 });
    const c = client({ methods: { [TEST_METHODS.listItems]: { timeoutMs: 400 } } });
    await callServerStream(c, 'ListItems', { count: 1 });
    const [byDefault, byMethod] = backend.counters.deadlinesSeen;
    expect(byDefault).toBeGreaterThan(1_800_000 - 1000);
    expect(byDefault).toBeLessThanOrEqual(1_800_000);
    expect(byMethod).toBeGreaterThan(150);
    expect(byMethod).toBeLessThanOrEqual(400);
  });

  it('a hanging server: every call shape ends DEADLINE_EXCEEDED soon after its deadline, once', async () => {
    const counter = statusCounter();
    const c = client({ defaultMs: 200, streamDefaultMs: 200 }, backend.address, [
      counter.interceptor,
    ]);
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
      expect(outcome.durationMs).toBeLessThanOrEqual(200 + 150); // timers run late on loaded CI
    }
    expect(Object.fromEntries(counter.counts)).toEqual({
      [TEST_METHODS.getItem]: 1,
      [TEST_METHODS.listItems]: 1,
      [TEST_METHODS.uploadItems]: 1,
      [TEST_METHODS.syncItems]: 1,
    });
  });
});

describe('fail fast when the budget is too small', () => {
  it('sends nothing: the backend sees no call, in every shape, and each ends once', async () => {
    const counter = statusCounter();
    const c = client({ minBudgetMs: 20 }, backend.address, [counter.interceptor]);
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
    }
    expect([...counter.counts.values()]).toEqual([1, 1, 1, 1]);
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
    const guarded = await loop.backend({
      serverOptions: { interceptors: [createServerContextInterceptor({ minBudgetMs: 100 })] },
    });
    const plain = loop.client(guarded.address); // no client-side check
    const refused = await callUnary(plain, 'Charge', {}, { timeoutMs: 60 });
    expect(refused.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(refused.status.details).toMatch(/not started: \d+ ms left on arrival/);
    const served = await callUnary(plain, 'Charge', {}, { timeoutMs: 1000 });
    expect(served.status.code).toBe(grpc.status.OK);
    expect(guarded.counters.calls).toBe(1);
    expect(guarded.counters.sideEffects).toBe(1);
  });

  it('serves every call shape through the context interceptor', async () => {
    const served = await loop.backend({
      serverOptions: { interceptors: [createServerContextInterceptor()] },
    });
    const c = client({}, served.address);
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
  });
});
