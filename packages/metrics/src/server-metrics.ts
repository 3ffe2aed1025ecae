import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import { REASON_METADATA_KEY, deadlineToMs } from '@grpc-resilience/status';
import type { AttributeCache } from './attributes';
import type { Instruments } from './instruments';
import { beginCounting, endCounting, type ByteCounter } from './message-sizes';
import { countServerSizesOf, receivedBytesOf } from './server-message-sizes';

/** Trailer the dedup interceptor puts on a replayed outcome (`@grpc-resilience/idempotency`). */
const REPLAYED_METADATA_KEY = 'grpc-resilience-replayed';
/** `Status.CANCELLED`: a call the client or the transport ended before the handler answered. */
const CANCELLED = 1;

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
  return (method, call) => {
    const startedAt = performance.now();
    const methodAttributes = attributes.of(method.path);
    methodAttributes.started.value++;
    const deadline = deadlineToMs(call.getDeadline());
    if (deadline !== undefined && deadline !== Infinity) {
      const left = (deadline - Date.now()) / 1000;
      instruments.serverDeadline.record(left < 0 ? 0 : left, methodAttributes.base);
    }
    const sizes: ByteCounter | undefined =
      countSizes && countServerSizesOf(method, call) ? { sentBytes: 0 } : undefined;
    let rcvdBytes = 0;
    let ended = false;
    let keyed = false;
    const end = (code: number) => {
      ended = true;
      const withStatus = methodAttributes.withStatus(code);
      instruments.serverDuration.record((performance.now() - startedAt) / 1000, withStatus);
      if (sizes) {
        instruments.serverSentBytes.record(sizes.sentBytes, withStatus);
        instruments.serverRcvdBytes.record(rcvdBytes, withStatus);
      }
    };
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            keyed = metadata.get(idempotencyKeyHeader).length > 0;
            nextMetadata(metadata);
          },
          onReceiveMessage(message, nextMessage) {
            if (sizes) rcvdBytes += receivedBytesOf(message);
            nextMessage(message);
          },
          onCancel() {
            // grpc-js reports the stream's close after a finished call as a cancel as well.
            if (!ended) end(CANCELLED);
          },
        });
      },
      sendMessage(message, next) {
        if (!sizes) return next(message);
        // grpc-js's base call, just below, serializes synchronously inside this send.
        const previous = beginCounting(sizes);
        try {
          next(message);
        } finally {
          endCounting(previous);
        }
      },
      sendStatus(status, next) {
        if (!ended) {
          end(status.code);
          const trailers = status.metadata;
          const reason = trailers?.get(REASON_METADATA_KEY)[0];
          if (typeof reason === 'string') {
            instruments.serverRefused.add(1, methodAttributes.withReason(reason));
          }
          if (keyed) {
            const replayed = trailers?.get(REPLAYED_METADATA_KEY)[0] === 'true';
            instruments.dedup.add(
              1,
              methodAttributes.withOutcome(
                replayed ? 'replayed' : typeof reason === 'string' ? 'refused' : 'executed',
              ),
            );
          }
        }
        next(status);
      },
    });
  };
}
