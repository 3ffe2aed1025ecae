import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { REASON_METADATA_KEY } from '@grpc-resilience/status';
import {
  TEST_METHODS,
  behaviourMetadata,
  callUnary,
  createLogSink,
  loopbackFixture,
  testServiceClient,
  testServiceDefinition,
  waitUntil,
  type TestBackend,
  type TestBackendOptions,
  type TestServiceClient,
  type TestServiceClientConstructor,
} from '@grpc-resilience/testing';
import { remainingTimeMs } from '@grpc-resilience/deadline';
import {
  circuitBreakerOf,
  createResilientClient,
  gracefulShutdown,
  resilientOptions,
  resilientServerOptions,
} from './index';
import { openSharedChannels } from './shared-channels';

const loop = loopbackFixture(afterEach);
const backend = (name = 'b', options: TestBackendOptions = {}) =>
  loop.backend({ name, ...options });
const keep = <T extends grpc.Client>(client: T): T => loop.keep(client);
const meta = (behaviour: Parameters<typeof behaviourMetadata>[0]) => ({
  metadata: behaviourMetadata(behaviour),
});

// Two ways users build clients: proto-loader + loadPackageDefinition, and makeGenericClientConstructor.
const ProtoLoaderClient = testServiceClient();
const GenericClient = grpc.makeGenericClientConstructor(
  testServiceDefinition(),
  'TestService',
) as unknown as TestServiceClientConstructor;

