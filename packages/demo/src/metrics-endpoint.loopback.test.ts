import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServerMetrics } from '@grpc-resilience/metrics';
import { ConfigError } from '@grpc-resilience/status';
import { startMetricsEndpoint, type MetricsEndpoint } from './index';
import { scrape } from '@grpc-resilience/testing';

let taken: http.Server | undefined;
let endpoint: MetricsEndpoint | undefined;

afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
  await new Promise((resolve) => (taken ? taken.close(resolve) : resolve(undefined)));
  taken = undefined;
});

it('moves to a free port when the one asked for is taken, says so, and serves /metrics there', async () => {
  taken = http.createServer();
  await new Promise<void>((resolve) => taken!.listen(0, '127.0.0.1', resolve));
  const busy = (taken.address() as AddressInfo).port;
  endpoint = await startMetricsEndpoint(busy);
  expect(endpoint.busyPort).toBe(busy);
  expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  expect(endpoint.url).not.toContain(`:${busy}/`);
  // Registered: the layer's server metrics record into it, and a scrape shows their series.
  const server = createServerMetrics();
  expect(server).toBeDefined();
  expect(await scrape(endpoint.url)).toContain('# HELP target_info');
  await expect(scrape(endpoint.url.replace('/metrics', '/other'))).rejects.toThrow(/404/);

  // Closed: unregistered, so the layer adds nothing again.
  await endpoint.close();
  endpoint = undefined;
  expect(createServerMetrics()).toBeUndefined();
});

it('takes the port asked for when it is free, and reports no move', async () => {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const free = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  endpoint = await startMetricsEndpoint(free);
  expect(endpoint.busyPort).toBeUndefined();
  expect(endpoint.url).toBe(`http://127.0.0.1:${free}/metrics`);
});

it('refuses a port that is not one, naming the option, and registers nothing', async () => {
  for (const port of [-1, 65_536, 1.5, Number.NaN]) {
    await expect(startMetricsEndpoint(port)).rejects.toThrow(ConfigError);
  }
  await expect(startMetricsEndpoint(70_000)).rejects.toThrow(
    'metricsPort must be an integer from 0 to 65535, received 70000',
  );
  expect(createServerMetrics()).toBeUndefined();
});
