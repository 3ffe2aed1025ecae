export { runDemo, type DemoOptions } from './run-demo';
export { renderTable, LEGEND, type PhaseResult } from './report';
export { PhaseStats } from './stats';
export { Cluster } from './cluster';
