import {
  status as Status,
  type InterceptingCall,
  type Interceptor,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ForwardingCall,
  REASON_METADATA_KEY,
  RETRY_STOPPED_METADATA_KEY,
  deadlineToMs,
  isFromTrailers,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import type { AttributeCache } from './attributes';
import { CallRecord, attachRecord } from './call-record';
import type { Instruments } from './instruments';

/**
 * The per-call instruments (gRFC A66 `grpc.client.call.duration`, A96 retries, hedges and retry
 * delay) and the layer's own: refusals, retry give-ups, deadline headroom. Outermost in the chain,
 * so the duration is what the application waited, retries and backoff included.
 */
export function createClientCallInterceptor(
  instruments: Instruments,
  attributes: AttributeCache,
): Interceptor {
  return (options, nextCall) => {
    const record = new CallRecord(attributes.of(options.method_definition.path), performance.now());
    attachRecord(options, record);
    const call = new MeasuredCall(nextCall(options), record, instruments, options);
    return call as unknown as InterceptingCall;
  };
}

class MeasuredCall extends ForwardingCall {
  /**
   * The wall clock once, for the deadline's share of the call; durations, and the time left at
   * the end, come from the monotonic clock: one read per event.
   */
  private readonly startedAtEpoch = Date.now();

  constructor(
    next: InterceptingCallInterface,
    private readonly record: CallRecord,
    private readonly instruments: Instruments,
    private readonly options: { deadline?: Date | number },
  ) {
    super(next);
  }

  override onReceiveStatus(status: StatusObject): void {
    const { record, instruments } = this;
    const elapsedMs = performance.now() - record.startedAt;
    const attributes = record.attributes;
    const withStatus = attributes.withStatus(status.code);
    instruments.callDuration.record(elapsedMs / 1000, withStatus);
    const retries = record.retries;
    if (retries > 0) instruments.retries.record(retries, attributes.base);
    if (record.transparentRetries > 0) {
      instruments.transparentRetries.record(record.transparentRetries, attributes.base);
    }
    if (record.hedges > 0) instruments.hedges.record(record.hedges, attributes.base);
    if (record.attempts > 1) instruments.retryDelay.record(record.retryDelayS, attributes.base);
    // The deadline interceptor sets it on the shared options; attempts saw it too.
    const deadline = record.deadline ?? deadlineToMs(this.options.deadline);
    if (deadline !== undefined && deadline !== Infinity) {
      const given = deadline - this.startedAtEpoch;
      const left = given > 0 ? (given - elapsedMs) / given : 0;
      instruments.deadlineHeadroom.record(left < 0 ? 0 : left > 1 ? 1 : left, withStatus);
    }
    if (status.code !== Status.OK) this.recordLayerReasons(status);
    super.onReceiveStatus(status);
  }

  private recordLayerReasons(status: StatusObject): void {
    const metadata = status.metadata;
    if (!metadata) return;
    const attributes = this.record.attributes;
    const reason = metadata.get(REASON_METADATA_KEY)[0];
    // A reason in the trailers came from a server; one without, from this client's layer.
    if (typeof reason === 'string' && !isFromTrailers(status)) {
      this.instruments.callRefused.add(1, attributes.withReason(reason));
    }
    const stopped = metadata.get(RETRY_STOPPED_METADATA_KEY)[0];
    if (typeof stopped === 'string') {
      this.instruments.retryStopped.add(1, attributes.withReason(stopped));
    }
  }
}
