import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import { REASON_METADATA_KEY, deadlineToMs } from '@grpc-resilience/status';
import type { AttributeCache } from './attributes';
import type { Instruments } from './instruments';

/** Trailer the dedup interceptor puts on a replayed outcome (`@grpc-resilience/idempotency`). */
const REPLAYED_METADATA_KEY = 'grpc-resilience-replayed';
/** `Status.CANCELLED`: a call the client or the transport ended before the handler answered. */
const CANCELLED = 1;

/**
 * gRFC A66 server instruments (`grpc.server.call.started`, `grpc.server.call.duration`) and the
 * layer's own: the deadline a call carried on arrival, calls the layer answered without running
 * the handler (by the `grpc-resilience-reason` they carry), and what deduplication did with keyed
 * calls. Outermost among the server interceptors, so the layer's own refusals pass through it.
 */
export function createServerMetricsInterceptor(
  instruments: Instruments,
  attributes: AttributeCache,
  idempotencyKeyHeader: string,
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
    let ended = false;
    let keyed = false;
    const end = (code: number) => {
      ended = true;
      instruments.serverDuration.record(
        (performance.now() - startedAt) / 1000,
        methodAttributes.withStatus(code),
      );
    };
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            keyed = metadata.get(idempotencyKeyHeader).length > 0;
            nextMetadata(metadata);
          },
          onCancel() {
            // grpc-js reports the stream's close after a finished call as a cancel as well.
            if (!ended) end(CANCELLED);
          },
        });
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
