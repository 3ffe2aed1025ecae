import type { E2eResult } from './e2e';
import type { InprocResult } from './inproc';
import { percentile } from './measure';
import type { ScenarioRow } from './resilience';

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((row) => row.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

const f = (value: number, digits = 1) => value.toFixed(digits);
const range = (r: { median: number; min: number; max: number }) =>
  `${f(r.median, 3)} (${f(r.min, 3)}-${f(r.max, 3)})`;

export function inprocTable(results: InprocResult[]): string {
  return table(
    ['in-process (stub channel)', 'client CPU µs/call', 'added µs (median)', 'added µs (range)'],
    results.map((r) => [
      r.variant,
      f(r.cpuMicrosPerCall),
      f(r.addedMicros),
      `${f(r.addedRange[0])} to ${f(r.addedRange[1])}`,
    ]),
  );
}

export function e2eTables(result: E2eResult): string {
  return [
    table(
      [
        'unary, 2 processes',
        'calls/s at 64',
        'ratio to raw (range)',
        'CPU µs/call',
        'added µs',
        'p50 ms at 1',
        'p99 ms at 1',
      ],
      result.unary.map((r) => [
        r.variant,
        f(r.callsPerSecond, 0),
        range(r.throughputRatio),
        f(r.cpuMicrosPerCall),
        f(r.addedCpuMicros),
        f(r.p50Ms, 3),
        f(r.p99Ms, 3),
      ]),
    ),
    table(
      ['server streaming', 'messages/s', 'ratio to raw (range)'],
      result.streaming.map((r) => [r.variant, f(r.messagesPerSecond, 0), range(r.ratio)]),
    ),
    table(
      ['server side (raw client)', 'calls/s at 64', 'ratio to bare (range)'],
      result.server.map((r) => [r.variant, f(r.callsPerSecond, 0), range(r.ratio)]),
    ),
  ].join('\n\n');
}

export function resilienceTable(
  rows: ScenarioRow[],
  breaker: { breakerOpenP50Ms: number; breakerOpenP99Ms: number },
): string {
  return [
    table(
      ['fault', 'client', 'calls', 'goodput %', 'attempts/call', 'p50 ms', 'p99 ms', 'late'],
      rows.map((r) => [
        r.scenario,
        r.client,
        r.calls,
        f((100 * r.succeeded) / r.calls, 2),
        f(r.attemptsPerCall, 3),
        f(r.p50Ms),
        f(r.p99Ms),
        r.late,
      ]),
    ),
    `open breaker: calls refused in p50 ${f(breaker.breakerOpenP50Ms, 3)} ms, p99 ${f(breaker.breakerOpenP99Ms, 3)} ms`,
  ].join('\n\n');
}

/** An SVG of latency percentiles at 1 call in flight, raw grpc-js vs the full stack. */
export function latencySvg(samples: { raw: number[]; layer: number[] }): string {
  const ps = [50, 75, 90, 95, 99, 99.9];
  const raw = ps.map((p) => percentile(samples.raw, p));
  const layer = ps.map((p) => percentile(samples.layer, p));
  const max = Math.max(...raw, ...layer) * 1.1;
  const [w, h, left, bottom] = [640, 320, 60, 40];
  const x = (i: number, j: number) => left + i * ((w - left - 20) / ps.length) + 8 + j * 34;
  const y = (v: number) => h - bottom - (v / max) * (h - bottom - 55);
  const bars = ps
    .map(
      (p, i) =>
        [raw[i], layer[i]]
          .map(
            (v, j) =>
              `<rect x="${x(i, j)}" y="${y(v).toFixed(1)}" width="30" height="${(h - bottom - y(v)).toFixed(1)}" fill="${j ? '#2a7ab9' : '#aaaaaa'}"><title>${j ? 'grpc-resilience' : 'raw grpc-js'} p${p}: ${v.toFixed(3)} ms</title></rect>` +
              `<text x="${x(i, j) + 15}" y="${(y(v) - 4).toFixed(1)}" font-size="9" text-anchor="middle">${v.toFixed(2)}</text>`,
          )
          .join('') +
        `<text x="${x(i, 0) + 32}" y="${h - bottom + 16}" font-size="11" text-anchor="middle">p${p}</text>`,
    )
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${left}" y="18" font-size="13">Unary latency at 1 in flight, ms (loopback, 2 processes)</text>
<rect x="${left}" y="28" width="10" height="10" fill="#aaaaaa"/><text x="${left + 15}" y="37" font-size="11">raw grpc-js</text>
<rect x="${left + 100}" y="28" width="10" height="10" fill="#2a7ab9"/><text x="${left + 115}" y="37" font-size="11">grpc-resilience (full default stack)</text>
<line x1="${left}" y1="${h - bottom}" x2="${w - 10}" y2="${h - bottom}" stroke="black"/>
${bars}
</svg>
`;
}

/** Under a fault table: the failures of each row by code (and reason), then each client's config. */
export function faultNotes(
  rows: { client: string; scenario: string; config: string; failures: Record<string, number> }[],
): string {
  const failures = rows
    .filter((r) => Object.keys(r.failures).length > 0)
    .map((r) => `  ${r.client}, ${r.scenario}: ${JSON.stringify(r.failures)}`)
    .join('\n');
  const configs = [...new Map(rows.map((r) => [r.client, r.config])).entries()]
    .map(([client, config]) => `  ${client}: ${config}`)
    .join('\n');
  return `failures by code (reason):\n${failures}\nconfigs:\n${configs}`;
}
