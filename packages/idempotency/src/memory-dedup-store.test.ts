import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Metadata, status as Status } from '@grpc/grpc-js';
import { ConfigError } from '@grpc-resilience/status';
import { describeDedupStoreContract, sampleOutcome } from './dedup-store-contract.test.helper';
import { MemoryDedupStore } from './memory-dedup-store';
import type { StoredOutcome } from './dedup-store';

describeDedupStoreContract('MemoryDedupStore', async (limits) => {
  const store = new MemoryDedupStore(limits);
  return { store, usage: () => store.usage(), close: async () => undefined };
});

describe('MemoryDedupStore', () => {
  it('validates its options with ConfigErrors naming option, value and range', () => {
    expect(() => new MemoryDedupStore({ maxBytes: 10 })).toThrow(
      'dedup.store.maxBytes must be an integer from 1024 to 68719476736, received 10',
    );
    expect(() => new MemoryDedupStore({ ttlMs: -1 })).toThrow(ConfigError);
    expect(() => new MemoryDedupStore({ maxEntries: 1.5 })).toThrow(/dedup.store.maxEntries/);
    expect(() => new MemoryDedupStore({ maxEntry: 3 } as never)).toThrow(
      /dedup.store.maxEntry is not a known option/,
    );
  });

  it('expires by its injected clock', () => {
    let now = 0;
    const store = new MemoryDedupStore({ ttlMs: 100, now: () => now });
    const claim = store.claim('a', 'fp');
    store.complete('a', (claim as { token: string }).token, sampleOutcome());
    now = 99;
    expect(store.claim('a', 'fp').state).toBe('done');
    now = 100;
    expect(store.claim('a', 'fp').state).toBe('new');
  });

  it('5,000 keys in flight and 200,000 distinct keys stay under maxBytes, by accounting and heap', () => {
    const maxBytes = 8 * 1024 * 1024;
    const gc = exposeGc();
    gc();
    gc(); // twice: the first may leave what finalizers of earlier suites freed
    const before = heapBytes();
    const store = new MemoryDedupStore({ maxBytes, maxEntries: 1_000_000 });
    let peak = 0;
    const check = () => {
      peak = Math.max(peak, store.usage().bytes);
      expect(store.usage().bytes).toBeLessThanOrEqual(maxBytes);
    };
    for (let i = 0; i < 5_000; i++) {
      expect(store.claim(keyOf(`in-flight-${i}`), fingerprintOf(i)).state).toBe('new');
    }
    check();
    let fresh = 0;
    for (let i = 0; i < 200_000; i++) {
      const key = keyOf(`done-${i}`);
      const claim = store.claim(key, fingerprintOf(i));
      if (claim.state !== 'new') continue;
      fresh++;
      store.complete(key, claim.token, chargeOutcome(i));
      if (i % 1_000 === 0) check();
    }
    expect(fresh).toBe(200_000);
    check();
    // Every in-flight entry is still there: a full store evicts done entries only.
    expect(store.claim(keyOf('in-flight-0'), fingerprintOf(0)).state).toBe('in-flight');
    gc();
    const growth = heapBytes() - before;
    // The figures, for the report: accounted vs measured.
    process.stdout.write(
      `memory store: entries ${store.size}, accounted ${store.usage().bytes} B (peak ${peak}), ` +
        `heap+external growth ${growth} B, bound ${maxBytes} B\n`,
    );
    expect(growth).toBeLessThanOrEqual(maxBytes * 1.25);
    expect(store.size).toBeGreaterThan(5_000);
  });
});

/** A real gc() whether or not node ran with --expose-gc (the flag can be set at run time). */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function heapBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Keys as the dedup interceptor makes them: a base64url SHA-256. */
function keyOf(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

function fingerprintOf(i: number): string {
  return createHash('sha256').update(String(i)).digest('hex').slice(0, 32);
}

/** What a Charge answer looks like once recorded: one small message, headers, trailers. */
function chargeOutcome(i: number): StoredOutcome {
  const headers = new Metadata();
  headers.set('grpc-resilience-dedup-scope', 'process');
  const trailers = new Metadata();
  trailers.set('grpc-resilience-dedup-scope', 'process');
  const message = { chargeId: `backend-${i}`, backend: 'backend', payload: Buffer.alloc(64, 1) };
  return {
    headers,
    messages: [message],
    status: { code: Status.OK, details: 'OK', metadata: trailers },
    messageBytes: 64 + 2 + message.chargeId.length + 2 + message.backend.length + 2,
  };
}