describe.each([
  ['proto-loader client', ProtoLoaderClient],
  ['makeGenericClientConstructor client', GenericClient],
])('%s adopts the layer by changing its constructor call', (_name, Client) => {
  it('retries (idempotency read from the proto), through resilientOptions', async () => {
    const b = await backend();
    // Before: new Client(b.address, grpc.credentials.createInsecure())
    const client = keep(
      new Client(
        b.address,
        grpc.credentials.createInsecure(),
        resilientOptions({ service: Client.service, retry: { initialBackoffMs: 1 } }),
      ),
    );
    const ok = await callUnary(
      client,
      'GetItem',
      {},
      meta({ callId: 'r', failCode: grpc.status.UNAVAILABLE, failAttempts: 2 }),
    );
    expect(ok.status.code).toBe(grpc.status.OK);
    expect(b.counters.attemptsOf('r')).toBe(3);
    const charge = await callUnary(
      client,
      'Charge',
      {},
      meta({ callId: 'c', failCode: grpc.status.UNAVAILABLE }),
    );
    expect(charge.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(b.counters.attemptsOf('c')).toBe(1); // not idempotent: once
    expect(b.counters.records.at(-1)!.metadata.get('idempotency-key')).toHaveLength(1);
  });

  it('puts a deadline on every call, and trips the breaker, through createResilientClient', async () => {
    const b = await backend();
    const client = keep(
      createResilientClient(Client, b.address, {
        deadline: { defaultMs: 150 },
        retry: false,
        breaker: { consecutiveFailures: 3, halfOpenAfterMs: 60_000 },
      }),
    );
    const hung = await callUnary(client, 'GetItem', {}, meta({ hang: true }));
    expect(hung.status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(hung.durationMs).toBeLessThan(150 + 1000); // its deadline, not a hang (slack for CI)
    for (let i = 0; i < 2; i++)
      await callUnary(client, 'GetItem', {}, meta({ failCode: grpc.status.UNAVAILABLE }));
    expect(circuitBreakerOf(client)!.stateOf()).toBe('open');
    const rejected = await callUnary(client, 'GetItem', {});
    expect(rejected.status.details).toBe(`circuit open for ${b.address}`);
    expect(rejected.status.metadata.get(REASON_METADATA_KEY)).toEqual(['circuit-open']);
  });

  it('balances round-robin over a list of addresses when asked', async () => {
    const [b1, b2] = [await backend('b1'), await backend('b2')];
    const client = keep(
      createResilientClient(Client, [b1.address, b2.address], {
        loadBalancing: { policy: 'round_robin' }, // the default, p2c, favours the faster one
      }),
    );
    await waitUntilBoth(client, [b1, b2]);
    for (let i = 0; i < 100; i++) await callUnary(client, 'GetItem', {});
    expect(b1.counters.calls).toBeGreaterThanOrEqual(40);
    expect(b2.counters.calls).toBeGreaterThanOrEqual(40);
  });
});

async function waitUntilBoth(client: TestServiceClient, group: TestBackend[]) {
  const until = Date.now() + 5000;
  while (group.some((b) => b.counters.calls === 0) && Date.now() < until) {
    await callUnary(client, 'GetItem', {}, { metadata: new grpc.Metadata({ waitForReady: true }) });
  }
  for (const b of group) b.counters.reset();
}

it('propagates the deadline through a server built with resilientServerOptions', async () => {
  const leaf = await backend('leaf');
  const toLeaf = keep(createResilientClient(ProtoLoaderClient, leaf.address));
  const front = new grpc.Server(resilientServerOptions());
  loop.onClose(() => front.forceShutdown());
  let seenInHandler = 0;
  front.addService(testServiceDefinition(), {
    GetItem(_call: unknown, callback: grpc.sendUnaryData<unknown>) {
      seenInHandler = remainingTimeMs();
      setTimeout(() => toLeaf.GetItem({ id: 'x' }, callback), 50);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    front.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const caller = keep(createResilientClient(ProtoLoaderClient, `127.0.0.1:${port}`));
  // 2 s, well below the leaf client's own 5 s default, and long enough for a slow CI machine.
  const outcome = await callUnary(caller, 'GetItem', {}, { timeoutMs: 2000 });
  expect(outcome.status.code).toBe(grpc.status.OK);
  expect(seenInHandler).toBeLessThanOrEqual(2000);
  expect(leaf.counters.deadlinesSeen[0]).toBeLessThanOrEqual(2000 - 50 - 10);
  expect(leaf.counters.deadlinesSeen[0]).toBeGreaterThan(1000);
});

describe('config errors at construction, naming the field', () => {
  it.each<[unknown, string]>([
    [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ deadline: { defaultMs: 'soon' } }, 'deadline.defaultMs'],
    [{ breaker: { scope: 'host' } }, 'breaker.scope'],
    [{ keepalive: { preset: 'in-cluster', server: 'grpc-go' } }, 'keepalive.keepaliveTimeMs'],
    [{ methods: { 'Svc/M': {} } }, 'methods["Svc/M"]'],
    [{ retries: 3 }, 'retries'],
    [
      { loadBalancing: { ejection: { maxEjectedShare: 3 } } },
      'loadBalancing.ejection.maxEjectedShare',
    ],
    [
      {
        channelOptions: {
          'grpc.service_config': JSON.stringify({
            methodConfig: [{ name: [{}], retryPolicy: { maxAttempts: 3 } }],
          }),
        },
      },
      'channelOptions["grpc.service_config"].methodConfig[0].retryPolicy',
    ],
    [{ maxReceiveMessageBytes: -1 }, 'maxReceiveMessageBytes'],
    [null, 'config'],
    [{ channelOptions: { 'grpc.service_config': null } }, 'channelOptions["grpc.service_config"]'],
    [{ channelOptions: { 'grpc.service_config': '[]' } }, 'channelOptions["grpc.service_config"]'],
    [{ retry: { budget: { now: 'later' } } }, 'retry.budget.now'],
    [{ logger: { log: () => undefined } }, 'logger'],
    [{ logger: console, logging: { redact: 'x-secret' } }, 'logging.redact'],
  ])('%j', (config, option) => {
    let error: { name?: string; code?: string; option?: string } | undefined;
    try {
      resilientOptions(config as never);
    } catch (e) {
      error = e as never;
    }
    expect(error).toMatchObject({
      name: 'ConfigError',
      code: 'ERR_GRPC_RESILIENCE_CONFIG',
      option,
    });
  });

  it('the server factory validates too', () => {
    expect(() => resilientServerOptions({ keepalive: { maxConnectionAgeMs: 0 } })).toThrow(
      /keepalive.maxConnectionAgeMs/,
    );
    expect(() => resilientServerOptions({ dedupe: false } as never)).toThrow(
      /dedupe is not a known option/,
    );
    for (const [config, option] of [
      [null, 'config'],
      [{ interceptors: [() => undefined, 'not an interceptor'] }, 'interceptors'],
      [{ logger: 'console' }, 'logging.logger'],
      [{ logger: console, logging: { redact: [1] } }, 'logging.redact'],
    ] as const) {
      expect(() => resilientServerOptions(config as never)).toThrow(
        expect.objectContaining({ name: 'ConfigError', option }),
      );
    }
  });
});

it('logs a failing call with the fields that explain it and no secret from the metadata', async () => {
  const b = await backend();
  const sink = createLogSink();
  const client = keep(
    createResilientClient(ProtoLoaderClient, b.address, {
      logger: sink.logger,
      retry: { initialBackoffMs: 1 },
      deadline: { defaultMs: 2000 },
    }),
  );
  const metadata = behaviourMetadata({ failCode: grpc.status.UNAVAILABLE, failDetails: 'db down' });
  metadata.set('authorization', 'Bearer s3cr3t-token');
  metadata.set('session-bin', Buffer.from('s3cr3t-bytes'));
  await callUnary(client, 'GetItem', {}, { metadata });
  const [record] = sink.find('grpc call failed');
  expect(record).toMatchObject({
    level: 40,
    grpc: {
      method: TEST_METHODS.getItem,
      code: 14,
      status: 'UNAVAILABLE',
      details: 'db down',
      attempts: 5,
      fault: 'server',
      origin: 'server',
      breaker: 'closed',
      deadlineMs: expect.any(Number),
      timeLeftMs: expect.any(Number),
      durationMs: expect.any(Number),
      peer: expect.stringContaining('127.0.0.1'),
    },
  });
  expect(sink.find('grpc attempt failed, retrying')).toHaveLength(4);
  const text = JSON.stringify(sink.records);
  expect(text).not.toContain('s3cr3t');
  expect((record.grpc as { metadata: Record<string, string> }).metadata.authorization).toBe(
    '[REDACTED]',
  );

  sink.clear();
  await callUnary(client, 'GetItem', {}, meta({ failCode: grpc.status.NOT_FOUND }));
  expect(sink.find('grpc call failed')[0]).toMatchObject({ level: 30, grpc: { fault: 'caller' } });
});

it('graceful shutdown under load: in-flight calls finish, new calls go elsewhere, 0 failures', async () => {
  const health = new HealthImplementation({ '': 'SERVING' });
  const [b1, b2] = [
    await backend('b1', { serverOptions: resilientServerOptions() }),
    await backend('b2'),
  ];
  health.addToServer(b1.server);
  const client = keep(createResilientClient(ProtoLoaderClient, [b1.address, b2.address]));
  await waitUntilBoth(client, [b1, b2]);
  let started = 0;
  const failures: string[] = [];
  const load = Promise.all(
    Array.from({ length: 10 }, async () => {
      while (started < 600) {
        started++;
        const outcome = await callUnary(client, 'GetItem', {}, meta({ delayMs: 5 }));
        if (outcome.status.code !== grpc.status.OK) failures.push(outcome.status.details);
      }
    }),
  );
  await waitUntil(() => b1.counters.calls >= 50);
  const result = await gracefulShutdown(b1.server, { health, graceMs: 2000, drainDelayMs: 0 });
  const servedByB1 = b1.counters.calls;
  await load;
  expect(result.forced).toBe(false);
  expect(failures).toEqual([]);
  expect(b1.counters.calls).toBe(servedByB1); // nothing after the shutdown
  expect(b2.counters.calls).toBeGreaterThan(600 - servedByB1 - 1);
});

it('clients of one target share one channel, closed with the last client', async () => {
  const b = await backend();
  const before = openSharedChannels();
  const many = Array.from({ length: 50 }, () =>
    createResilientClient(ProtoLoaderClient, b.address),
  );
  expect(openSharedChannels()).toBe(before + 1);
  await Promise.all(many.map((c) => callUnary(c as TestServiceClient, 'GetItem', {})));
  for (const c of many.slice(1)) c.close();
  expect((await callUnary(many[0] as TestServiceClient, 'GetItem', {})).status.code).toBe(
    grpc.status.OK,
  );
  many[0].close();
  expect(openSharedChannels()).toBe(before);
});
