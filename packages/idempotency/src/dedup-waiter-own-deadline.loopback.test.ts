import { Metadata, status as Status, type Call } from '@grpc/grpc-js';
import { callUnary, loopbackFixture, waitUntil } from '@grpc-resilience/testing';
import { startDedupTestServer } from './dedup-server.test.helper';
import { MemoryDedupStore, type DedupClaim, type DedupStore } from './index';

/*
 * "A duplicate waits no longer than its own deadline", seen from the server. The caller's side
 * cannot tell: grpc-js ends a client call at its deadline or cancel whatever the server does.
 * What must end is the server's wait on the first run, which would otherwise hold the duplicate
 * (its call, its store wait) for the whole in-flight lease, 2 min by default. So the store here
 * hands out the signals its waiters get, and the test watches them.
 */

const loop = loopbackFixture(afterEach);

/** A memory store that records the abort signal of every wait on an in-flight key. */
function watchedStore(): { store: DedupStore; signals: AbortSignal[] } {
  const memory = new MemoryDedupStore();
  const signals: AbortSignal[] = [];
  const store: DedupStore = {
    claim(key, fingerprint) {
      const claim = memory.claim(key, fingerprint) as DedupClaim;
      if (claim.state !== 'in-flight') return claim;
      return {
        state: 'in-flight',
        wait(signal) {
          signals.push(signal);
          return claim.wait(signal);
        },
      };
    },
    complete: (key, token, outcome) => memory.complete(key, token, outcome),
    release: (key, token) => memory.release(key, token),
  };
  return { store, signals };
}

const keyed = (key: string) => {
  const metadata = new Metadata();
  metadata.set('idempotency-key', key);
  return metadata;
};

it("a duplicate's server-side wait ends at its own deadline and at its own cancel, while the first run holds", async () => {
  const { store, signals } = watchedStore();
  const server = await startDedupTestServer({ store });
  loop.onClose(() => server.close());
  server.charge = { hold: true };
  const c = loop.client(server.address);
  let firstDone = false;
  const first = callUnary(c, 'Charge', { account: 'a' }, { metadata: keyed('k') }).then((o) => {
    firstDone = true;
    return o;
  });
  await waitUntil(() => server.runs.charge === 1);

  // 1. A duplicate with a 150 ms deadline: its wait is aborted about then, not at the lease.
  const startedAt = performance.now();
  const late = await callUnary(
    c,
    'Charge',
    { account: 'a' },
    { metadata: keyed('k'), timeoutMs: 150 },
  );
  expect(late.status.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(signals).toHaveLength(1);
  await waitUntil(() => signals[0].aborted, { timeoutMs: 5_000 });
  const abortedAfterMs = performance.now() - startedAt;

  // 2. A duplicate without a deadline, cancelled by its caller once the server holds it.
  let call: Call | undefined;
  const cancelling = callUnary(
    c,
    'Charge',
    { account: 'a' },
    { metadata: keyed('k'), onCall: (started) => (call = started) },
  );
  await waitUntil(() => signals.length === 2); // the server waits on the first run for it
  expect(signals[1].aborted).toBe(false);
  call!.cancel();
  expect((await cancelling).status.code).toBe(Status.CANCELLED);
  await waitUntil(() => signals[1].aborted, { timeoutMs: 5_000 });

  // Both waits ended while the first run still held its key: by their own deadline and cancel.
  expect(firstDone).toBe(false);
  expect(server.runs.charge).toBe(1);
  process.stdout.write(
    `dedup waiter: aborted ${abortedAfterMs.toFixed(0)} ms after a 150 ms deadline\n`,
  );
  server.releaseHeld();
  expect((await first).status.code).toBe(Status.OK);
});
