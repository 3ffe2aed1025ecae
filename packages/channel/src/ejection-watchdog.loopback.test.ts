import { connectivityState as ConnectivityState, status as Status } from '@grpc/grpc-js';
import {
  callUnary,
  loopbackFixture,
  testServiceClient,
  waitUntil,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { createResilientClient } from './client-factory';

const loop = loopbackFixture(afterEach);

// The ejection lasts 6.4 to 9.6 s (±20% jitter); the replacement below takes under a second
// here. Long enough to be still in force after it on a loaded machine, short enough to wait out.
const EJECTION_MS = 8000;
const CONNECT_TIMEOUT_MS = 300;

/** One GetItem call's status code. */
async function callCode(client: TestServiceClient): Promise<Status> {
  return (await callUnary(client, 'GetItem', {}, { timeoutMs: 5000 })).status.code;
}

it("an ejection holds across the connect watchdog's fresh channel, and ends through its probe there", async () => {
  const [healthy, sick] = await Promise.all([
    loop.backend({ name: 'healthy' }),
    loop.backend({ name: 'sick' }),
  ]);
  // Proxies, to hold new connections in CONNECTING (a peer that accepts TCP and never speaks).
  const proxies = await Promise.all([loop.proxy(healthy.address), loop.proxy(sick.address)]);
  const client = loop.keep(
    createResilientClient(
      testServiceClient(),
      proxies.map((p) => p.address),
      {
        retry: false,
        breaker: false,
        keepalive: { connectTimeoutMs: CONNECT_TIMEOUT_MS },
        loadBalancing: {
          // p2c picks the cheaper of the two for each call one at a time: after the sick one's
          // first failure, if that answer was slower than the healthy one's mean, it gets no
          // call until its estimate decays. A short decay makes that milliseconds, not seconds.
          decayMs: 100,
          ejection: {
            consecutiveFailures: 2,
            baseEjectionMs: EJECTION_MS,
            maxEjectionMs: EJECTION_MS,
          },
        },
      },
    ),
  );
  sick.behaviour = { failCode: Status.UNAVAILABLE };
  for (let i = 0; i < 2000 && sick.counters.calls < 2; i++) await callCode(client);
  expect(sick.counters.calls).toBe(2); // ejected after its second failure in a row
  const ejectedAt = Date.now();

  // Every connection reset, and the new ones held: the channel sits in CONNECTING until the
  // watchdog gives it up, failing the call queued on it, and opens a fresh grpc-js channel.
  for (const proxy of proxies) {
    await proxy.reset();
    await proxy.freeze();
  }
  const channel = client.getChannel();
  await waitUntil(() => channel.getConnectivityState(false) === ConnectivityState.CONNECTING, {
    timeoutMs: 5000,
  });
  const queued = await callUnary(client, 'GetItem', {}, { timeoutMs: 5000 });
  expect(queued.status).toMatchObject({
    code: Status.UNAVAILABLE,
    details: 'Channel closed before call started',
  });
  for (const proxy of proxies) await proxy.pass();

  // The fresh channel's balancer remembers: the sick endpoint gets nothing.
  healthy.counters.reset();
  for (let i = 0; i < 20; i++) expect(await callCode(client)).toBe(Status.OK);
  expect(Date.now() - ejectedAt).toBeLessThan(0.8 * EJECTION_MS); // so it is still in force
  expect(sick.counters.calls).toBe(2);
  expect(healthy.counters.calls).toBe(20);

  // Healed, it comes back through the probe its ejection ends with, on the fresh channel.
  sick.behaviour = {};
  const until = ejectedAt + 1.2 * EJECTION_MS + 5000;
  while (sick.counters.calls === 2 && Date.now() < until) {
    expect(await callCode(client)).toBe(Status.OK);
    await new Promise((resolve) => setTimeout(resolve, 20)); // a call every 20 ms, not a spin
  }
  expect(sick.counters.calls).toBe(3); // the probe
  sick.counters.reset();
  const batch = await Promise.all(Array.from({ length: 20 }, () => callCode(client)));
  expect(batch).toEqual(Array(20).fill(Status.OK));
  expect(sick.counters.calls).toBeGreaterThan(0); // readmitted: p2c spreads a batch over both
}, 40_000);
