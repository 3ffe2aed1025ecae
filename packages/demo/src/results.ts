import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeConfigs } from './configs';
import { LEGEND, renderOutcomes, renderTable } from './report';
import type { DemoRun } from './run-demo';
import { renderSvg } from './svg';

/** Where `npm run demo` writes by default: packages/demo/results (from dist/ or src/). */
export const DEFAULT_RESULTS_DIR = path.resolve(__dirname, '../results');

/** The run's header: its pace and both clients' configs. */
export function renderHeader(callsPerSecond: number, deadlineMs: number): string {
  return [
    `grpc-resilience demo: two clusters of 3 backends on 127.0.0.1, each backend behind a chaos proxy;`,
    `${callsPerSecond} GetItem calls/s through each client, the same faults injected in both clusters.`,
    '',
    describeConfigs(deadlineMs),
  ].join('\n');
}

/** The run's results: the table, its legend, and how the failed calls ended. */
export function renderSummary(run: DemoRun): string {
  const seconds = run.phases.reduce((sum, p) => sum + p.durationMs, 0) / 1000;
  return [
    `${run.phases.length} phases, ${seconds.toFixed(0)} s of traffic:`,
    '',
    renderTable(run.phases),
    '',
    LEGEND,
    '',
    'Faults, and how the calls that failed ended:',
    renderOutcomes(run.phases),
    '',
  ].join('\n');
}

/** The whole report of a run, as written to demo-output.txt: the header, then the summary. */
export function renderReport(run: DemoRun, callsPerSecond: number, deadlineMs: number): string {
  return `${renderHeader(callsPerSecond, deadlineMs)}\n\n${renderSummary(run)}`;
}

/** Writes demo-output.txt and demo.svg into `dir`; returns their paths. */
export function writeResults(
  dir: string,
  run: DemoRun,
  callsPerSecond: number,
  deadlineMs: number,
): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const text = path.join(dir, 'demo-output.txt');
  const svg = path.join(dir, 'demo.svg');
  fs.writeFileSync(text, renderReport(run, callsPerSecond, deadlineMs));
  fs.writeFileSync(
    svg,
    renderSvg({
      title: `Success rate per second: grpc-resilience (defaults) vs plain grpc-js (same keepalive, own retries and outlier detection)`,
      phases: run.phases,
      layer: run.timeline.layer.successPercent(),
      plain: run.timeline.plain.successPercent(),
    }),
  );
  return [text, svg];
}
