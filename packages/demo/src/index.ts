export { runDemo, type DemoOptions, type DemoRun } from './run-demo';
export {
  renderTable,
  renderOutcomes,
  layerSuccessPercent,
  LEGEND,
  type PhaseResult,
} from './report';
export { LayerFigures } from './layer-figures';
export {
  DEFAULT_METRICS_PORT,
  METRICS_PORT_ENV,
  startMetricsEndpoint,
  type MetricsEndpoint,
} from './metrics-endpoint';
export { PhaseStats, Timeline, type TimelineSecond } from './stats';
export { Cluster } from './cluster';
export { demoPhases, type Phase } from './phases';
export {
  KEEPALIVE_PRESET,
  LAYER_CONFIG,
  PLAIN_SERVICE_CONFIG,
  describeConfigs,
  keepaliveChannelOptions,
  plainChannelOptions,
} from './configs';
export { renderSvg, type ChartInput } from './svg';
export {
  DEFAULT_RESULTS_DIR,
  renderHeader,
  renderReport,
  renderSummary,
  writeResults,
} from './results';
