import type { InterceptingListener, Metadata, StatusObject } from '@grpc/grpc-js';
import { ForwardingCall, type InterceptingCallInterface } from '@grpc-resilience/status';

/** Request metadata that marks an attempt after the first (gRFC A6; the retry layer sets it). */
const PREVIOUS_ATTEMPTS_KEY = 'grpc-previous-rpc-attempts';

/** What a budgeted attempt reports its outcome to. */
export interface AttemptOutcomeSink {
  recordAttempt(status: StatusObject, isRetry: boolean, lost: boolean): void;
}

/**
 * One attempt as the adaptive budget's interceptor sees it, in a chain with another retry layer
 * (this package's retry layer reports its attempts itself): whether it is a retry (it carries
 * `grpc-previous-rpc-attempts`, so it took a token) and how it ended. One object per attempt,
 * its own listener (ForwardingCall), nothing else allocated.
 */
export class BudgetedAttempt extends ForwardingCall {
  private isRetry = false;

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
    this.sink.recordAttempt(status, this.isRetry, false);
    super.onReceiveStatus(status);
  }
}
