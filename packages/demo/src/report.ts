import type { PhaseStats } from './stats';

export interface PhaseResult {
  name: string;
  /** What went wrong in both clusters during the phase. */
  fault: string;
  /** When the phase started, ms from the start of the run. */
  startMs: number;
  durationMs: number;
  layer: PhaseStats;
  plain: PhaseStats;
}

const COLUMNS = [
  'phase',
  'client',
  'calls',
  'ok %',
  'retries',
  'breaker opens',
  'server calls',
  'p50 ms',
  'p99 ms',
  'late',
  'share b0 b1 b2 %',
];

const SIDES = [
  ['layer', 'grpc-resilience'],
  ['plain', 'plain grpc-js'],
] as const;

/** The summary table: each phase, the layer and plain grpc-js side by side. */
export function renderTable(results: readonly PhaseResult[]): string {
  const rows: string[][] = [];
  for (const result of results) {
    for (const [side, label] of SIDES) {
      const stats = result[side];
      rows.push([
        side === 'layer' ? result.name : '',
        label,
        String(stats.calls),
        stats.successPercent.toFixed(1),
        side === 'layer' ? String(stats.retries) : '-',
        side === 'layer' ? String(stats.breakerOpens) : '-',
        String(stats.serverCalls),
        stats.percentile(50).toFixed(1),
        stats.percentile(99).toFixed(1),
        String(stats.outlivedDeadline),
        stats.share(['b0', 'b1', 'b2']),
      ]);
    }
  }
  const widths = COLUMNS.map((column, i) =>
    Math.max(column.length, ...rows.map((row) => row[i].length)),
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(COLUMNS), rule, ...rows.map(line)].join('\n');
}

/** Each phase's fault, and how every call that did not succeed ended, per client. */
export function renderOutcomes(results: readonly PhaseResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    lines.push(`${result.name} (${(result.durationMs / 1000).toFixed(1)} s): ${result.fault}`);
    for (const [side, label] of SIDES) {
      lines.push(`  ${label.padEnd(15)} failed: ${result[side].failures()}`);
    }
  }
  return lines.join('\n');
}

export const LEGEND = [
  'ok %: calls that succeeded with the reply to their request. retries: extra attempts the layer made',
  '(grpc-js does not report its own). server calls: attempts that reached a backend, both clients.',
  'late: calls that ended more than 50 ms after their deadline. share: where successful calls were served.',
].join('\n');
