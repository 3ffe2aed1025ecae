import type {
  Metadata,
  ServerInterceptingCall,
  ServerInterceptingCallInterface,
  ServerInterceptor,
  StatusObject,
} from '@grpc/grpc-js';
import { REASON_METADATA_KEY, deadlineToMs } from '@grpc-resilience/status';
import type { AttributeCache, MethodAttributes } from './attributes';
import type { Instruments } from './instruments';
import { beginCounting, endCounting, type ByteCounter } from './message-sizes';
import { countServerSizesOf, receivedBytesOf } from './server-message-sizes';

/** Trailer the dedup interceptor puts on a replayed outcome (`@grpc-resilience/idempotency`). */
const REPLAYED_METADATA_KEY = 'grpc-resilience-replayed';
/** `Status.CANCELLED`: a call the client or the transport ended before the handler answered. */
const CANCELLED = 1;

type Listener = Parameters<ServerInterceptingCallInterface['start']>[0];

/**
 * gRFC A66 server instruments (`grpc.server.call.started`, `grpc.server.call.duration`, the
 * message-size histograms) and the layer's own: the deadline a call carried on arrival, calls
 * the layer answered without running the handler (by the `grpc-resilience-reason` they carry),
 * and what deduplication did with keyed calls. Outermost among the server interceptors (first in
 * the list), so the layer's own refusals pass through it and it sits on grpc-js's base call,
 * where the message bytes are (`server-message-sizes.ts`).
 */
export function createServerMetricsInterceptor(
  instruments: Instruments,
  attributes: AttributeCache,
  idempotencyKeyHeader: string,
  /** False when both size histograms are off: the handlers' functions are left as they are. */
  countSizes: boolean,
): ServerInterceptor {
  const measure: ServerMeasure = { instruments, idempotencyKeyHeader };
  return (method, call) => {
    const startedAt = performance.now();
    const methodAttributes = attributes.of(method.path);
    methodAttributes.started.value++;
    const deadline = deadlineToMs(call.getDeadline());
    if (deadline !== undefined && deadline !== Infinity) {
      const left = (deadline - Date.now()) / 1000;
      instruments.serverDeadline.record(left < 0 ? 0 : left, methodAttributes.base);
    }
    const sizes = countSizes && countServerSizesOf(method, call);
    const measured = new MeasuredServerCall(call, measure, methodAttributes, startedAt, sizes);
    // grpc-js types the result as its class but uses only the interface (it chains the
    // interceptors as `ServerInterceptingCallInterface`s), as with client interceptors.
    return measured as unknown as ServerInterceptingCall;
  };
}

/** What every call of one server records into. */
interface ServerMeasure {
  readonly instruments: Instruments;
  readonly idempotencyKeyHeader: string;
}

/**
 * One server call, passed through to grpc-js's call below and its own listener: one object per
 * call. grpc-js's `ServerInterceptingCall` with a responder and a listener takes two objects of
 * closures per call, and its ordering of metadata, messages and status only matters for
 * responders that answer later; this one answers at once.
 */
class MeasuredServerCall implements ServerInterceptingCallInterface, ByteCounter {
  sentBytes = 0;
  private rcvdBytes = 0;
  private listener: Listener | undefined;
  private ended = false;
  private keyed = false;

  constructor(
    private readonly next: ServerInterceptingCallInterface,
    private readonly measure: ServerMeasure,
    private readonly attributes: MethodAttributes,
    private readonly startedAt: number,
    private readonly sizes: boolean,
  ) {}

  start(listener: Listener): void {
    this.listener = listener;
    this.next.start(this);
  }

  // The listener grpc-js's call below reports to.
  onReceiveMetadata(metadata: Metadata): void {
    this.keyed = metadata.get(this.measure.idempotencyKeyHeader).length > 0;
    this.listener!.onReceiveMetadata(metadata);
  }
  onReceiveMessage(message: unknown): void {
    if (this.sizes) this.rcvdBytes += receivedBytesOf(message);
    this.listener!.onReceiveMessage(message);
  }
  onReceiveHalfClose(): void {
    this.listener!.onReceiveHalfClose();
  }
  onCancel(): void {
    // grpc-js reports the stream's close after a finished call as a cancel as well.
    if (!this.ended) this.end(CANCELLED);
    this.listener!.onCancel();
  }

  sendMetadata(metadata: Metadata): void {
    this.next.sendMetadata(metadata);
  }
  sendMessage(message: unknown, callback: () => void): void {
    if (!this.sizes) return this.next.sendMessage(message, callback);
    // grpc-js's base call, just below, serializes synchronously inside this send.
    const previous = beginCounting(this);
    try {
      this.next.sendMessage(message, callback);
    } finally {
      endCounting(previous);
    }
  }
  sendStatus(status: Parameters<ServerInterceptingCallInterface['sendStatus']>[0]): void {
    if (!this.ended) {
      this.end(status.code);
      this.recordOutcome(status.metadata ?? undefined);
    }
    this.next.sendStatus(status);
  }
  startRead(): void {
    this.next.startRead();
  }
  getPeer(): string {
    return this.next.getPeer();
  }
  getDeadline(): ReturnType<ServerInterceptingCallInterface['getDeadline']> {
    return this.next.getDeadline();
  }
  getHost(): string {
    return this.next.getHost();
  }
  getAuthContext(): ReturnType<ServerInterceptingCallInterface['getAuthContext']> {
    return this.next.getAuthContext();
  }
  getConnectionInfo(): ReturnType<ServerInterceptingCallInterface['getConnectionInfo']> {
    return this.next.getConnectionInfo();
  }
  getMetricsRecorder(): ReturnType<ServerInterceptingCallInterface['getMetricsRecorder']> {
    return this.next.getMetricsRecorder();
  }

  private end(code: StatusObject['code']): void {
    this.ended = true;
    const { instruments } = this.measure;
    const withStatus = this.attributes.withStatus(code);
    instruments.serverDuration.record((performance.now() - this.startedAt) / 1000, withStatus);
    if (this.sizes) {
      instruments.serverSentBytes.record(this.sentBytes, withStatus);
      instruments.serverRcvdBytes.record(this.rcvdBytes, withStatus);
    }
  }

  private recordOutcome(trailers: Metadata | undefined): void {
    const { instruments } = this.measure;
    const reason = trailers?.get(REASON_METADATA_KEY)[0];
    if (typeof reason === 'string') {
      instruments.serverRefused.add(1, this.attributes.withReason(reason));
    }
    if (this.keyed) {
      const replayed = trailers?.get(REPLAYED_METADATA_KEY)[0] === 'true';
      instruments.dedup.add(
        1,
        this.attributes.withOutcome(
          replayed ? 'replayed' : typeof reason === 'string' ? 'refused' : 'executed',
        ),
      );
    }
  }
}
