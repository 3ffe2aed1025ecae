import { Metadata, status as Status } from '@grpc/grpc-js';
import { ConfigError, methodsFromService } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callServerStream,
  callUnary,
  loopbackFixture,
  testServiceClient,
  type Behaviour,
  type TestBackend,
} from '@grpc-resilience/testing';
import {
  REPLAYED_METADATA_KEY,
  createDedupInterceptor,
  createIdempotencyKeyInterceptor,
} from './index';

const methods = methodsFromService(testServiceClient().service);
const loop = loopbackFixture(afterEach);
let backend: TestBackend;
beforeEach(async () => {
  backend = await loop.backend({ serverOptions: { interceptors: [createDedupInterceptor()] } });
});

function client(
  interceptors = [createIdempotencyKeyInterceptor({ methods, generateKey: counterKeys() })],
) {
  return loop.client(backend.address, { interceptors });
}
function counterKeys() {
  let n = 0;
  return () => `key-${++n}`;
}
const keyed = (key: string, behaviour: Behaviour = {}) => {
  const metadata = behaviourMetadata(behaviour);
  metadata.set('idempotency-key', key);
  return { metadata };
};
const keyOf = (i: number) => backend.counters.records[i].metadata.get('idempotency-key');

describe('idempotency keys on the client', () => {
  it('one fresh key per call of a non-idempotent method; none for idempotent ones', async () => {
    const c = client();
    await callUnary(c, 'Charge', {});
    await callUnary(c, 'Charge', {});
    await callUnary(c, 'GetItem', {});
    await callUnary(c, 'PutItem', {});
    expect([keyOf(0), keyOf(1), keyOf(2), keyOf(3)]).toEqual([['key-1'], ['key-2'], [], []]);
  });

  it("keeps the caller's own key and never writes into the caller's Metadata", async () => {
    const c = client();
    const mine = keyed('mine');
    await callUnary(c, 'Charge', {}, mine);
    expect(keyOf(0)).toEqual(['mine']);
    const reused = new Metadata();
    await callUnary(c, 'Charge', {}, { metadata: reused });
    expect(reused.get('idempotency-key')).toEqual([]);
  });

  it('validates its options', () => {
    expect(() => createIdempotencyKeyInterceptor({ header: 'Idempotency-Key' })).toThrow(
      ConfigError,
    );
    expect(() => createIdempotencyKeyInterceptor({ generateKey: 'x' as never })).toThrow(
      /idempotency.generateKey must be a function/,
    );
    expect(() => createDedupInterceptor({ ttl: 1 } as never)).toThrow(
      /dedup.ttl is not a known option/,
    );
  });
});

describe('dedup on the server', () => {
  it('runs a key once and replays the stored response, trailers included, to a repeat', async () => {
    const c = client([]);
    const first = await callUnary(c, 'Charge', { account: 'a' }, keyed('k1'));
    const again = await callUnary(c, 'Charge', { account: 'a' }, keyed('k1'));
    expect(first.response).toEqual(again.response);
    expect(backend.counters.sideEffects).toBe(1);
    expect(backend.counters.calls).toBe(1);
    expect(first.status.metadata.get(REPLAYED_METADATA_KEY)).toEqual([]);
    expect(again.status.metadata.get(REPLAYED_METADATA_KEY)).toEqual(['true']);
    const other = await callUnary(c, 'Charge', { account: 'a' }, keyed('k2'));
    expect(other.response).not.toEqual(first.response);
    expect(backend.counters.sideEffects).toBe(2);
  });

  it('concurrent duplicates wait for the first and get its outcome', async () => {
    const c = client([]);
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () => callUnary(c, 'Charge', {}, keyed('same', { delayMs: 50 }))),
    );
    expect(backend.counters.sideEffects).toBe(1);
    for (const outcome of outcomes) expect(outcome.response).toEqual(outcomes[0].response);
  });

  it("a caller's error is kept; a server fault releases the key so a retry runs again", async () => {
    const c = client([]);
    await callUnary(c, 'Charge', {}, keyed('bad', { failCode: Status.INVALID_ARGUMENT }));
    const repeat = await callUnary(c, 'Charge', {}, keyed('bad'));
    expect(repeat.status.code).toBe(Status.INVALID_ARGUMENT);
    expect(backend.counters.calls).toBe(1);

    await callUnary(c, 'Charge', {}, keyed('flaky', { failCode: Status.UNAVAILABLE }));
    const retried = await callUnary(c, 'Charge', {}, keyed('flaky'));
    expect(retried.status.code).toBe(Status.OK);
    expect(backend.counters.calls).toBe(3);
  });

  it('the same key on another method is another request', async () => {
    const c = client([]);
    await callUnary(c, 'Charge', {}, keyed('k'));
    await callUnary(c, 'PutItem', {}, keyed('k'));
    expect(backend.counters.calls).toBe(2);
  });

  it('replays a server stream message by message', async () => {
    const c = client([]);
    const first = await callServerStream(c, 'ListItems', { count: 3 }, keyed('s'));
    const again = await callServerStream(c, 'ListItems', { count: 3 }, keyed('s'));
    expect(again.messages).toEqual(first.messages);
    expect(again.messages).toHaveLength(3);
    expect(backend.counters.calls).toBe(1);
  });

  it('calls without a key pass through', async () => {
    const c = client([]);
    await callUnary(c, 'Charge', {});
    await callUnary(c, 'Charge', {});
    expect(backend.counters.sideEffects).toBe(2);
  });
});
