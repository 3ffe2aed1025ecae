import { status as Status } from '@grpc/grpc-js';
import {
  MemoryDedupStore,
  REPLAYED_METADATA_KEY,
  createDedupInterceptor,
  type DedupStore,
} from '@grpc-resilience/idempotency';
import {
  behaviourMetadata,
  callUnary,
  loopbackFixture,
  testServiceClient,
  type ChaosProxy,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createResilientClient, type ResilientConfig } from './index';

/*
 * Two replicas, each behind a chaos proxy, and a balanced client: a keyed Charge (not
 * idempotent) whose response is cut after the charge ran may be retried only where the retry
 * cannot charge twice, which the servers themselves declare.
 */
const loop = loopbackFixture(afterEach);
// This test's replicas, in order (the fixture closes them).
let backends: TestBackend[];
let proxies: ChaosProxy[];
beforeEach(() => {
  backends = [];
  proxies = [];
});

async function replicas(stores: [DedupStore, DedupStore], config: ResilientConfig = {}) {
  for (const [i, store] of stores.entries()) {
    const backend = await loop.backend({
      name: `r${i}`,
      serverOptions: { interceptors: [createDedupInterceptor({ store })] },
    });
    backends.push(backend);
    proxies.push(await loop.proxy(backend.address));
  }
  const client: TestServiceClient = loop.keep(
    createResilientClient(
      testServiceClient(),
      proxies.map((proxy) => proxy.address),
      {
        ...config,
        retry: { initialBackoffMs: 1, maxBackoffMs: 5, budget: false, ...(config.retry || {}) },
      },
    ),
  );
  // Both replicas answer (the balancer favours the faster one, so call until each has, boundedly):
  // the client learns their scope.
  for (let i = 0; backends.some((b) => b.counters.calls === 0); i++) {
    if (i === 300) throw new Error('a replica never answered');
    await Promise.all(
      [0, 1].map(async () => expect((await callUnary(client, 'GetItem', {})).status.code).toBe(0)),
    );
  }
  return client;
}

/** A Charge whose first answer is lost on the wire after the charge ran. */
async function chargeWithLostAnswer(client: TestServiceClient) {
  for (const proxy of proxies) proxy.closeAfterBytes(1, 'downstream', 1);
  const outcome = await callUnary(
    client,
    'Charge',
    { account: 'a' },
    {
      metadata: behaviourMetadata({ callId: 'pay' }),
    },
  );
  const charges = backends.reduce((sum, b) => sum + b.counters.sideEffects, 0);
  const runs = backends.reduce((sum, b) => sum + b.counters.attemptsOf('pay'), 0);
  return { outcome, charges, runs };
}

/** One in-process store that both replicas use: shared, and declared so. */
function sharedStore(): DedupStore {
  return Object.create(new MemoryDedupStore(), { scope: { value: 'shared' } }) as DedupStore;
}

it('replicas that declare one shared store: the keyed charge is retried and its outcome replayed, charged once', async () => {
  const store = sharedStore();
  const client = await replicas([store, store]); // serverDeduplicates left at its default
  const { outcome, charges, runs } = await chargeWithLostAnswer(client);
  expect(outcome.status.code).toBe(Status.OK);
  expect(outcome.status.metadata.get(REPLAYED_METADATA_KEY)).toEqual(['true']);
  expect(charges).toBe(1);
  expect(runs).toBe(1);
});

it.each([
  ['the default', {}],
  ['serverDeduplicates: true', { retry: { serverDeduplicates: true } }],
])(
  'replicas that each keep their own store (%s): the lost charge is not retried, never charged twice',
  async (_name, config) => {
    const client = await replicas([new MemoryDedupStore(), new MemoryDedupStore()], config);
    const { outcome, charges, runs } = await chargeWithLostAnswer(client);
    expect(outcome.status.code).toBe(Status.UNAVAILABLE);
    expect(charges).toBe(1);
    expect(runs).toBe(1);
  },
);
