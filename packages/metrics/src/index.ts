export { createClientMetrics, type ClientMetrics } from './client-metrics';
export { createServerMetrics, type ServerMetricsOptions } from './server-metrics-factory';
export {
  resolveMetricsOptions,
  canonicalTarget,
  type MetricsOptions,
  type ResolvedMetricsOptions,
} from './options';
export { BREAKER_STATES, type BreakerStateChange, type ObservableBreaker } from './breaker-states';
export { type ObservableBudget } from './budget-balances';
export { OTHER } from './attributes';
export {
  INSTRUMENTS,
  METER_NAME,
  OWN_PREFIX,
  LATENCY_BUCKETS_S,
  SIZE_BUCKETS_BYTES,
  RETRY_BUCKETS,
  TRANSPARENT_RETRY_BUCKETS,
  HEADROOM_BUCKETS,
  ATTR_METHOD,
  ATTR_STATUS,
  ATTR_TARGET,
  ATTR_REASON,
  ATTR_CIRCUIT,
  ATTR_STATE,
  ATTR_OUTCOME,
  type InstrumentSpec,
} from './names';
export { prometheusViews, type PrometheusView } from './prometheus-views';
export {
  HistogramProducer,
  type HistogramProducerOptions,
  type ProducedMetrics,
  type ProducedHistogram,
  type ProducedHistogramPoint,
} from './histogram-producer';
export { createClientTracing, type ClientTracing } from './client-tracing';
export { createServerTracing } from './server-tracing';
export { type TracingOptions } from './tracing-options';
export { metadataGetter, metadataSetter } from './trace-carrier';
