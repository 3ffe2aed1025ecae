import * as grpc from '@grpc/grpc-js';
import {
  behaviourMetadata,
  callUnary,
  loopbackFixture,
  testServiceClient,
} from '@grpc-resilience/testing';
import { HistogramProducer } from '@grpc-resilience/metrics';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { createResilientClient, resilientOptions, resilientServerOptions } from './index';

/** Collects on demand, as an exporter would see it then. */
class CollectingReader extends MetricReader {
  constructor(metricProducers?: MetricProducer[]) {
    super({
      aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
      metricProducers,
    });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** How many values each instrument recorded: a counter's sum, a histogram's count. */
async function counts(reader: CollectingReader): Promise<Record<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const found: Record<string, number> = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      let total = 0;
      for (const point of metric.dataPoints) {
        total +=
          metric.dataPointType === DataPointType.HISTOGRAM
            ? (point.value as { count: number }).count
            : (point.value as number);
      }
      found[metric.descriptor.name] = total;
    }
  }
  return found;
}

const loop = loopbackFixture(afterEach);
const providers: MeterProvider[] = [];
afterEach(async () => {
  for (const provider of providers.splice(0)) await provider.shutdown();
});
function sdk(metricProducers?: MetricProducer[]) {
  const reader = new CollectingReader(metricProducers);
  const provider = new MeterProvider({ readers: [reader] });
  providers.push(provider);
  return { reader, provider };
}

it('the factories put call metrics outside the retry and attempt metrics inside it', async () => {
  const client = sdk();
  const server = sdk();
  const backend = await loop.backend({
    serverOptions: resilientServerOptions({ metrics: { meterProvider: server.provider } }),
  });
  const caller = loop.keep(
    createResilientClient(testServiceClient(), backend.address, {
      metrics: { meterProvider: client.provider },
    }),
  );
  // GetItem is idempotent: the first attempt fails UNAVAILABLE, the retry succeeds.
  const metadata = behaviourMetadata({
    callId: 'c1',
    failCode: grpc.status.UNAVAILABLE,
    failAttempts: 1,
  });
  const outcome = await callUnary(caller, 'GetItem', {}, { metadata, timeoutMs: 5000 });
  expect(outcome.status.code).toBe(grpc.status.OK);
  expect(backend.counters.attemptsOf('c1')).toBe(2);

  const seen = await counts(client.reader);
  expect(seen['grpc.client.call.duration']).toBe(1); // one logical call
  expect(seen['grpc.client.attempt.started']).toBe(2); // two attempts, each seen innermost
  expect(seen['grpc.client.attempt.duration']).toBe(2);
  expect(seen['grpc.client.call.retries']).toBe(1); // A96: the retries of one call
  const served = await counts(server.reader);
  expect(served['grpc.server.call.started']).toBe(2);
  expect(served['grpc.server.call.duration']).toBe(2);
});

it('with no meter provider, or metrics: false, nothing is added to the call path', () => {
  const plain = resilientOptions({ metrics: false, tracing: false }).interceptors!.length;
  expect(resilientOptions().interceptors!.length).toBe(plain); // none registered in this process
  const { provider } = sdk();
  expect(resilientOptions({ metrics: { meterProvider: provider } }).interceptors!.length).toBe(
    plain + 2,
  );
  expect(resilientServerOptions().interceptors!.length).toBe(
    resilientServerOptions({ metrics: false, tracing: false }).interceptors!.length,
  );
});

it('a bad metrics option is a ConfigError naming it', () => {
  expect(() => resilientOptions({ metrics: { maxMethods: -1 } })).toThrow(/metrics\.maxMethods/);
  expect(() => resilientOptions({ metrics: 'on' as never })).toThrow(/metrics/);
});

it('metrics.disabledMetrics reaches the instruments through the factory', async () => {
  const client = sdk();
  const backend = await loop.backend();
  const caller = loop.keep(
    createResilientClient(testServiceClient(), backend.address, {
      metrics: {
        meterProvider: client.provider,
        disabledMetrics: ['grpc.client.attempt.sent_total_compressed_message_size'],
      },
    }),
  );
  expect((await callUnary(caller, 'GetItem', {}, { timeoutMs: 5000 })).status.code).toBe(0);
  const seen = await counts(client.reader);
  expect(seen['grpc.client.attempt.sent_total_compressed_message_size']).toBeUndefined();
  expect(seen['grpc.client.attempt.rcvd_total_compressed_message_size']).toBe(1);
});

it("a HistogramProducer used for the provider takes the factories' histograms off the SDK", async () => {
  const producer = new HistogramProducer();
  const client = sdk([producer]);
  producer.useFor(client.provider);
  const backend = await loop.backend({
    serverOptions: resilientServerOptions({ metrics: { meterProvider: client.provider } }),
  });
  const caller = loop.keep(
    createResilientClient(testServiceClient(), backend.address, {
      metrics: { meterProvider: client.provider },
    }),
  );
  expect((await callUnary(caller, 'GetItem', {}, { timeoutMs: 5000 })).status.code).toBe(0);

  const seen = await counts(client.reader);
  expect(seen['grpc.client.call.duration']).toBe(1);
  expect(seen['grpc.client.attempt.duration']).toBe(1);
  expect(seen['grpc.server.call.duration']).toBe(1);
  // Every histogram the reader saw came from the producer, none from the SDK's own storage.
  const fromProducer = new Set<string>();
  for (const scope of (await producer.collect()).resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) fromProducer.add(metric.descriptor.name);
  }
  const { resourceMetrics } = await client.reader.collect();
  const histograms = resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.dataPointType === DataPointType.HISTOGRAM)
    .map((metric) => metric.descriptor.name);
  expect(histograms.length).toBeGreaterThan(0);
  expect(new Set(histograms)).toEqual(fromProducer);
  expect(histograms.length).toBe(fromProducer.size); // each once: not also aggregated by the SDK
});
