import type { PhaseResult } from './report';

/** What the picture shows: both clients' success per second, and where each phase began. */
export interface ChartInput {
  title: string;
  phases: readonly Pick<PhaseResult, 'name' | 'startMs' | 'durationMs'>[];
  /** Success rate, percent, per second: `atS` is the middle of the second, from the run's start. */
  layer: readonly { atS: number; percent: number }[];
  plain: readonly { atS: number; percent: number }[];
}

const WIDTH = 960;
const HEIGHT = 360;
const PLOT = { left: 56, right: 16, top: 72, bottom: 48 };
const COLORS = { layer: '#1f77b4', plain: '#d62728' };

/**
 * A hand-written SVG line chart (no dependency): success rate per second for both clients, the
 * phases shaded and named along the top.
 */
export function renderSvg(input: ChartInput): string {
  const seconds = Math.max(
    1,
    ...[...input.layer, ...input.plain].map((point) => Math.ceil(point.atS)),
    ...input.phases.map((p) => Math.ceil((p.startMs + p.durationMs) / 1000)),
  );
  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
  const x = (s: number) => PLOT.left + (s / seconds) * plotWidth;
  const y = (percent: number) => PLOT.top + (1 - percent / 100) * plotHeight;
  const n = (v: number) => v.toFixed(1);
  const parts: string[] = [];

  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<title>${escape(input.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${PLOT.left}" y="18" font-size="13" font-weight="bold">${escape(input.title)}</text>`,
  );
  input.phases.forEach((phase, i) => {
    const x0 = x(phase.startMs / 1000);
    const x1 = x((phase.startMs + phase.durationMs) / 1000);
    if (i % 2 === 1) {
      parts.push(
        `<rect x="${n(x0)}" y="${PLOT.top}" width="${n(x1 - x0)}" height="${plotHeight}" fill="#f2f2f2"/>`,
      );
    }
    parts.push(
      `<line x1="${n(x0)}" y1="${PLOT.top - (i % 2 === 0 ? 24 : 10)}" x2="${n(x0)}" y2="${PLOT.top + plotHeight}" stroke="#999" stroke-dasharray="3,3"/>`,
      `<text x="${n(x0 + 3)}" y="${PLOT.top - (i % 2 === 0 ? 16 : 2)}">${escape(phase.name)}</text>`,
    );
  });
  for (const percent of [0, 25, 50, 75, 100]) {
    parts.push(
      `<line x1="${PLOT.left}" y1="${n(y(percent))}" x2="${PLOT.left + plotWidth}" y2="${n(y(percent))}" stroke="#ddd"/>`,
      `<text x="${PLOT.left - 6}" y="${n(y(percent) + 4)}" text-anchor="end">${percent}%</text>`,
    );
  }
  const step = seconds > 60 ? 10 : 5;
  for (let s = 0; s <= seconds; s += step) {
    parts.push(
      `<text x="${n(x(s))}" y="${PLOT.top + plotHeight + 16}" text-anchor="middle">${s}</text>`,
    );
  }
  parts.push(
    `<text x="${PLOT.left + plotWidth / 2}" y="${HEIGHT - 12}" text-anchor="middle">seconds (calls by the second they started in); y: calls that succeeded</text>`,
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#666"/>`,
  );
  for (const side of ['plain', 'layer'] as const) {
    parts.push(
      `<path d="${linePath(input[side], x, y)}" fill="none" stroke="${COLORS[side]}" stroke-width="2" stroke-linejoin="round"/>`,
    );
  }
  const legendY = 38;
  [
    ['layer', 'grpc-resilience'],
    ['plain', 'plain grpc-js'],
  ].forEach(([side, label], i) => {
    const lx = PLOT.left + i * 160;
    parts.push(
      `<line x1="${lx}" y1="${legendY - 4}" x2="${lx + 20}" y2="${legendY - 4}" stroke="${COLORS[side as 'layer' | 'plain']}" stroke-width="3"/>`,
      `<text x="${lx + 26}" y="${legendY}">${label}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/**
 * A point per second; the line breaks where seconds are not adjacent (between phases, while a
 * phase's last calls finish and the next fault is set up), rather than drawing a slope nobody saw.
 */
function linePath(
  points: readonly { atS: number; percent: number }[],
  x: (s: number) => number,
  y: (percent: number) => number,
): string {
  return points
    .map(({ atS, percent }, i) => {
      const pen = i === 0 || atS - points[i - 1].atS > 1.5 ? 'M' : 'L';
      return `${pen}${x(atS).toFixed(1)},${y(percent).toFixed(1)}`;
    })
    .join(' ');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
