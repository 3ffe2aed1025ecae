import type { InterceptingListener, Metadata, StatusObject } from '@grpc/grpc-js';
import { ForwardingCall, type InterceptingCallInterface } from '@grpc-resilience/status';

/** Request metadata that marks an attempt after the first (gRFC A6; the retry layer sets it). */
const PREVIOUS_ATTEMPTS_KEY = 'grpc-previous-rpc-attempts';

/** What a budgeted attempt reports its outcome to. */
export interface AttemptOutcomeSink {
  recordAttempt(status: StatusObject, isRetry: boolean, lost: boolean): void;
}

/**
 * One attempt as the adaptive budget sees it: whether it is a retry (it carries
 * `grpc-previous-rpc-attempts`, so it took a token) and how it ended. One object per attempt,
 * its own listener (ForwardingCall), nothing else allocated.
 */
export class BudgetedAttempt extends ForwardingCall {
  private isRetry = false;
  /** The retry layer cancelled it because another attempt of the call answered first. */
  private lost = false;

  constructor(
    next: InterceptingCallInterface,
    private readonly sink: AttemptOutcomeSink,
  ) {
    super(next);
  }

  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.isRetry = metadata.get(PREVIOUS_ATTEMPTS_KEY).length > 0;
    super.start(metadata, listener);
  }

  override onReceiveStatus(status: StatusObject): void {
    this.sink.recordAttempt(status, this.isRetry, this.lost);
    super.onReceiveStatus(status);
  }

  /** Marks the attempt as the losing side of a hedge, before the layer cancels it. */
  markLost(): void {
    this.lost = true;
  }
}

/**
 * Marks an attempt the retry layer abandons because another attempt won: the adaptive budget
 * then keeps its token spent. A flag on the object, not a status text to compare: the budget
 * sees the cancel's status as any local CANCELLED. Other calls (no adaptive budget) are left alone.
 */
export function markHedgeLost(call: unknown): void {
  if (call instanceof BudgetedAttempt) call.markLost();
}
