import {
  Metadata,
  ServerInterceptingCall,
  status as Status,
  type StatusObject,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { REASON_METADATA_KEY, classifyStatusCode, objectOption } from '@grpc-resilience/status';
import { MemoryDedupStore, type DedupStore, type StoredOutcome } from './dedup-store';
import { resolveHeader } from './key-interceptor';

type ServerCall = ConstructorParameters<typeof ServerInterceptingCall>[0];

/** Trailer on a replayed outcome, so callers and logs can tell a replay from a run. */
export const REPLAYED_METADATA_KEY = 'grpc-resilience-replayed';

/** Options of {@link createDedupInterceptor}. */
export interface DedupOptions {
  /** Where outcomes are kept. Default: a `MemoryDedupStore` (10 min TTL, 10000 entries). */
  store?: DedupStore;
  /** Metadata key of idempotency keys. Default `idempotency-key`. */
  header?: string;
}

/**
 * A grpc-js server interceptor that runs each idempotency key once per method: the first request
 * runs; concurrent duplicates wait for its outcome; later duplicates get the stored response
 * (headers, messages, status and trailers) replayed without running the handler. Requests without
 * a key pass through untouched.
 *
 * Outcomes kept: OK and the caller's errors (INVALID_ARGUMENT…), which a rerun would repeat.
 * A server-side failure (UNAVAILABLE, INTERNAL…) releases the key, so a retry runs again; a
 * handler that applies its side effect and then fails that way must make its own write
 * idempotent.
 */
export function createDedupInterceptor(options?: DedupOptions): ServerInterceptor {
  const input = objectOption('dedup', options, ['store', 'header']);
  const header = resolveHeader('dedup.header', input.header);
  const store = (input.store as DedupStore | undefined) ?? new MemoryDedupStore();

  return (method, call) => {
    let key: string | undefined;
    let headers: Metadata | undefined;
    let messages: unknown[] | undefined;
    const record = () => key !== undefined && messages !== undefined;
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            const value = metadata.get(header)[0];
            if (value === undefined) return nextMetadata(metadata);
            const claimed = `${method.path}\u0000${String(value)}`;
            // Until nextMetadata is called, grpc-js holds the messages: the handler cannot start.
            Promise.resolve(store.claim(claimed)).then(
              (claim) => {
                if (claim.state === 'new') {
                  key = claimed;
                  messages = [];
                  return nextMetadata(metadata);
                }
                return Promise.resolve(claim.outcome).then((outcome) => replay(call, outcome));
              },
              (error: unknown) =>
                call.sendStatus(
                  localStatus(Status.UNAVAILABLE, `dedup store failed: ${String(error)}`),
                ),
            );
          },
        });
      },
      sendMetadata(metadata, next) {
        if (record()) headers = metadata;
        next(metadata);
      },
      sendMessage(message, next) {
        if (record()) messages!.push(message);
        next(message);
      },
      sendStatus(status, next) {
        if (record()) {
          const done = key!;
          const outcome = {
            headers,
            messages: messages!,
            status: { ...status, metadata: status.metadata ?? new Metadata() },
          };
          key = undefined;
          void (isWorthKeeping(status.code) ? store.complete(done, outcome) : store.release(done));
        }
        next(status);
      },
    });
  };
}

/** OK and the caller's own errors would come out the same again; server faults might not. */
function isWorthKeeping(code: Status): boolean {
  return code === Status.OK || classifyStatusCode(code).fault === 'caller';
}

function localStatus(code: Status, details: string): StatusObject {
  const metadata = new Metadata();
  metadata.set(REASON_METADATA_KEY, 'dedup');
  return { code, details, metadata };
}

/** Sends a stored outcome as the answer to this call; the handler never runs. */
function replay(call: ServerCall, outcome: StoredOutcome | undefined): void {
  if (!outcome) {
    // The first request failed and released the key while this one waited: let it retry.
    call.sendStatus(
      localStatus(Status.ABORTED, 'a request with the same idempotency key failed; retry'),
    );
    return;
  }
  const trailers = outcome.status.metadata.clone();
  trailers.set(REPLAYED_METADATA_KEY, 'true');
  const status = { ...outcome.status, metadata: trailers };
  if (outcome.headers) call.sendMetadata(outcome.headers);
  const send = (index: number): void => {
    if (index === outcome.messages.length) return call.sendStatus(status);
    call.sendMessage(outcome.messages[index], () => send(index + 1));
  };
  send(0);
}
