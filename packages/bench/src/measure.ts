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

/** A median with its range and, from 6 values up, a 95 % confidence interval. */
export interface RatioRange {
  median: number;
  min: number;
  max: number;
  /** The median's 95 % confidence interval; undefined under 6 values (no such interval). */
  medianLow?: number;
  medianHigh?: number;
}

/** Per-round ratios of a variant to raw: median, range and the median's 95 % interval. */
export function ratioSummary(variant: readonly number[], raw: readonly number[]): RatioRange {
  const ratios = variant.map((value, i) => value / raw[i]);
  const summary: RatioRange = {
    median: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
  };
  const interval = medianInterval(ratios);
  if (interval !== undefined) [summary.medianLow, summary.medianHigh] = interval;
  return summary;
}

/**
 * A distribution-free confidence interval of the median (the sign test's): the k-th smallest
 * and k-th largest of n values, with k the largest count such that fewer than k of n values fall
 * below the true median with probability at most (1 - confidence) / 2 (binomial, p = 1/2). It
 * assumes nothing of the values' distribution, which for per-round ratios on a shared machine is
 * skewed and heavy-tailed. Undefined when n is too small for `confidence` (under 6 at 95 %).
 */
export function medianInterval(
  values: readonly number[],
  confidence = 0.95,
): [number, number] | undefined {
  const n = values.length;
  const tail = (1 - confidence) / 2;
  // P(X <= j) for X ~ Binomial(n, 1/2), accumulated while it stays within the tail.
  let pmf = 0.5 ** n;
  let cdf = pmf;
  let k = 0;
  while (cdf <= tail && k < n) {
    k++;
    pmf = (pmf * (n - k + 1)) / k;
    cdf += pmf;
  }
  if (k === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return [sorted[k - 1], sorted[n - k]];
}
