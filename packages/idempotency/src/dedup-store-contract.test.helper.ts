import { Metadata, status as Status } from '@grpc/grpc-js';
import type { DedupClaim, DedupStore, DedupStoreUsage, StoredOutcome } from './dedup-store';
import { isOutcomeNotKept, type DedupStoreLimits } from './store-limits';

/** A store under test, with its own accounting and a way to tear it down. */
export interface ContractSubject {
  store: DedupStore;
  usage(): DedupStoreUsage | Promise<DedupStoreUsage>;
  close(): Promise<void>;
}

/**
 * The contract every `DedupStore` this project ships must keep (see `DedupStore`'s TSDoc): one
 * function, run by the memory store's suite and by the Redis store's, so both mean the same.
 * Times are real but short; every wait is a bounded poll, never a sleep hoping for luck.
 */
export function describeDedupStoreContract(
  name: string,
  open: (limits: DedupStoreLimits) => Promise<ContractSubject>,
): void {
  describe(`${name}: the DedupStore contract`, () => {
    const subjects: ContractSubject[] = [];
    afterEach(async () => {
      for (const subject of subjects.splice(0)) await subject.close();
    });
    const start = async (limits: DedupStoreLimits = {}) => {
      const subject = await open(limits);
      subjects.push(subject);
      return subject;
    };
    const claim = async (store: DedupStore, key: string, fingerprint = 'fp') =>
      await store.claim(key, fingerprint);
    const tokenOf = (claim: DedupClaim) => {
      expect(claim.state).toBe('new');
      return (claim as { token: string }).token;
    };

    it('claims once, waits while in flight, then replays the outcome as it was', async () => {
      const { store } = await start();
      const token = tokenOf(await claim(store, 'k'));
      const second = await claim(store, 'k');
      expect(second.state).toBe('in-flight');
      const waited = (second as Extract<DedupClaim, { state: 'in-flight' }>).wait(
        new AbortController().signal,
      );
      const outcome = sampleOutcome();
      await store.complete('k', token, outcome);
      expect(normalise(await waited)).toEqual(normalise(outcome));
      const done = await claim(store, 'k');
      expect(done.state).toBe('done');
      expect(normalise((done as { outcome: StoredOutcome }).outcome)).toEqual(normalise(outcome));
    });

    it('of concurrent claims of one key, exactly one is new', async () => {
      const { store } = await start();
      const claims = await Promise.all(Array.from({ length: 20 }, () => claim(store, 'race')));
      expect(claims.filter((c) => c.state === 'new')).toHaveLength(1);
      expect(claims.filter((c) => c.state === 'in-flight')).toHaveLength(19);
    });

    it('refuses a key reused with another fingerprint, in flight or done', async () => {
      const { store } = await start();
      const token = tokenOf(await claim(store, 'k', 'a'));
      expect((await claim(store, 'k', 'b')).state).toBe('mismatch');
      await store.complete('k', token, sampleOutcome());
      expect((await claim(store, 'k', 'b')).state).toBe('mismatch');
      expect((await claim(store, 'k', 'a')).state).toBe('done');
    });

    it('release wakes waiters with nothing and frees the key; abort ends a wait', async () => {
      const { store } = await start();
      const token = tokenOf(await claim(store, 'k'));
      const waiting = (await claim(store, 'k')) as Extract<DedupClaim, { state: 'in-flight' }>;
      const released = waiting.wait(new AbortController().signal);
      const aborter = new AbortController();
      const aborted = waiting.wait(aborter.signal);
      aborter.abort();
      await expect(aborted).resolves.toBeUndefined();
      await store.release('k', token);
      await expect(released).resolves.toBeUndefined();
      expect((await claim(store, 'k')).state).toBe('new');
    });

    it('ignores complete and release from a token that no longer owns the key', async () => {
      const { store } = await start({ inFlightTtlMs: 50 });
      const stale = tokenOf(await claim(store, 'k'));
      const fresh = tokenOf(await pollClaim(store, 'k', (c) => c.state === 'new'));
      await store.complete('k', stale, sampleOutcome());
      await store.release('k', stale);
      expect((await claim(store, 'k')).state).toBe('in-flight');
      await store.complete('k', fresh, sampleOutcome());
      expect((await claim(store, 'k')).state).toBe('done');
    });

    it('forgets outcomes after ttlMs', async () => {
      const { store } = await start({ ttlMs: 50 });
      await store.complete('k', tokenOf(await claim(store, 'k')), sampleOutcome());
      expect((await claim(store, 'k')).state).toBe('done');
      await pollClaim(store, 'k', (c) => c.state === 'new');
    });

    it('keeps at most maxEntries, evicting the oldest done entries first', async () => {
      const subject = await start({ maxEntries: 3 });
      const { store } = subject;
      for (const key of ['a', 'b', 'c', 'd', 'e']) {
        await store.complete(key, tokenOf(await claim(store, key)), sampleOutcome());
        expect((await subject.usage()).entries).toBeLessThanOrEqual(3);
      }
      expect((await claim(store, 'e')).state).toBe('done');
      expect((await claim(store, 'a')).state).toBe('new');
    });

    it('counts in-flight entries in the bounds, never evicts them, and says full', async () => {
      const subject = await start({ maxEntries: 1_000, maxBytes: 4096 });
      const { store } = subject;
      const tokens: string[] = [];
      for (let i = 0; i < 100; i++) {
        const c = await claim(store, `in-flight-${i}`);
        expect((await subject.usage()).bytes).toBeLessThanOrEqual(4096);
        if (c.state === 'full') break;
        tokens.push(tokenOf(c));
      }
      expect(tokens.length).toBeGreaterThan(0);
      expect(tokens.length).toBeLessThan(100);
      expect((await claim(store, 'one-more')).state).toBe('full');
      for (let i = 0; i < tokens.length; i++) {
        expect((await claim(store, `in-flight-${i}`)).state).toBe('in-flight');
      }
      await store.complete('in-flight-0', tokens[0], sampleOutcome());
      expect((await subject.usage()).bytes).toBeLessThanOrEqual(4096);
    });

    it('keeps a marker, not the outcome, when an outcome cannot fit: the key stays spent', async () => {
      const subject = await start({ maxBytes: 4096 });
      const { store } = subject;
      const token = tokenOf(await claim(store, 'big'));
      await store.complete('big', token, sampleOutcome(10_000));
      const done = await claim(store, 'big');
      expect(done.state).toBe('done');
      expect(isOutcomeNotKept((done as { outcome: StoredOutcome }).outcome)).toBe(true);
      expect((await subject.usage()).bytes).toBeLessThanOrEqual(4096);
    });
  });
}

