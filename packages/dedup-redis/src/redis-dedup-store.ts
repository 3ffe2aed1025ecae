import { randomUUID } from 'node:crypto';
import {
  DEDUP_ENTRY_OVERHEAD_BYTES,
  outcomeNotKept,
  type DedupClaim,
  type DedupStore,
  type DedupStoreUsage,
  type StoredOutcome,
} from '@grpc-resilience/idempotency';
import { KEY_SUFFIXES, SCRIPTS, type LuaScript } from './lua-scripts';
import {
  resolveRedisDedupStoreOptions,
  type RedisDedupStoreOptions,
  type ResolvedRedisDedupStoreOptions,
} from './redis-options';

/**
 * A {@link DedupStore} on Redis, shared by every replica that uses the same Redis and key
 * prefix (`scope: 'shared'`): a retry that lands on another replica finds the first run's
 * claim or outcome. Claims, completions and releases are Lua scripts, so each is atomic.
 * Waiters poll for the outcome with backoff (5 ms doubling to 100 ms by default), each wait
 * bounded by its caller's cancellation and deadline and by the first run's lease.
 *
 * Bounded like the memory store: entries and bytes (encoded outcome, key and a per-entry
 * overhead), in-flight entries included; done entries are evicted oldest first; an in-flight
 * entry never is, before its lease (`inFlightTtlMs`) ends.
 */
export class RedisDedupStore implements DedupStore {
  readonly scope = 'shared' as const;
  private readonly options: ResolvedRedisDedupStoreOptions;
  private readonly keys: string[];
  private readonly notKept: Buffer;

  /** @throws ConfigError for bad options. */
  constructor(options: RedisDedupStoreOptions) {
    this.options = resolveRedisDedupStoreOptions(options);
    this.keys = KEY_SUFFIXES.map((suffix) => `${this.options.keyPrefix}${suffix}`);
    this.notKept = this.options.codec.encode(
      outcomeNotKept('it was larger than the store may hold'),
    );
  }

  async claim(key: string, fingerprint: string): Promise<DedupClaim> {
    const { inFlightTtlMs, maxEntries, maxBytes } = this.options;
    const token = randomUUID();
    const reply = await this.run(SCRIPTS.claim, [
      key,
      fingerprint,
      token,
      inFlightTtlMs,
      maxEntries,
      maxBytes,
      this.baseBytes(key, fingerprint) + this.notKept.length,
    ]);
    const state = stateOf(reply);
    switch (state) {
      case 'new':
        return { state, token };
      case 'done':
        return { state, outcome: this.decode(reply) };
      case 'in-flight':
        return { state, wait: (signal) => this.wait(key, fingerprint, signal) };
      case 'mismatch':
      case 'full':
        return { state };
    }
    throw new TypeError(`unexpected reply from the claim script: ${state}`);
  }

  async complete(key: string, token: string, outcome: StoredOutcome): Promise<void> {
    const { ttlMs, maxEntries, maxBytes } = this.options;
    await this.run(SCRIPTS.complete, [
      key,
      token,
      this.options.codec.encode(outcome),
      ttlMs,
      maxEntries,
      maxBytes,
      DEDUP_ENTRY_OVERHEAD_BYTES,
      this.notKept,
    ]);
  }

  async release(key: string, token: string): Promise<void> {
    await this.run(SCRIPTS.release, [key, token]);
  }

  /** What the store holds now, by its own accounting in Redis. */
  async usage(): Promise<DedupStoreUsage> {
    const reply = (await this.run(SCRIPTS.usage, [])) as [number, number];
    return { entries: Number(reply[0]), bytes: Number(reply[1]) };
  }

  /** Quits the Redis client if the store made it from a URL; a client you gave stays open. */
  async close(): Promise<void> {
    await this.options.ownedClient?.quit();
  }

  private baseBytes(key: string, fingerprint: string): number {
    return DEDUP_ENTRY_OVERHEAD_BYTES + key.length + fingerprint.length;
  }

  private decode(reply: unknown): StoredOutcome {
    return this.options.codec.decode((reply as Buffer[])[1]);
  }

  /** Polls for the outcome with backoff until it is there, the claim is gone, or `signal` aborts. */
  private async wait(
    key: string,
    fingerprint: string,
    signal: AbortSignal,
  ): Promise<StoredOutcome | undefined> {
    let pauseMs = this.options.pollInitialMs;
    while (!signal.aborted) {
      const reply = await this.run(SCRIPTS.peek, [key, fingerprint]);
      const state = stateOf(reply);
      if (state === 'done') return this.decode(reply);
      if (state !== 'in-flight') return undefined;
      if (!(await pause(pauseMs, signal))) return undefined;
      pauseMs = Math.min(pauseMs * 2, this.options.pollMaxMs);
    }
    return undefined;
  }

  /** EVALSHA, and EVAL once when Redis does not have the script yet (NOSCRIPT). */
  private async run(script: LuaScript, args: (string | number | Buffer)[]): Promise<unknown> {
    const { client } = this.options;
    const keys = this.keys;
    try {
      return await client.callBuffer('EVALSHA', script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return await client.callBuffer('EVAL', script.body, keys.length, ...keys, ...args);
    }
  }
}

function stateOf(reply: unknown): string {
  const first = Array.isArray(reply) ? reply[0] : undefined;
  return Buffer.isBuffer(first) ? first.toString() : String(first);
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (the timer is cleared). */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    // A waiting call depends on this timer: it stays ref'd, like grpc-js's own call timers.
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
