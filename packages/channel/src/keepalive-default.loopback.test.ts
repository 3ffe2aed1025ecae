import * as grpc from '@grpc/grpc-js';
import { STRICTEST_SERVER_POLICY, resolveKeepalive } from '@grpc-resilience/keepalive';
import {
  behaviourMetadata,
  callServerStream,
  loopbackFixture,
  startPingEnforcingServer,
  testServiceClient,
  type PingEnforcingServer,
} from '@grpc-resilience/testing';
import { circuitBreakerOf, createResilientClient } from './index';

/**
 * The reported failure, scaled down 1000x: a grpc-go server at its default enforcement (MinTime
 * 5 min -> 300 ms, 2 strikes) and a server stream that stays quiet for 150 s -> 1500 ms.
 */
const SCALE = 1000;
const QUIET_MS = 1500;
const TestService = testServiceClient();
const loop = loopbackFixture(afterEach);
let enforcing: PingEnforcingServer;
beforeEach(async () => {
  enforcing = await startPingEnforcingServer({
    minPingIntervalMs: STRICTEST_SERVER_POLICY.minPingIntervalMs / SCALE,
  });
  loop.onClose(() => enforcing.close());
});

/** Client keepalive scaled down like the server; the rest of the config stays at its defaults. */
function scaled(keepalive: ReturnType<typeof resolveKeepalive>) {
  return {
    keepaliveTimeMs: Math.ceil(keepalive.keepaliveTimeMs / SCALE),
    keepaliveTimeoutMs: 1000,
    server: {
      minPingIntervalMs: keepalive.server.minPingIntervalMs / SCALE,
      permitWithoutCalls: keepalive.server.permitWithoutCalls,
    },
  };
}
const quietStream = (client: grpc.Client) =>
  callServerStream(
    client as never,
    'ListItems',
    {},
    {
      timeoutMs: 10_000,
      metadata: behaviourMetadata({ delayMs: QUIET_MS, messages: 2 }),
    },
  );

it('with defaults, a server stream quiet past the enforcement window draws no GOAWAY and ends when the server ends it', async () => {
  // The default, undeclared server: what createResilientClient resolves with no keepalive config.
  const defaults = resolveKeepalive(undefined);
  expect(defaults.keepaliveTimeMs).toBeGreaterThanOrEqual(330_000);
  const client = loop.keep(
    createResilientClient(TestService, enforcing.address, { keepalive: scaled(defaults) }),
  );
  const outcome = await quietStream(client);
  expect(outcome.status.code).toBe(grpc.status.OK);
  expect(outcome.messages).toHaveLength(2);
  expect(outcome.durationMs).toBeGreaterThanOrEqual(QUIET_MS);
  // The client did ping while the stream was quiet, within what the server permits.
  expect(enforcing.pings).toBeGreaterThanOrEqual(3);
  expect(enforcing.tooManyPings).toBe(0);
  expect(enforcing.calls).toBe(1);
});

it('a client declared wrongly (grpc-resilience, 30 s pings) draws GOAWAY: not retried, not counted by the breaker', async () => {
  const wrong = scaled(resolveKeepalive({ server: 'grpc-resilience' }));
  // More failures than the breaker's default consecutiveFailures (5): it must stay closed.
  for (let i = 1; i <= 6; i++) {
    // A fresh client, hence a fresh connection: grpc-js doubles the ping interval of a
    // connection's subchannel after each too_many_pings. Clients of one target share the breaker.
    const client = loop.keep(
      createResilientClient(TestService, enforcing.address, { keepalive: wrong }),
    );
    const outcome = await quietStream(client);
    expect(outcome.status).toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: 'Bandwidth exhausted or memory limit exceeded',
    });
    expect(outcome.durationMs).toBeLessThan(QUIET_MS);
    // One attempt per call (ListItems is NO_SIDE_EFFECTS, so a sick server would be retried).
    expect(enforcing.calls).toBe(i);
    expect(enforcing.tooManyPings).toBe(i);
    expect(outcome.status.metadata.get('grpc-resilience-attempts')).toEqual([]);
    expect(circuitBreakerOf(client)!.stateOf()).toBe('closed');
    client.close();
  }
});
