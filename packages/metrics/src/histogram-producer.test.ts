import { ConfigError } from '@grpc-resilience/status';
import type { Histogram } from '@opentelemetry/api';
import { INSTRUMENTS, METER_NAME, createClientMetrics } from './index';
import { HistogramProducer } from './histogram-producer';
import { startSdkMetrics, type Series } from './sdk-reader.test.helper';

const spec = INSTRUMENTS.callDuration;
// Boundaries themselves (upper bounds are inclusive), between them, below and above all, and
// what a histogram drops (negative, NaN).
const VALUES = [0, 0.00001, 0.000011, 0.5, 1, 1.5, 100, 1000, 5, 0.0000099, -1, NaN, 0.3];

/** Records VALUES under two attribute sets, the second given as two objects of equal contents. */
function recordAll(histogram: Histogram) {
  const first = Object.freeze({ 'grpc.method': 'a/B', 'grpc.status': 'OK' });
  const second = Object.freeze({ 'grpc.method': 'a/C', 'grpc.status': 'UNAVAILABLE' });
  const sameContents = { 'grpc.status': 'UNAVAILABLE', 'grpc.method': 'a/C' };
  VALUES.forEach((value, i) => {
    histogram.record(value, first);
    histogram.record(value * 2, i % 2 === 0 ? second : sameContents);
  });
}

const byAttributes = (series: Series[]) =>
  [...series].sort((a, b) =>
    JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)),
  );

test("the same values give the SDK's histogram points: buckets, count, sum, min, max", async () => {
  const sdk = startSdkMetrics('sdk');
  const layer = startSdkMetrics('layer');
  try {
    const meter = sdk.provider.getMeter(METER_NAME);
    recordAll(
      meter.createHistogram(spec.name, {
        unit: spec.unit,
        advice: { explicitBucketBoundaries: [...spec.buckets!] },
      }),
    );
    recordAll(layer.producer!.histogram({ ...spec, buckets: spec.buckets! }));
    const [fromSdk, fromLayer] = [await sdk.collect(), await layer.collect()];
    expect(fromLayer.unit(spec.name)).toBe('s');
    const expected = byAttributes(fromSdk.series(spec.name));
    expect(expected).toHaveLength(2);
    expect(byAttributes(fromLayer.series(spec.name))).toEqual(expected);
  } finally {
    await Promise.all([sdk.shutdown(), layer.shutdown()]);
  }
});

test('with prometheusNames, the names prometheusViews() gives the SDK instruments', async () => {
  const producer = new HistogramProducer({ prometheusNames: true });
  producer.histogram({ ...spec, buckets: spec.buckets! }).record(0.1);
  producer.histogram({ ...INSTRUMENTS.retries, buckets: INSTRUMENTS.retries.buckets! }).record(1);
  const { scopeMetrics } = (await producer.collect()).resourceMetrics;
  expect(scopeMetrics.flatMap((scope) => scope.metrics.map((m) => m.descriptor.name))).toEqual([
    'grpc.client.call.duration_seconds',
    'grpc.client.call.retries', // `{retry}` adds no suffix
  ]);
});

test('a producer serves a provider from before its first client, and only one producer', async () => {
  const sdk = startSdkMetrics('sdk');
  try {
    createClientMetrics({ meterProvider: sdk.provider });
    expect(() => new HistogramProducer().useFor(sdk.provider)).toThrow(
      /histogramProducer\.useFor must be called before any client or server records/,
    );
    const other = startSdkMetrics('layer');
    expect(() => new HistogramProducer().useFor(other.provider)).toThrow(ConfigError);
    await other.shutdown();
    expect(() => new HistogramProducer().useFor({} as never)).toThrow(ConfigError);
    expect(() => new HistogramProducer({ prometheusNames: 'yes' as never })).toThrow(
      /histogramProducer\.prometheusNames must be a boolean, received/,
    );
  } finally {
    await sdk.shutdown();
  }
});
