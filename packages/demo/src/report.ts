import type { LayerFigures } from './layer-figures';
import type { PhaseStats } from './stats';

export interface PhaseResult {
  name: string;
  /** What went wrong in both clusters during the phase. */
  fault: string;
  /** When the phase started, ms from the start of the run. */
  startMs: number;
  durationMs: number;
  /** What the demo saw of each client's calls (the plain client's figures are all from here). */
  layer: PhaseStats;
  plain: PhaseStats;
  /** The layer's figures over the phase, read from its metrics: what `/metrics` shows. */
  layerMetrics: LayerFigures;
}

/**
 * The layer's success rate in a phase: the calls its metrics saw end OK, less any OK call whose
 * reply the demo found wrong (the metrics see statuses, not replies; there has never been one).
 */
export function layerSuccessPercent(result: PhaseResult): number {
  const { calls, ok } = result.layerMetrics;
  return calls === 0 ? 100 : (100 * (ok - result.layer.wrongReplies)) / calls;
}

const COLUMNS = [
  'phase',
  'client',
  'calls',
  'ok %',
  'retries',
  'refused',
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
      // The layer's counts come from its metrics; grpc-js has none, so the demo counts its own.
      const counts =
        side === 'layer'
          ? [
              result.layerMetrics.calls,
              layerSuccessPercent(result).toFixed(1),
              result.layerMetrics.retries,
              result.layerMetrics.refused,
              result.layerMetrics.breakerOpens,
              result.layerMetrics.serverCalls,
            ]
          : [stats.calls, stats.successPercent.toFixed(1), '-', '-', '-', stats.serverCalls];
      rows.push([
        side === 'layer' ? result.name : '',
        label,
        ...counts.map(String),
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
    lines.push(`  ${'grpc-resilience'.padEnd(15)} failed: ${layerFailures(result)}`);
    lines.push(`  ${'plain grpc-js'.padEnd(15)} failed: ${result.plain.failures()}`);
  }
  return lines.join('\n');
}

/**
 * How the layer's failed calls ended, from its metrics: by status, then the calls it refused
 * itself and the failures it did not retry, by the layer's reason; e.g. `UNAVAILABLE 499;
 * refused: circuit-open 393, throttled 70; not retried: budget 12`.
 */
function layerFailures(result: PhaseResult): string {
  const figures = result.layerMetrics;
  const list = (entries: [string, number][]) => entries.map(([k, n]) => `${k} ${n}`).join(', ');
  const parts = [list(figures.byStatus().filter(([code]) => code !== 'OK'))];
  if (result.layer.wrongReplies > 0)
    parts.push(`OK with a wrong reply ${result.layer.wrongReplies}`);
  const refused = figures.refusedBy();
  if (refused.length > 0) parts.push(`refused: ${list(refused)}`);
  const stopped = figures.retryStoppedBy();
  if (stopped.length > 0) parts.push(`not retried: ${list(stopped)}`);
  return parts.filter((part) => part !== '').join('; ') || '-';
}

export const LEGEND = [
  'ok %: calls that succeeded with the reply to their request. retries: retries the layer sent (a retry',
  'its throttle or open circuit refused is not one; grpc-js does not report its own). refused: calls the',
  'layer ended without sending them, by reason under "Faults" below. server calls:',
  'attempts that reached a backend. late: calls that ended more than 50 ms after their deadline. share:',
  "where successful calls were served. The layer's calls, ok %, retries, refused, breaker opens, server",
  "calls and failures are read from its metrics (what /metrics showed at the phase's end, less what it",
  "showed at its start); its p50, p99, late and share, and every plain grpc-js figure, are the demo's",
  'own count: plain grpc-js has no metrics at all.',
].join('\n');