/** An outcome with headers, a message holding bytes, and trailers (text and binary). */
export function sampleOutcome(payloadBytes = 16): StoredOutcome {
  const headers = new Metadata();
  headers.set('x-header', 'h');
  const trailers = new Metadata();
  trailers.set('x-trailer', 't');
  trailers.set('x-trailer-bin', Buffer.from([0, 1, 2]));
  const payload = Buffer.alloc(payloadBytes, 0x61);
  return {
    headers,
    messages: [{ chargeId: 'c-1', backend: 'b', payload }],
    status: { code: Status.OK, details: 'OK', metadata: trailers },
    messageBytes: payloadBytes + 12,
  };
}

/** An outcome as plain data, to compare across a store that serializes. */
function normalise(outcome: StoredOutcome | undefined) {
  if (!outcome) return outcome;
  return {
    headers: outcome.headers?.toJSON(),
    messages: outcome.messages,
    status: { ...outcome.status, metadata: outcome.status.metadata?.toJSON() },
  };
}

/** Claims until `until` holds: a bounded poll (2 s) for a lease or TTL to run out. */
async function pollClaim(
  store: DedupStore,
  key: string,
  until: (claim: DedupClaim) => boolean,
): Promise<DedupClaim> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const claim = await store.claim(key, 'fp');
    if (until(claim)) return claim;
    if (Date.now() > deadline) throw new Error(`claim of ${key} stayed ${claim.state} for 2 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
