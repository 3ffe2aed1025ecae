import { ConfigError } from '@grpc-resilience/status';
import {
  describeDedupStoreContract,
  sampleOutcome,
} from '../../idempotency/src/dedup-store-contract.test.helper';
import { RedisDedupStore } from './index';
import { startTestRedis, type TestRedis } from './redis-server.test.helper';

let redis: TestRedis;
let prefixes = 0;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

// Each subject gets its own key prefix in the one server: tests never see each other's keys.
describeDedupStoreContract('RedisDedupStore', async (limits) => {
  const store = new RedisDedupStore({
    ...limits,
    redis: redis.client,
    keyPrefix: `{test-${++prefixes}}:`,
  });
  return { store, usage: () => store.usage(), close: () => store.close() };
});

describe('RedisDedupStore', () => {
  it('declares a shared scope', () => {
    expect(new RedisDedupStore({ redis: redis.client }).scope).toBe('shared');
  });

  it('validates its options with ConfigErrors naming option, value and range', () => {
    expect(() => new RedisDedupStore(undefined as never)).toThrow(ConfigError);
    expect(() => new RedisDedupStore({} as never)).toThrow(
      /dedup.store.redis must be an ioredis client or a redis:\/\/ or rediss:\/\/ URL, received undefined/,
    );
    expect(() => new RedisDedupStore({ redis: 'localhost:6379' })).toThrow(/dedup.store.redis/);
    expect(() => new RedisDedupStore({ redis: redis.client, maxBytes: 0 })).toThrow(
      /dedup.store.maxBytes must be an integer from 1024/,
    );
    expect(() => new RedisDedupStore({ redis: redis.client, keyPrefix: '' })).toThrow(
      /dedup.store.keyPrefix/,
    );
    expect(
      () => new RedisDedupStore({ redis: redis.client, pollInitialMs: 50, pollMaxMs: 10 }),
    ).toThrow('dedup.store.pollMaxMs must be an integer from 50 to 10000, received 10');
    expect(() => new RedisDedupStore({ redis: redis.client, codec: {} as never })).toThrow(
      /dedup.store.codec/,
    );
    expect(() => new RedisDedupStore({ redis: redis.client, ttl: 5 } as never)).toThrow(
      /dedup.store.ttl is not a known option/,
    );
  });

  it('makes and quits its own client from a URL', async () => {
    const store = new RedisDedupStore({ redis: redis.url, keyPrefix: '{url}:' });
    expect((await store.claim('k', 'fp')).state).toBe('new');
    await store.close();
  });

  it('loads its scripts into a Redis that lost them (NOSCRIPT), and keeps working', async () => {
    const store = new RedisDedupStore({ redis: redis.client, keyPrefix: '{flush}:' });
    expect((await store.claim('a', 'fp')).state).toBe('new');
    await redis.client.script('FLUSH');
    expect((await store.claim('a', 'fp')).state).toBe('in-flight');
  });
});

describe('the test Redis', () => {
  it('fails loudly, saying what to install, when redis-server is missing', async () => {
    await expect(startTestRedis('redis-server-not-installed')).rejects.toThrow(
      /redis-server-not-installed is not installed.*apt-get install -y redis-server/,
    );
  });
});

describe('RedisDedupStore memory', () => {
  it('1,000 keys in flight and 10,000 distinct keys stay under maxBytes, by accounting and in Redis', async () => {
    const maxBytes = 2 * 1024 * 1024;
    const store = new RedisDedupStore({
      redis: redis.client,
      keyPrefix: '{memory}:',
      maxBytes,
      maxEntries: 1_000_000,
    });
    const usedMemory = async () =>
      Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
    const before = await usedMemory();
    const batch = async (from: number, to: number, run: (i: number) => Promise<void>) => {
      const all: Promise<void>[] = [];
      for (let i = from; i < to; i++) all.push(run(i));
      await Promise.all(all);
    };
    for (let i = 0; i < 1_000; i += 200) {
      await batch(i, i + 200, async (k) => {
        expect((await store.claim(`in-flight-${k}`, 'f'.repeat(32))).state).toBe('new');
      });
    }
    let peak = 0;
    for (let i = 0; i < 10_000; i += 200) {
      await batch(i, i + 200, async (k) => {
        const claim = await store.claim(`done-${k}`, 'f'.repeat(32));
        if (claim.state !== 'new') throw new Error(`claim ${k} was ${claim.state}`);
        await store.complete(`done-${k}`, claim.token, sampleOutcome(64));
      });
      peak = Math.max(peak, (await store.usage()).bytes);
    }
    const usage = await store.usage();
    const growth = (await usedMemory()) - before;
    process.stdout.write(
      `redis store: entries ${usage.entries}, accounted ${usage.bytes} B (peak ${peak}), ` +
        `redis used_memory growth ${growth} B, bound ${maxBytes} B\n`,
    );
    expect(peak).toBeLessThanOrEqual(maxBytes);
    expect((await store.claim('in-flight-0', 'f'.repeat(32))).state).toBe('in-flight');
    expect(growth).toBeLessThanOrEqual(maxBytes * 1.5);
  }, 30_000);
});
