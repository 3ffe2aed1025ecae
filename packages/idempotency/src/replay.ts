import { Metadata, type ServerInterceptingCall, type StatusObject, status } from '@grpc/grpc-js';
import { DEDUP_SCOPE_METADATA_KEY, REASON_METADATA_KEY } from '@grpc-resilience/status';
import type { DedupScope } from '@grpc-resilience/status';
import type { StoredOutcome } from './dedup-store';

type ServerCall = ConstructorParameters<typeof ServerInterceptingCall>[0];

/** Trailer on a replayed outcome, so callers and logs can tell a replay from a run. */
export const REPLAYED_METADATA_KEY = 'grpc-resilience-replayed';

/**
 * Values of the `grpc-resilience-reason` trailer on the statuses the dedup interceptor makes
 * itself (the handler did not run for any of them).
 */
export const DEDUP_REASONS = Object.freeze({
  /** RESOURCE_EXHAUSTED: the store is full of runs in flight. */
  full: 'dedup-full',
  /** INVALID_ARGUMENT: the key was used before with another request (or by another scope). */
  keyReused: 'idempotency-key-reused',
  /** UNAVAILABLE or INTERNAL: the store failed or answered nonsense. */
  storeFailed: 'dedup-store-failed',
  /** INTERNAL: the `scopeOf` hook threw or returned something other than a string. */
  scopeFailed: 'dedup-scope-failed',
  /** ABORTED: the run this call waited on ended without an outcome worth keeping; retry. */
  released: 'dedup-released',
});

/** A status the interceptor makes itself, marked with its reason and the server's scope. */
export function localStatus(
  code: status,
  details: string,
  reason: string,
  scope: DedupScope,
): StatusObject {
  const metadata = new Metadata();
  metadata.set(REASON_METADATA_KEY, reason);
  metadata.set(DEDUP_SCOPE_METADATA_KEY, scope);
  return { code, details, metadata };
}

/** True for something shaped like a stored outcome (a store is user code: check what it gives). */
export function isStoredOutcome(value: unknown): value is StoredOutcome {
  const outcome = value as StoredOutcome | undefined;
  return (
    typeof outcome === 'object' &&
    outcome !== null &&
    Array.isArray(outcome.messages) &&
    (outcome.headers === undefined || outcome.headers instanceof Metadata) &&
    typeof outcome.status === 'object' &&
    outcome.status !== null &&
    typeof outcome.status.code === 'number' &&
    typeof outcome.status.details === 'string' &&
    (outcome.status.metadata == null || outcome.status.metadata instanceof Metadata)
  );
}

/** Sends a stored outcome as the answer to this call; the handler never runs. */
export function replayOutcome(call: ServerCall, outcome: StoredOutcome, scope: DedupScope): void {
  const trailers = outcome.status.metadata?.clone() ?? new Metadata();
  trailers.set(REPLAYED_METADATA_KEY, 'true');
  trailers.set(DEDUP_SCOPE_METADATA_KEY, scope);
  const final = { ...outcome.status, metadata: trailers };
  if (outcome.headers || outcome.messages.length > 0) {
    const headers = outcome.headers?.clone() ?? new Metadata();
    headers.set(DEDUP_SCOPE_METADATA_KEY, scope);
    call.sendMetadata(headers);
  }
  const send = (index: number): void => {
    if (index === outcome.messages.length) return call.sendStatus(final);
    call.sendMessage(outcome.messages[index], () => send(index + 1));
  };
  send(0);
}
