import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import { createCircuitBreakerInterceptor } from '@grpc-resilience/circuit-breaker';
import { createDeadlineInterceptor } from '@grpc-resilience/deadline';
import { createRetryInterceptor } from '@grpc-resilience/retry';
import { methodsFromService } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callUnary,
  createTestClient,
  promtool,
  scrape,
  startTestBackend,
  testServiceClient,
  type TestBackend,
} from '@grpc-resilience/testing';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  HistogramProducer,
  createClientMetrics,
  createServerMetrics,
  prometheusViews,
} from './index';

let backend: TestBackend;
let provider: MeterProvider;
let endpoint: http.Server;

afterEach(async () => {
  backend?.kill();
  await provider?.shutdown();
  await new Promise((resolve) => endpoint?.close(resolve));
});

/** A `/metrics` endpoint on a free loopback port, served by the exporter's own handler. */
async function startEndpoint(exporter: PrometheusExporter): Promise<string> {
  endpoint = http.createServer((request, response) =>
    exporter.getMetricsRequestHandler(request, response),
  );
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/metrics`;
}

// The histograms recorded by the SDK's instruments, or aggregated in the layer and handed to the
// exporter by a HistogramProducer: the same scrape either way.
test.each(['sdk', 'layer'])(
  'a scrape of the Prometheus endpoint has the usual names and passes promtool check metrics (%s histograms)',
  async (mode) => {
    const producer =
      mode === 'layer' ? new HistogramProducer({ prometheusNames: true }) : undefined;
    const exporter = new PrometheusExporter({
      preventServerStart: true,
      metricProducers: producer ? [producer] : [],
    });
    provider = new MeterProvider({ readers: [exporter], views: prometheusViews() });
    producer?.useFor(provider);
    const server = createServerMetrics({ meterProvider: provider })!;
    backend = await startTestBackend({ serverOptions: { interceptors: [server.interceptor] } });
    const metrics = createClientMetrics({ meterProvider: provider, target: backend.address })!;
    const breaker = createCircuitBreakerInterceptor({ target: 'backend', consecutiveFailures: 1 });
    metrics.watchBreaker(breaker);
    const client = createTestClient(backend.address, {
      interceptors: [
        metrics.callInterceptor,
        createDeadlineInterceptor(),
        createRetryInterceptor({
          methods: methodsFromService(testServiceClient().service),
          initialBackoffMs: 5,
          maxBackoffMs: 5,
        }),
        breaker.interceptor,
        metrics.attemptInterceptor,
      ],
    });
    try {
      expect((await callUnary(client, 'GetItem', { id: 'a' })).status.code).toBe(Status.OK);
      const retried = behaviourMetadata({ callId: 'r', failCode: Status.ABORTED, failAttempts: 1 });
      expect(
        (await callUnary(client, 'GetItem', { id: 'r' }, { metadata: retried })).status.code,
      ).toBe(Status.OK);
      const failing = behaviourMetadata({ failCode: Status.UNAVAILABLE });
      await callUnary(client, 'Charge', {}, { metadata: failing }); // opens the circuit
      await callUnary(client, 'Charge', {}); // refused
    } finally {
      client.close();
    }

    const text = await scrape(await startEndpoint(exporter));
    const method = 'grpc_method="grpc_resilience.test.v1.TestService/GetItem"';
    const target = `grpc_target="dns:///${backend.address}"`;
    const names = new Set(
      text
        .split('\n')
        .filter((line) => line.startsWith('# TYPE '))
        .map((line) => line.split(' ')[2]),
    );
    expect([...names].sort()).toEqual(
      [
        'grpc_client_attempt_duration_seconds',
        'grpc_client_attempt_rcvd_total_compressed_message_size_bytes',
        'grpc_client_attempt_sent_total_compressed_message_size_bytes',
        'grpc_client_attempt_started_total',
        'grpc_client_call_duration_seconds',
        'grpc_client_call_retries',
        'grpc_client_call_retry_delay_seconds',
        'grpc_resilience_client_breaker_state',
        'grpc_resilience_client_breaker_transitions_total',
        'grpc_resilience_client_call_refused_total',
        'grpc_resilience_client_deadline_headroom_ratio',
        'grpc_resilience_client_retry_stopped_total',
        'grpc_server_call_duration_seconds',
        'grpc_server_call_rcvd_total_compressed_message_size_bytes',
        'grpc_server_call_sent_total_compressed_message_size_bytes',
        'grpc_server_call_started_total',
        'grpc_resilience_server_deadline_remaining_seconds',
        'target_info',
      ].sort(),
    );
    expect(text).toContain(`grpc_client_attempt_started_total{${method},${target}`);
    expect(text).toMatch(
      new RegExp(
        `grpc_client_call_duration_seconds_count\\{${method},${target},grpc_status="OK"[^}]*\\} 2`,
      ),
    );
    expect(text).toMatch(
      /grpc_resilience_client_breaker_state\{[^}]*grpc_resilience_state="open"[^}]*\} 1/,
    );
    expect(text).toMatch(
      /grpc_resilience_client_call_refused_total\{[^}]*grpc_resilience_reason="circuit-open"[^}]*\} 1/,
    );

    const checked = await promtool(['check', 'metrics'], text);
    expect({ code: checked.code, problems: checked.stdout + checked.stderr }).toEqual({
      code: 0,
      problems: '',
    });
  },
);
