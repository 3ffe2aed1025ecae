import type { PhaseStats } from './stats';

export interface PhaseResult {
  name: string;
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

/** The summary table: each phase, the layer and plain grpc-js side by side. */
export function renderTable(results: readonly PhaseResult[]): string {
  const rows: string[][] = [];
  for (const { name, layer, plain } of results) {
    for (const [label, stats] of [
      ['layer', layer],
      ['plain', plain],
    ] as const) {
      rows.push([
        label === 'layer' ? name : '',
        label === 'layer' ? 'grpc-resilience' : 'plain grpc-js',
        String(stats.calls),
        stats.successPercent.toFixed(1),
        String(stats.retries),
        label === 'layer' ? String(stats.breakerOpens) : '-',
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

export const LEGEND = [
  'ok %: calls that succeeded. retries: extra attempts the layer made. server calls: attempts that reached a backend.',
  'late: calls that ended more than 50 ms after their deadline. share: where successful calls were served.',
].join('\n');
