import { functionOption, objectOption } from '@grpc-resilience/status';
import type { DedupClaim, DedupStore, DedupStoreUsage, StoredOutcome } from './dedup-store';
import {
  DEDUP_ENTRY_OVERHEAD_BYTES,
  DEDUP_STORE_LIMIT_KEYS,
  outcomeBytes,
  outcomeNotKept,
  resolveDedupStoreLimits,
  type DedupStoreLimits,
  type ResolvedDedupStoreLimits,
} from './store-limits';

/** Options of {@link MemoryDedupStore}: the common limits, and a clock. */
export interface MemoryDedupStoreOptions extends DedupStoreLimits {
  /** Clock, ms. Default `Date.now`. */
  now?: () => number;
}

/** {@link MemoryDedupStoreOptions}, validated and defaulted. */
export interface ResolvedMemoryDedupStoreOptions extends ResolvedDedupStoreLimits {
  readonly now: () => number;
}

/** Validates the options of {@link MemoryDedupStore}; throws only `ConfigError`. */
export function resolveMemoryDedupStoreOptions(
  options?: MemoryDedupStoreOptions,
  path = 'dedup.store',
): ResolvedMemoryDedupStoreOptions {
  const input = objectOption(path, options, [...DEDUP_STORE_LIMIT_KEYS, 'now']);
  return Object.freeze({
    ...resolveDedupStoreLimits(path, input),
    now: functionOption(`${path}.now`, input.now, Date.now),
  });
}

const NOT_KEPT = outcomeNotKept('it was larger than the store may hold');
const NOT_KEPT_BYTES = outcomeBytes(NOT_KEPT);

type Wake = (outcome: StoredOutcome | undefined) => void;

interface Entry {
  readonly key: string;
  readonly fingerprint: string;
  state: 'in-flight' | 'done' | 'gone';
  bytes: number;
  expiresAt: number;
  /** Set while in flight: who owns the claim. */
  token?: string;
  outcome?: StoredOutcome;
  waiters?: Set<Wake>;
}

/**
 * Entries of one state in expiry order (fixed TTLs: insertion order is expiry order). Entries
 * that left the state are skipped lazily and swept out once they outnumber the live ones, so
 * every operation is O(1) amortised and a left entry is not kept alive for long; walking a Map
 * from its start is not O(1) (V8 keeps deleted slots until it rehashes).
 */
class ExpiryQueue {
  private items: Entry[] = [];
  private head = 0;
  private live = 0;

  constructor(private readonly state: Entry['state']) {}

  push(entry: Entry): void {
    this.items.push(entry);
    this.live++;
  }

  /** Call when an entry of this queue leaves its state. */
  left(): void {
    this.live--;
    if (this.items.length - this.head > 2 * this.live + 1024) {
      this.items = this.items.filter((entry, i) => i >= this.head && entry.state === this.state);
      this.head = 0;
    }
  }

  /** The oldest entry still in this queue's state. */
  oldest(): Entry | undefined {
    while (this.head < this.items.length && this.items[this.head].state !== this.state) {
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }
}

/**
 * An in-process {@link DedupStore} (`scope: 'process'`): safe only when every retry of a key
 * reaches this same process. Bounded by TTL, entry count and bytes, in-flight entries included.
 * When full, done entries go oldest first; in-flight ones are never evicted before their lease
 * ends, so a claim that finds only in-flight entries in the way gets `full`.
 */
export class MemoryDedupStore implements DedupStore {
  readonly scope = 'process' as const;
  private readonly options: ResolvedMemoryDedupStoreOptions;
  private readonly entries = new Map<string, Entry>();
  // Separate queues, so eviction never walks past thousands of in-flight entries to a done one.
  private readonly inFlight = new ExpiryQueue('in-flight');
  private readonly done = new ExpiryQueue('done');
  private bytes = 0;
  private tokens = 0;

  constructor(options?: MemoryDedupStoreOptions) {
    this.options = resolveMemoryDedupStoreOptions(options);
  }

  /** Entries held now, in flight and done. */
  get size(): number {
    return this.entries.size;
  }

