import * as grpc from '@grpc/grpc-js';
import { createResilientClient } from '@grpc-resilience/channel';
import { createDedupInterceptor } from '@grpc-resilience/idempotency';
import {
  behaviourMetadata,
  callUnary,
  loopbackFixture,
  testServiceClient,
  type ChaosProxy,
  type TestBackend,
} from '@grpc-resilience/testing';
import { RedisDedupStore } from './index';
import { startTestRedis } from './redis-server.test.helper';

/*
 * Done-when 6 as the issue words it: three replicas behind round-robin (asked for: the layer's
 * default is now p2c, which replicas.loopback.test.ts runs), one Redis store, 1,000 keyed
 * Charges, a fifth of the responses cut after the side effect. Beyond "each ran once and each
 * caller got its outcome", it checks the case the shared store exists for did happen: a retry
 * that reached another replica than the one that ran the charge, answered from the store.
 */

const CALLS = 1_000;
const loop = loopbackFixture(afterAll);

/** Per call id, the replicas (by index) its attempts reached, in order. */
const reached = new Map<string, number[]>();

/**
 * Outermost on replica `index`: notes each attempt, and for a call marked `x-test-cut`, the
 * first time any replica sees it, resets this replica's proxy connection as the answer leaves.
 */
function noteAndCut(index: number, proxy: () => ChaosProxy, cut: Set<string>) {
  const interceptor: grpc.ServerInterceptor = (_method, call) => {
    let armed = false;
    const cutNow = () => {
      if (armed) proxy().closeAfterBytes(1, 'downstream', 1);
      armed = false;
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const id = String(metadata.get('x-test-call-id')[0]);
        reached.set(id, [...(reached.get(id) ?? []), index]);
        armed = metadata.get('x-test-cut').length > 0 && !cut.has(id);
        if (armed) cut.add(id);
        next(metadata);
      })
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendMessage((message, next) => (cutNow(), next(message)))
      .withSendStatus((status, next) => (cutNow(), next(status)))
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
  return interceptor;
}

it(`round-robin over 3 replicas on one Redis store: ${CALLS} keyed Charges, 20% cut after the side effect; each runs once, each caller gets its outcome, and retries crossed replicas`, async () => {
  const redis = await startTestRedis();
  loop.onClose(() => redis.stop());
  const cut = new Set<string>();
  const replicas: TestBackend[] = [];
  const proxies: ChaosProxy[] = [];
  for (let index = 0; index < 3; index++) {
    // A short lease, as in replicas.loopback.test.ts: a cut that lands before the handler ran
    // leaves its key claimed until the lease ends.
    const store = new RedisDedupStore({
      redis: redis.client,
      keyPrefix: '{rr}:',
      inFlightTtlMs: 3000,
    });
    const interceptors = [
      noteAndCut(index, () => proxies[index], cut),
      createDedupInterceptor({ store }),
    ];
    replicas.push(await loop.backend({ name: `r${index}`, serverOptions: { interceptors } }));
    proxies.push(await loop.proxy(replicas[index].address));
  }
  const client = loop.keep(
    createResilientClient(
      testServiceClient(),
      proxies.map((p) => p.address),
      {
        loadBalancing: { policy: 'round_robin' },
        retry: { budget: false, maxAttempts: 10 },
        breaker: false,
        channelOptions: {
          'grpc.initial_reconnect_backoff_ms': 50,
          'grpc.max_reconnect_backoff_ms': 200,
        },
      },
    ),
  );
  // Each replica answers once first, so the client knows all three declare a shared store.
  for (let i = 0; i < 30 && replicas.some((r) => r.counters.calls === 0); i++)
    expect((await callUnary(client, 'GetItem', {})).status.code).toBe(grpc.status.OK);

  // Every fifth call is cut (a fixed pattern: the same calls on every run).
  const outcomes = [];
  for (let start = 0; start < CALLS; start += 8) {
    const batch = Array.from({ length: Math.min(8, CALLS - start) }, (_, j) => {
      const i = start + j;
      const metadata = behaviourMetadata({ callId: `call-${i}` });
      if (i % 5 === 2) metadata.set('x-test-cut', '1');
      return callUnary<{ backend: string }>(
        client,
        'Charge',
        { account: `a${i}` },
        { metadata, timeoutMs: 30_000 },
      );
    });
    outcomes.push(...(await Promise.all(batch)));
  }

  // Which replica ran each charge (the handler records it; a replayed attempt never reaches it).
  const ranOn = new Map<string, string[]>();
  for (const replica of replicas)
    for (const record of replica.counters.records)
      if (record.method === 'Charge')
        ranOn.set(record.callId!, [...(ranOn.get(record.callId!) ?? []), replica.name]);
  const notOk = outcomes.flatMap((o, i) =>
    o.status.code === grpc.status.OK ? [] : [`${i}: ${o.status.code} ${o.status.details}`],
  );
  expect(notOk).toEqual([]);
  expect([...ranOn].filter(([, where]) => where.length !== 1)).toEqual([]);
  expect(ranOn.size).toBe(CALLS);
  outcomes.forEach((outcome, i) =>
    expect(outcome.response?.backend).toBe(ranOn.get(`call-${i}`)![0]),
  );
  // Retries that reached a replica other than the one that ran the charge: each was answered
  // from the shared store (the charge still ran once), which a per-process store could not do.
  const crossed = [...reached].filter(
    ([id, where]) => id.startsWith('call-') && new Set(where).size > 1,
  );
  const replayed = outcomes.filter(
    (o) => o.status.metadata.get('grpc-resilience-replayed')[0],
  ).length;
  process.stdout.write(
    `round-robin replicas: cut ${cut.size}, replayed ${replayed}, crossed replicas ${crossed.length}\n`,
  );
  expect(cut.size).toBe(CALLS / 5);
  expect(crossed.length).toBeGreaterThanOrEqual(CALLS / 10);
}, 120_000);
