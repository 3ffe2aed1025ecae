import { Metadata, status as Status } from '@grpc/grpc-js';
import { createRetryInterceptor, type RetryOptions } from '@grpc-resilience/retry';
import { methodsFromService } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callUnary,
  loopbackFixture,
  testServiceClient,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { loadBalancingChannelOptions, targetForAddresses } from './index';

/* A retry, and a hedge, land on another backend than the attempt they follow: the picker honours
 * grpc-resilience-avoid-peer (a retry) and fills in the retry layer's PICKED_PEER_KEY slot (so a
 * hedge knows where its first attempt went). Two concurrent calls per round make round-robin's
 * rotation point back at the failed endpoint half of the time, so without the picker's part these
 * fail in all but about 1 run in 1000. */
const loop = loopbackFixture(afterEach);

async function twoBackends(): Promise<TestBackend[]> {
  return Promise.all([loop.backend({ name: 'b0' }), loop.backend({ name: 'b1' })]);
}

type Policy = 'p2c' | 'round_robin';

function client(group: TestBackend[], policy: Policy, retry: RetryOptions): TestServiceClient {
  return loop.client(targetForAddresses(group.map((b) => b.address)), {
    // Ejection out of the way: only avoid-peer moves the retries.
    ...loadBalancingChannelOptions({ policy, ejection: { consecutiveFailures: 1000 } }),
    interceptors: [
      createRetryInterceptor({
        methods: methodsFromService(testServiceClient().service),
        budget: false,
        initialBackoffMs: 20,
        maxBackoffMs: 20,
        ...retry,
      }),
    ],
  });
}

async function warmUp(c: TestServiceClient, group: TestBackend[], calls = 10): Promise<void> {
  for (let i = 0; i < calls || group.some((b) => b.counters.calls === 0); i++) {
    if (i > 200) throw new Error('backends never all answered');
    const options = {
      metadata: new Metadata({ waitForReady: true }),
      timeoutMs: 1000,
    };
    expect((await callUnary(c, 'GetItem', {}, options)).status.code).toBe(Status.OK);
  }
  for (const b of group) b.counters.reset();
}

describe.each(['p2c', 'round_robin'] as const)('%s', (policy) => {
  it('a retried call lands on the other backend', async () => {
    const group = await twoBackends();
    const c = client(group, policy, { maxAttempts: 2 });
    await warmUp(c, group);
    const [failing, healthy] = group;
    failing.behaviour = { failCode: Status.UNAVAILABLE };
    for (let round = 0; round < 10; round++) {
      const pair = [`r${round}a`, `r${round}b`];
      const outcomes = await Promise.all(
        pair.map((callId) =>
          callUnary(c, 'GetItem', {}, { metadata: behaviourMetadata({ callId }) }),
        ),
      );
      // With one retry only, a call whose retry went back to the failing backend would fail.
      expect(outcomes.map((o) => o.status.code)).toEqual([Status.OK, Status.OK]);
      for (const id of pair) expect(failing.counters.attemptsOf(id)).toBeLessThanOrEqual(1);
    }
    // Round-robin's rotation did send first attempts there; p2c soon sends none (its failure
    // rule raises the endpoint's cost), and its own suite tests avoid-peer on a chosen endpoint.
    if (policy === 'round_robin') expect(failing.counters.calls).toBeGreaterThanOrEqual(5);
    expect(healthy.counters.calls).toBe(20); // every call answered there, once
  });

  it('a hedge goes to the other backend than its slow first attempt', async () => {
    const group = await twoBackends();
    const c = client(group, policy, {
      hedging: { minSamples: 5, minDelayMs: 20, maxDelayMs: 50, maxExtraLoad: 1 },
    });
    await warmUp(c, group);
    const [slow, fast] = group;
    slow.behaviour = { delayMs: 500 };
    for (let round = 0; round < 10; round++) {
      const pair = [`h${round}a`, `h${round}b`];
      const outcomes = await Promise.all(
        pair.map((callId) =>
          callUnary(c, 'GetItem', {}, { metadata: behaviourMetadata({ callId }) }),
        ),
      );
      expect(outcomes.map((o) => o.status.code)).toEqual([Status.OK, Status.OK]);
      // Whichever call started on the slow backend was answered by its hedge on the fast one.
      expect(outcomes.map((o) => o.response?.backend)).toEqual(['b1', 'b1']);
      for (const id of pair) expect(slow.counters.attemptsOf(id)).toBeLessThanOrEqual(1);
    }
    expect(fast.counters.calls).toBeGreaterThanOrEqual(20);
  });
});
