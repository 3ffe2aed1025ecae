import { Metadata, status as Status } from '@grpc/grpc-js';
import { ConfigError } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callUnary,
  loopbackFixture,
  startPingEnforcingServer,
  startSilentServer,
  waitUntil,
} from '@grpc-resilience/testing';
import {
  PRESETS,
  clientKeepaliveChannelOptions,
  connectWatchdog,
  resolveKeepalive,
  resolveServerKeepalive,
  serverKeepaliveOptions,
  type PresetName,
} from './index';

const loop = loopbackFixture(afterEach);
const fastReconnect = {
  'grpc.initial_reconnect_backoff_ms': 50,
  'grpc.max_reconnect_backoff_ms': 200,
};
const waitForReady = () => new Metadata({ waitForReady: true });

it('4. a blackholed connection: the in-flight call fails within keepalive time + timeout + 500 ms, then recovers', async () => {
  const backend = await loop.backend();
  const proxy = await loop.proxy(backend.address);
  // The in-cluster preset scaled down 100x: ping after 300 ms, give up 50 ms later.
  const keepalive = resolveKeepalive({
    preset: 'in-cluster',
    keepaliveTimeMs: 300,
    keepaliveTimeoutMs: 50,
    server: 'grpc-js',
  });
  const client = loop.client(proxy.address, {
    ...clientKeepaliveChannelOptions(keepalive),
    ...fastReconnect,
  });
  await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 });
  const pending = callUnary(
    client,
    'GetItem',
    {},
    { timeoutMs: 20_000, metadata: behaviourMetadata({ delayMs: 10_000 }) },
  );
  await waitUntil(() => backend.counters.calls === 2);
  const frozenAt = performance.now();
  await proxy.freeze();
  const outcome = await pending;
  expect(outcome.status.code).toBe(Status.UNAVAILABLE);
  // Keepalive finds it in 300 + 50 ms here; the call's own end is 10 s away. A loaded CI machine
  // runs timers late, so the bound keeps a wide gap to both.
  expect(performance.now() - frozenAt).toBeLessThan(300 + 50 + 2000);
  await proxy.pass();
  const later = await callUnary(
    client,
    'GetItem',
    {},
    { timeoutMs: 5000, metadata: waitForReady() },
  );
  expect(later.status.code).toBe(Status.OK);
});

it('5. a silent TCP server: calls fail within connect timeout + 500 ms; a real server in its place then serves the same client', async () => {
  const silent = await startSilentServer();
  const client = loop.client(silent.address, {
    channelFactoryOverride: connectWatchdog(200),
    ...fastReconnect,
  });
  const stuck = await callUnary(client, 'GetItem', {}, { timeoutMs: 10_000 });
  expect(stuck.status.code).toBe(Status.UNAVAILABLE);
  expect(stuck.status.details).toBe('Channel closed before call started');
  expect(stuck.durationMs).toBeLessThan(200 + 2000); // the watchdog's 200 ms, not the 10 s deadline
  const { port } = silent;
  await silent.close();
  await loop.backend({ port });
  const served = await callUnary(
    client,
    'GetItem',
    {},
    { timeoutMs: 5000, metadata: waitForReady() },
  );
  expect(served.status.code).toBe(Status.OK);
});

it('6. a short max connection age: 1000 calls across 10+ GOAWAY cycles, no failure', async () => {
  const serverKeepalive = resolveServerKeepalive({
    maxConnectionAgeMs: 60,
    maxConnectionAgeGraceMs: 2000,
  });
  const backend = await loop.backend({
    serverOptions: serverKeepaliveOptions(serverKeepalive),
  });
  const client = loop.client(backend.address, fastReconnect);
  let started = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (started < 1000) {
        started++;
        const outcome = await callUnary(
          client,
          'GetItem',
          {},
          { timeoutMs: 5000, metadata: behaviourMetadata({ delayMs: 8 }) },
        );
        if (outcome.status.code !== Status.OK)
          failures.push(`${outcome.status.code} ${outcome.status.details}`);
      }
    }),
  );
  expect(failures).toEqual([]);
  expect(backend.counters.calls).toBe(1000);
  // Each connection the server aged out was replaced by a new one, from a new client port.
  expect(backend.counters.connections).toBeGreaterThanOrEqual(11);
});

describe('7. against a server that enforces its ping policy (as grpc-go and gRPC core do)', () => {
  // Every preset, client and server side scaled down 1000x so pings happen within the test.
  const SCALE = 1000;
  it.each(Object.keys(PRESETS) as PresetName[])('%s never draws too_many_pings', async (name) => {
    const { client: preset, server } = PRESETS[name];
    const enforcing = await startPingEnforcingServer({
      minPingIntervalMs: server.permit.minPingIntervalMs / SCALE,
      permitWithoutCalls: server.permit.permitWithoutCalls,
      responseDelayMs: 40,
    });
    loop.onClose(() => enforcing.close());
    const keepalive = resolveKeepalive({
      keepaliveTimeMs: Math.ceil(preset.keepaliveTimeMs / SCALE),
      keepaliveTimeoutMs: 1000,
      permitWithoutCalls: preset.permitWithoutCalls,
      server: {
        minPingIntervalMs: server.permit.minPingIntervalMs / SCALE,
        permitWithoutCalls: server.permit.permitWithoutCalls,
      },
    });
    const client = loop.client(enforcing.address, clientKeepaliveChannelOptions(keepalive));
    const until = Date.now() + 1200;
    while (Date.now() < until) await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 });
    expect(enforcing.pings).toBeGreaterThanOrEqual(3);
    expect(enforcing.tooManyPings).toBe(0);
  });

  it('a too-aggressive client is refused by validation before it connects; unvalidated, it is sent GOAWAY', async () => {
    const policy = { minPingIntervalMs: 300, permitWithoutCalls: false };
    expect(() => resolveKeepalive({ keepaliveTimeMs: 10, server: policy })).toThrow(ConfigError);
    // The same numbers without the check: the server does answer too_many_pings.
    const enforcing = await startPingEnforcingServer({ ...policy, responseDelayMs: 200 });
    loop.onClose(() => enforcing.close());
    const client = loop.client(enforcing.address, {
      'grpc.keepalive_time_ms': 10,
      'grpc.keepalive_timeout_ms': 1000,
    });
    await callUnary(client, 'GetItem', {}, { timeoutMs: 2000 });
    expect(enforcing.tooManyPings).toBeGreaterThanOrEqual(1);
  });
});
