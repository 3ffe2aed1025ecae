/** Median of numbers (the middle one; mean of the two middle ones). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Client CPU (user + system) in microseconds since `since`. */
export function cpuMicros(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

/**
 * The variant order of one round, ABBA: raw first and last, the others forwards then backwards,
 * rotated by round so no variant always runs right after another.
 */
export function abbaOrder<T>(raw: T, others: readonly T[], round: number): T[] {
  const rotated = others.map((_, i) => others[(i + round) % others.length]);
  return [raw, ...rotated, ...[...rotated].reverse(), raw];
}

/** Per-round ratios of a variant to raw: median and range. */
export function ratioSummary(
  variant: readonly number[],
  raw: readonly number[],
): { median: number; min: number; max: number } {
  const ratios = variant.map((value, i) => value / raw[i]);
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}
