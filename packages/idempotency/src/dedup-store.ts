import type { Metadata, StatusObject } from '@grpc/grpc-js';

/** What a call answered, kept to replay for a repeated key. */
export interface StoredOutcome {
  /** Response headers, if the handler sent any. */
  headers?: Metadata;
  /** Response messages (the handler's objects, before serialization). */
  messages: unknown[];
  /** The final status with its trailers. */
  status: StatusObject;
}

/** The result of claiming a key. */
export type DedupClaim =
  | { state: 'new' }
  | { state: 'done'; outcome: StoredOutcome }
  | { state: 'in-flight'; outcome: Promise<StoredOutcome | undefined> };

/**
 * Where outcomes are kept. The in-memory store serves one process; back it with Redis or a
 * database (claim with SET NX / INSERT … ON CONFLICT, expire with a TTL) to deduplicate across
 * replicas. Methods may return promises.
 */
export interface DedupStore {
  /** Claims `key`: `new` for the first request, else the outcome or the one still running. */
  claim(key: string): DedupClaim | Promise<DedupClaim>;
  /** Stores the outcome of the claimed key, and wakes whoever waits for it. */
  complete(key: string, outcome: StoredOutcome): void | Promise<void>;
  /** Forgets a claimed key without an outcome (the call failed in a way worth running again). */
  release(key: string): void | Promise<void>;
}

/** Options of {@link MemoryDedupStore}. */
export interface MemoryDedupStoreOptions {
  /** How long an outcome is kept, ms. Default 10 minutes. */
  ttlMs?: number;
  /** Most outcomes kept; the oldest go first. Default 10000. */
  maxEntries?: number;
  /** Clock, injectable. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  outcome?: StoredOutcome;
  expiresAt: number;
  waiters?: ((outcome: StoredOutcome | undefined) => void)[];
}

/** An in-process {@link DedupStore}, bounded by TTL and count (insertion order = age). */
export class MemoryDedupStore implements DedupStore {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: MemoryDedupStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? 600_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  claim(key: string): DedupClaim {
    const now = this.now();
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > now) {
      if (entry.outcome) return { state: 'done', outcome: entry.outcome };
      return {
        state: 'in-flight',
        outcome: new Promise((resolve) => (entry.waiters ??= []).push(resolve)),
      };
    }
    if (entry) this.entries.delete(key);
    this.evict(now);
    this.entries.set(key, { expiresAt: now + this.ttlMs });
    return { state: 'new' };
  }

  complete(key: string, outcome: StoredOutcome): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.outcome = outcome;
    entry.expiresAt = this.now() + this.ttlMs;
    this.wake(entry, outcome);
  }

  release(key: string): void {
    const entry = this.entries.get(key);
    if (!entry || entry.outcome) return;
    this.entries.delete(key);
    this.wake(entry, undefined);
  }

  private wake(entry: Entry, outcome: StoredOutcome | undefined): void {
    const waiters = entry.waiters;
    entry.waiters = undefined;
    for (const wake of waiters ?? []) wake(outcome);
  }

  /** Drops expired entries from the oldest end, then the oldest finished ones past the cap. */
  private evict(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size < this.maxEntries) break;
      if (entry.outcome || entry.expiresAt <= now) this.entries.delete(key);
      else if (this.entries.size < this.maxEntries) break;
    }
  }
}
