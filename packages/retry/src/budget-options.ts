import { ConfigError, isPlainObject } from '@grpc-resilience/status';
import { AdaptiveRetryBudget } from './adaptive-budget';
import type { AdaptiveBudgetOptions } from './adaptive-budget-options';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget';

/**
 * The fixed budget's options: `budget: { kind: 'fixed', ratio: 0.2, minPerSecond: 10 }`. Without
 * `kind`, an object naming `minPerSecond` or `windowMs` (options only the fixed budget has) is
 * the fixed budget, so configs written before the adaptive budget keep their meaning.
 */
export interface FixedBudgetOptions extends RetryBudgetOptions {
  kind?: 'fixed';
}

/** What `retry.budget` accepts: options of either kind, a shared budget, or false for none. */
export type BudgetOption =
  false | AdaptiveBudgetOptions | FixedBudgetOptions | AdaptiveRetryBudget | RetryBudget;

/** A budget of either kind, as the retry layer uses it. */
export type AnyRetryBudget = AdaptiveRetryBudget | RetryBudget;

/**
 * `retry.budget` as the retry layer uses it: undefined for `false`, a shared budget as given,
 * else a new budget of the kind named (`'adaptive'` when none is).
 */
export function resolveBudget(path: string, value: unknown): AnyRetryBudget | undefined {
  if (value === false) return undefined;
  if (value instanceof AdaptiveRetryBudget || value instanceof RetryBudget) return value;
  if (value !== undefined && !isPlainObject(value))
    throw new ConfigError(path, 'must be false, an options object or a retry budget', value);
  const kind = value?.kind ?? (isFixedShape(value) ? 'fixed' : 'adaptive');
  if (kind === 'fixed') return new RetryBudget(value as RetryBudgetOptions, path);
  if (kind === 'adaptive') return new AdaptiveRetryBudget(value as AdaptiveBudgetOptions, path);
  throw new ConfigError(`${path}.kind`, 'must be "adaptive" or "fixed"', kind);
}

function isFixedShape(value: Record<string, unknown> | undefined): boolean {
  return value !== undefined && (value.minPerSecond !== undefined || value.windowMs !== undefined);
}
