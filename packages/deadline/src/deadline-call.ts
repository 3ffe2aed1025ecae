import {
  status as Status,
  type InterceptingListener,
  type Metadata,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ForwardingCall,
  LONG_LIVED_CALL_KEY,
  PROPAGATED_CANCEL_PREFIX,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import type { CallContext } from './call-context';

/**
 * What the deadline interceptor wraps a call in when it must do more than set the deadline:
 * mark a call with a response stream (see {@link LONG_LIVED_CALL_KEY}), and cancel a call made
 * inside a handler when the incoming call ends. Unary calls outside handlers never get one.
 */
export class DeadlineCall extends ForwardingCall {
  private unsubscribe: (() => void) | undefined;

  constructor(
    next: InterceptingCallInterface,
    private readonly context: CallContext | undefined,
    /** The call's deadline when it has a response stream, else undefined. */
    private readonly streamDeadline: number | undefined,
  ) {
    super(next);
  }

  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    if (this.streamDeadline !== undefined) metadata = markLongLived(metadata, this.streamDeadline);
    const context = this.context;
    if (context !== undefined) {
      this.unsubscribe = context.onCancel((reason) =>
        this.next.cancelWithStatus(
          Status.CANCELLED,
          `${PROPAGATED_CANCEL_PREFIX}${context.method} (${reason})`,
        ),
      );
    }
    super.start(metadata, listener);
  }

  override onReceiveStatus(status: StatusObject): void {
    this.unsubscribe?.();
    super.onReceiveStatus(status);
  }
}

/**
 * A copy of `metadata` whose options carry the deadline: the caller's object (which it may reuse
 * for a unary call) and its options object (which may be shared) are left untouched.
 */
function markLongLived(metadata: Metadata, deadline: number): Metadata {
  const marked = metadata.clone();
  marked.setOptions({ ...metadata.getOptions(), [LONG_LIVED_CALL_KEY]: deadline } as ReturnType<
    Metadata['getOptions']
  >);
  return marked;
}
