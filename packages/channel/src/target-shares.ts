import type { CircuitBreakerInterceptor } from '@grpc-resilience/circuit-breaker';
import type { AnyRetryBudget, DedupScopes } from '@grpc-resilience/retry';

/** What the clients of one target (and equal breaker and budget options) share. */
export interface TargetShares {
  breaker?: CircuitBreakerInterceptor;
  budget?: AnyRetryBudget;
  dedupScopes?: DedupScopes;
}

/** A client's hold on its target's shares; `release()` is idempotent. */
export interface TargetSharesLease {
  readonly shares: TargetShares;
  release(): void;
}

const entries = new Map<string, { shares: TargetShares; holders: number }>();

/**
 * The shares under `key`, created on first use and freed when the last client holding them
 * closes: a process that creates and closes clients forever keeps only the live targets' state.
 */
export function leaseTargetShares(key: string): TargetSharesLease {
  let entry = entries.get(key);
  if (!entry) entries.set(key, (entry = { shares: {}, holders: 0 }));
  entry.holders++;
  const held = entry;
  let released = false;
  return {
    shares: held.shares,
    release() {
      if (released) return;
      released = true;
      if (--held.holders === 0 && entries.get(key) === held) entries.delete(key);
    },
  };
}

/** How many targets' shares are alive, and how many breakers and budgets they hold. */
export function targetSharesStats(): { targets: number; breakers: number; budgets: number } {
  let breakers = 0;
  let budgets = 0;
  for (const { shares } of entries.values()) {
    if (shares.breaker) breakers++;
    if (shares.budget) budgets++;
  }
  return { targets: entries.size, breakers, budgets };
}
