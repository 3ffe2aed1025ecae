import type { Attributes, ObservableResult } from '@opentelemetry/api';
import type { Instruments } from './instruments';
import { ATTR_TARGET } from './names';

/** What the metrics need of a retry budget: `AdaptiveRetryBudget` has this shape. */
export interface ObservableBudget {
  /** Tokens left now. */
  readonly balance: number;
}

/**
 * The balance of every watched retry budget, read when the metrics are collected: nothing on
 * the call path. One entry per budget, however many clients of its target watch it.
 */
export class BudgetBalances {
  private readonly budgets = new Map<ObservableBudget, Attributes>();

  constructor(instruments: Instruments) {
    instruments.budgetBalance.addCallback((result) => this.observe(result));
  }

  watch(budget: ObservableBudget, target: string): { dispose(): void } {
    if (!this.budgets.has(budget))
      this.budgets.set(budget, Object.freeze({ [ATTR_TARGET]: target }));
    return { dispose: () => void this.budgets.delete(budget) };
  }

  private observe(result: ObservableResult): void {
    for (const [budget, attributes] of this.budgets) {
      const balance = budget.balance;
      if (typeof balance === 'number' && Number.isFinite(balance))
        result.observe(balance, attributes);
    }
  }
}
