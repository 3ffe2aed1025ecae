import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { HistogramProducer, prometheusViews } from '@grpc-resilience/metrics';
import { integerOption } from '@grpc-resilience/status';

/**
 * Where the demo serves `/metrics` by default: 9464, the port `@opentelemetry/exporter-prometheus`
 * itself defaults to, so a scrape config written for that exporter finds the demo.
 */
export const DEFAULT_METRICS_PORT = 9464;

/** The environment variable `npm run demo` reads its metrics port from (a flag overrides it). */
export const METRICS_PORT_ENV = 'DEMO_METRICS_PORT';

/** The demo's Prometheus endpoint, and the provider behind it. */
export interface MetricsEndpoint {
  /** `http://127.0.0.1:<port>/metrics` */
  readonly url: string;
  /** The port asked for, when it was taken and the endpoint moved to a free one instead. */
  readonly busyPort?: number;
  /** The reader the layer's figures are collected from: the same one every scrape reads. */
  readonly exporter: PrometheusExporter;
  /** Unregisters the provider, shuts it down and closes the endpoint. */
  close(): Promise<void>;
}

/**
 * Registers a MeterProvider with the Prometheus exporter, a `HistogramProducer` and
 * `prometheusViews()` as the global one (the metrics package's documented setup, what an
 * application does once at start, before it builds clients and servers: the layer then records
 * with no config of its own, its histograms kept in the layer off the SDK's record path), and serves the exporter's `/metrics` on 127.0.0.1.
 * `port` 0 takes any free port; a port already in use falls back to a free one, said in
 * `busyPort`, so a second demo or a local Prometheus on 9464 does not stop the run.
 */
export async function startMetricsEndpoint(port: number): Promise<MetricsEndpoint> {
  const asked = integerOption('metricsPort', port, DEFAULT_METRICS_PORT, { min: 0, max: 65_535 });
  // The exporter's own server would listen on every interface: the demo serves loopback only.
  const histograms = new HistogramProducer({ prometheusNames: true });
  const exporter = new PrometheusExporter({
    preventServerStart: true,
    metricProducers: [histograms],
  });
  const provider = new MeterProvider({ readers: [exporter], views: prometheusViews() });
  histograms.useFor(provider); // before any client or server is built on it
  if (!metrics.setGlobalMeterProvider(provider)) {
    await provider.shutdown();
    // Its figures would come from a provider the layer does not record into.
    throw new Error(
      'another OpenTelemetry MeterProvider is registered: the demo registers its own',
    );
  }
  const server = http.createServer((request, response) => {
    if (request.url?.split('?')[0] === '/metrics') {
      exporter.getMetricsRequestHandler(request, response);
    } else {
      response.statusCode = 404;
      response.end('the metrics are at /metrics\n');
    }
  });
  let bound: number;
  try {
    bound = await listen(server, asked).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE' || asked === 0) throw error;
      return listen(server, 0);
    });
  } catch (error) {
    metrics.disable();
    await provider.shutdown();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${bound}/metrics`,
    busyPort: bound === asked || asked === 0 ? undefined : asked,
    exporter,
    close: async () => {
      metrics.disable();
      await provider.shutdown();
      await new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections(); // a scraper's kept-alive connection must not hold the run open
      });
    },
  };
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
