/**
 * The SDK suites again, with the layer's histograms aggregated in a `HistogramProducer` handed
 * to the reader instead of the SDK's synchronous histograms: the same names, units, attributes,
 * buckets and counts, or these fail. Each suite runs inside its own describe block, so its
 * hooks stay its own.
 */
import { aggregateHistogramsInLayer } from './sdk-reader.test.helper';

aggregateHistogramsInLayer();

/* eslint-disable @typescript-eslint/no-require-imports */
describe('client metrics', () => void require('./client-metrics.loopback.test'));
describe('server metrics', () => void require('./server-metrics.loopback.test'));
describe('the call path', () => void require('./call-path.loopback.test'));
describe('retry budget metrics', () => void require('./retry-budget-metrics.loopback.test'));