  /** What the store holds now, by its own accounting (estimated bytes, see `outcomeBytes`). */
  usage(): DedupStoreUsage {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  claim(key: string, fingerprint: string): DedupClaim {
    const now = this.options.now();
    this.evictExpired(this.inFlight, now);
    this.evictExpired(this.done, now);
    const entry = this.entries.get(key);
    if (entry) {
      if (entry.fingerprint !== fingerprint) return { state: 'mismatch' };
      if (entry.outcome) return { state: 'done', outcome: entry.outcome };
      return { state: 'in-flight', wait: (signal) => this.wait(entry, signal) };
    }
    // An in-flight entry reserves room for the marker it may end as (see `complete`).
    const bytes = DEDUP_ENTRY_OVERHEAD_BYTES + key.length + fingerprint.length + NOT_KEPT_BYTES;
    if (!this.makeRoom(bytes)) return { state: 'full' };
    const token = String(++this.tokens);
    const expiresAt = now + this.options.inFlightTtlMs;
    const created: Entry = { key, fingerprint, state: 'in-flight', bytes, expiresAt, token };
    this.entries.set(key, created);
    this.inFlight.push(created);
    this.bytes += bytes;
    return { state: 'new', token };
  }

  complete(key: string, token: string, outcome: StoredOutcome): void {
    const entry = this.entries.get(key);
    if (!entry || entry.state !== 'in-flight' || entry.token !== token) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
    entry.state = 'done';
    this.inFlight.left();
    const base = DEDUP_ENTRY_OVERHEAD_BYTES + key.length + entry.fingerprint.length;
    let kept = outcome;
    let bytes = base + outcomeBytes(outcome);
    if (!this.makeRoom(bytes)) {
      kept = NOT_KEPT;
      bytes = base + NOT_KEPT_BYTES;
      // The entry's own reservation, just freed, covered this marker: it always fits.
      this.makeRoom(bytes);
    }
    entry.outcome = kept;
    entry.token = undefined;
    entry.bytes = bytes;
    entry.expiresAt = this.options.now() + this.options.ttlMs;
    this.entries.set(key, entry);
    this.done.push(entry);
    this.bytes += bytes;
    this.wake(entry, kept);
  }

  release(key: string, token: string): void {
    const entry = this.entries.get(key);
    if (!entry || entry.state !== 'in-flight' || entry.token !== token) return;
    this.drop(entry);
  }

  /** Waits for an in-flight entry: its outcome, or undefined once released, expired or aborted. */
  private wait(entry: Entry, signal: AbortSignal): Promise<StoredOutcome | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const settle: Wake = (outcome) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        entry.waiters?.delete(settle);
        resolve(outcome);
      };
      const onAbort = () => settle(undefined);
      // The waiting call depends on this timer, so it stays ref'd (like grpc-js's own calls).
      const timer = setTimeout(onAbort, Math.max(0, entry.expiresAt - this.options.now()));
      signal.addEventListener('abort', onAbort, { once: true });
      (entry.waiters ??= new Set()).add(settle);
    });
  }

  private wake(entry: Entry, outcome: StoredOutcome | undefined): void {
    const waiters = entry.waiters;
    entry.waiters = undefined;
    for (const wake of waiters ?? []) wake(outcome);
  }

  private drop(entry: Entry): void {
    (entry.state === 'done' ? this.done : this.inFlight).left();
    entry.state = 'gone';
    entry.outcome = undefined;
    this.entries.delete(entry.key);
    this.bytes -= entry.bytes;
    this.wake(entry, undefined);
  }

  private evictExpired(queue: ExpiryQueue, now: number): void {
    for (let entry = queue.oldest(); entry && entry.expiresAt <= now; entry = queue.oldest()) {
      this.drop(entry);
    }
  }

  /** Evicts the oldest done entries until `bytes` and one entry more fit; false if they cannot. */
  private makeRoom(bytes: number): boolean {
    const { maxBytes, maxEntries } = this.options;
    const fits = () => this.bytes + bytes <= maxBytes && this.entries.size < maxEntries;
    for (let entry = this.done.oldest(); entry && !fits(); entry = this.done.oldest()) {
      this.drop(entry);
    }
    return fits();
  }
}
