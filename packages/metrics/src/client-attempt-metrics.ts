import {
  status as Status,
  type InterceptingCall,
  type InterceptingListener,
  type Interceptor,
  type Metadata,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ForwardingCall,
  deadlineToMs,
  isNeverSent,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import type { AttributeCache, MethodAttributes } from './attributes';
import { recordOf, type CallRecord } from './call-record';
import type { Instruments } from './instruments';
import {
  beginCounting,
  countSizesOf,
  endCounting,
  takeReceivedBytes,
  type ByteCounter,
} from './message-sizes';

/**
 * The per-attempt instruments of gRFC A66: started, duration, bytes sent and received. Innermost
 * in the chain (inside the retry layer and the breaker), so each attempt the retry layer makes is
 * one attempt here and a call the breaker refuses starts none. It also tells the call's record
 * whether an attempt never reached the server (the retry after it is a transparent retry, A96).
 * grpc-js's own transparent retries happen below every interceptor and are not seen.
 */
export function createClientAttemptInterceptor(
  instruments: Instruments,
  attributes: AttributeCache,
  /** False when both size histograms are off: the serializers are then left as they are. */
  countSizes: boolean,
): Interceptor {
  return (options, nextCall) => {
    const record = recordOf(options);
    const now = performance.now();
    if (record) {
      record.attemptStarted(now);
      record.deadline ??= deadlineToMs(options.deadline);
    }
    const methodAttributes = record?.attributes ?? attributes.of(options.method_definition.path);
    methodAttributes.started.value++;
    const sizes = countSizes && countSizesOf(options.method_definition);
    const attempt = new MeasuredAttempt(
      nextCall(options),
      now,
      methodAttributes,
      record,
      instruments,
      sizes,
    );
    return attempt as unknown as InterceptingCall;
  };
}

class MeasuredAttempt extends ForwardingCall implements ByteCounter {
  sentBytes = 0;
  private rcvdBytes = 0;
  /** Response headers arrived: the server answered, whatever the status says later. */
  private headersReceived = false;

  constructor(
    next: InterceptingCallInterface,
    private readonly startedAt: number,
    private readonly attributes: MethodAttributes,
    private readonly record: CallRecord | undefined,
    private readonly instruments: Instruments,
    private readonly sizes: boolean,
  ) {
    super(next);
  }

  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    // A unary call's request may be sent from inside start(); count it.
    if (!this.sizes) return super.start(metadata, listener);
    const previous = beginCounting(this);
    try {
      super.start(metadata, listener);
    } finally {
      endCounting(previous);
    }
  }

  override sendMessageWithContext(
    context: Parameters<ForwardingCall['sendMessageWithContext']>[0],
    message: unknown,
  ): void {
    if (!this.sizes) return super.sendMessageWithContext(context, message);
    const previous = beginCounting(this);
    try {
      super.sendMessageWithContext(context, message);
    } finally {
      endCounting(previous);
    }
  }

  override sendMessage(message: unknown): void {
    if (!this.sizes) return super.sendMessage(message);
    const previous = beginCounting(this);
    try {
      super.sendMessage(message);
    } finally {
      endCounting(previous);
    }
  }

  override onReceiveMetadata(metadata: Metadata): void {
    this.headersReceived = true;
    super.onReceiveMetadata(metadata);
  }

  override onReceiveMessage(message: unknown): void {
    if (this.sizes) this.rcvdBytes += takeReceivedBytes();
    super.onReceiveMessage(message);
  }

  override onReceiveStatus(status: StatusObject): void {
    const now = performance.now();
    const withStatus = this.attributes.withStatus(status.code);
    const { instruments } = this;
    instruments.attemptDuration.record((now - this.startedAt) / 1000, withStatus);
    if (this.sizes) {
      instruments.attemptSentBytes.record(this.sentBytes, withStatus);
      instruments.attemptRcvdBytes.record(this.rcvdBytes, withStatus);
    }
    const record = this.record;
    if (record) {
      // The classification the retry layer makes (status's), from what this attempt saw; an OK
      // is never one, and most failures fail its text test first.
      const neverSent =
        status.code !== Status.OK && isNeverSent(status, { headersReceived: this.headersReceived });
      record.attemptEnded(now, neverSent);
    }
    super.onReceiveStatus(status);
  }
}
