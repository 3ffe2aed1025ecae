import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { loopbackFixture, testServiceDefinition } from '@grpc-resilience/testing';
import { createRetryTestClient } from './retry-test-client.test.helper';

/*
 * Done-when 1 of "nothing lost, nothing twice", held to what a server sees: 200 bidi calls, 30%
 * failing before their first reply, the server echoing each request as it comes. Each caller
 * writes a third of its messages at the start, a third once the first echo has committed the
 * call (for a retried call, usually while the retry is still replaying the first third), and
 * the last third later. The server records every stream it answered OK: each must hold every
 * message the caller wrote, in order.
 */

const CALLS = 200;
const CONCURRENT = 20;
const PER_BATCH = 10;
const CALL_ID = 'x-test-call-id';
const FAIL_FIRST = 'x-test-fail-first';
/** A failing first attempt takes this many messages, then fails without a reply. */
const FAIL_AFTER = 3;

const loop = loopbackFixture(afterEach);

interface Item {
  id: string;
  value: string;
}
interface Answered {
  callId: string;
  attempt: number;
  received: string[];
}

/** A bidi server that echoes each request on arrival and records what each OK stream held. */
async function startEchoServer(): Promise<{ address: string; answered: Answered[] }> {
  const attempts = new Map<string, number>();
  const answered: Answered[] = [];
  const server = new grpc.Server();
  server.addService(testServiceDefinition(), {
    SyncItems(call: grpc.ServerDuplexStream<Item, object>) {
      const callId = String(call.metadata.get(CALL_ID)[0]);
      const attempt = (attempts.get(callId) ?? 0) + 1;
      attempts.set(callId, attempt);
      const failing = attempt === 1 && call.metadata.get(FAIL_FIRST).length > 0;
      const received: string[] = [];
      let failed = false;
      call.on('data', (item: Item) => {
        received.push(item.id);
        if (failing) {
          if (received.length === FAIL_AFTER && !failed) {
            failed = true;
            call.emit('error', { code: Status.UNAVAILABLE, details: 'before the first reply' });
          }
          return;
        }
        call.write({ id: item.id, value: item.value, seq: received.length - 1 });
      });
      call.on('end', () => {
        if (failing) return;
        answered.push({ callId, attempt, received: [...received] });
        call.end();
      });
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  loop.onClose(() => server.forceShutdown());
  return { address: `127.0.0.1:${port}`, answered };
}

/** Per logical call (by call id): how many messages the retry layer handed each attempt. */
type Handed = Map<string, number[]>;

/**
 * Below the retry layer: counts the messages handed to each attempt, and lets each leave 1 ms
 * late, as on a slow link, so that a retry's replay is still under way when the server's first
 * echo commits the call.
 */
function countingSlowLink(handed: Handed): grpc.Interceptor {
  return (options, nextCall) => {
    let counts: number[] | undefined;
    let index = 0;
    return new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        const callId = String(metadata.get(CALL_ID)[0]);
        counts = handed.get(callId) ?? [];
        handed.set(callId, counts);
        index = counts.push(0) - 1;
        next(metadata, listener);
      },
      sendMessage(message, next) {
        counts![index]++;
        setTimeout(() => next(message), 1);
      },
    });
  };
}

const itemsOf = (call: number, batch: number): Item[] =>
  Array.from({ length: PER_BATCH }, (_, i) => ({
    id: `c${call}-m${batch * PER_BATCH + i}`,
    value: `v${i}`,
  }));

interface BidiOutcome {
  status: grpc.StatusObject;
  replies: string[];
  written: string[];
  /** Messages the live attempt had been handed when the first reply reached the caller. */
  handedAtFirstReply: number;
}

/**
 * One call: the first batch at once, the second when the first reply arrives (the call has
 * just committed), the third and the half-close at the fifth reply.
 */
function syncCall(
  client: grpc.Client,
  call: number,
  failing: boolean,
  handed: Handed,
): Promise<BidiOutcome> {
  const metadata = new grpc.Metadata();
  metadata.set(CALL_ID, `c${call}`);
  if (failing) metadata.set(FAIL_FIRST, '1');
  const stream = (
    client as unknown as {
      SyncItems(m: grpc.Metadata, o: grpc.CallOptions): grpc.ClientDuplexStream<Item, Item>;
    }
  ).SyncItems(metadata, { deadline: Date.now() + 20_000 });
  const written: string[] = [];
  const write = (batch: number) => {
    for (const item of itemsOf(call, batch)) {
      written.push(item.id);
      stream.write(item);
    }
  };
  const replies: string[] = [];
  let handedAtFirstReply = -1;
  stream.on('data', (item: Item) => {
    replies.push(item.id);
    if (replies.length === 1) {
      const counts = handed.get(`c${call}`)!;
      handedAtFirstReply = counts[counts.length - 1];
      write(1);
    }
    if (replies.length === 5) {
      write(2);
      stream.end();
    }
  });
  stream.on('error', () => undefined); // the status carries it
  write(0);
  return new Promise((resolve) =>
    stream.on('status', (status) => resolve({ status, replies, written, handedAtFirstReply })),
  );
}

it(`bidi, ${CALLS} calls, 30% failing before the first reply, writes before, during and after the commit: every OK stream the server answered holds every message, in order, once`, async () => {
  const server = await startEchoServer();
  const handed: Handed = new Map();
  const client = loop.keep(
    createRetryTestClient(
      server.address,
      { initialBackoffMs: 2, maxBackoffMs: 5, budget: false },
      { below: [countingSlowLink(handed)] },
    ),
  );
  const failing = (i: number) => i % 10 < 3;
  let midReplay = 0;
  for (let batch = 0; batch < CALLS; batch += CONCURRENT) {
    const outcomes = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, j) =>
        syncCall(client, batch + j, failing(batch + j), handed),
      ),
    );
    outcomes.forEach((outcome, j) => {
      const i = batch + j;
      const callId = `c${i}`;
      expect(outcome.status.code).toBe(Status.OK);
      expect(outcome.written).toHaveLength(3 * PER_BATCH);
      // The caller got every message it wrote, echoed in order, once.
      expect(outcome.replies).toEqual(outcome.written);
      // The server answered OK exactly one stream of this call, and it held all of them.
      const ok = server.answered.filter((a) => a.callId === callId);
      expect(ok).toEqual([{ callId, attempt: failing(i) ? 2 : 1, received: outcome.written }]);
      expect(handed.get(callId)).toHaveLength(failing(i) ? 2 : 1);
      if (failing(i) && outcome.handedAtFirstReply < PER_BATCH) midReplay++;
    });
  }
  process.stdout.write(
    `bidi replay: ${CALLS * 0.3} retried calls, ${midReplay} committed before their replay was done\n`,
  );
  // The case under test happened: commits in the middle of a replay.
  expect(midReplay).toBeGreaterThan(0);
}, 60_000);
