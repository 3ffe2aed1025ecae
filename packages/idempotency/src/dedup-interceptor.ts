import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import { DedupCall, dedupListener } from './dedup-call';
import { resolveDedupOptions, type DedupOptions } from './dedup-options';

/**
 * A grpc-js server interceptor that runs each idempotency key once per method and caller scope:
 * the first request runs; concurrent duplicates wait for its outcome (within their own deadline
 * and cancellation); later duplicates get the stored response (headers, messages, status and
 * trailers, marked `grpc-resilience-replayed: true`) without running the handler. A repeat with
 * the same key but another request gets INVALID_ARGUMENT (`idempotency-key-reused`), unrun.
 * Requests without a key pass through.
 *
 * Every response of every call it sees (keyed or not) carries the header and trailer
 * `grpc-resilience-dedup-scope`: `process` or `shared`, from the store's `scope`, so clients can
 * tell whether a retry to another replica would be recognised.
 *
 * Outcomes kept: OK and the caller's errors (INVALID_ARGUMENT…), which a rerun would repeat,
 * recorded even when the first caller is gone before the handler answers. A server-side failure
 * (UNAVAILABLE, INTERNAL…), a CANCELLED or DEADLINE_EXCEEDED, a status this layer made, and a
 * response stream cut short by its caller release the key, so a retry runs again.
 *
 * @throws ConfigError for bad options (at construction, never per call).
 */
export function createDedupInterceptor(options?: DedupOptions): ServerInterceptor {
  const resolved = resolveDedupOptions(options);
  return (method, call) => {
    const dedup = new DedupCall(resolved, method, call);
    return new ServerInterceptingCall(call, {
      start: (next) => next(dedupListener(dedup)),
      sendMetadata: (metadata, next) => dedup.sendMetadata(metadata, next),
      sendMessage: (message, next) => dedup.sendMessage(message, next),
      sendStatus: (status, next) => dedup.sendStatus(status, next),
    });
  };
}
