import { Metadata, status as Status } from '@grpc/grpc-js';
import { REASON_METADATA_KEY, integerOption } from '@grpc-resilience/status';
import type { StoredOutcome } from './dedup-store';

/** How long an outcome is kept after its run ended: 10 minutes. */
export const DEFAULT_DEDUP_TTL_MS = 600_000;
/**
 * How long a claim may stay in flight: 2 minutes. It bounds how long a key stays claimed when
 * the run never reports (a handler that never answers, a replica that crashed mid-run); a handler
 * still running past it may run a second time for a retry, so keep it above the slowest handler.
 */
export const DEFAULT_DEDUP_IN_FLIGHT_TTL_MS = 120_000;
/** Most entries kept, in flight and done: 10,000. */
export const DEFAULT_DEDUP_MAX_ENTRIES = 10_000;
/** Most bytes kept, in flight and done: 64 MiB. */
export const DEFAULT_DEDUP_MAX_BYTES = 64 * 1024 * 1024;
/**
 * What one entry costs besides its key, fingerprint and outcome: the map slot, the entry,
 * outcome and status objects. Measured with V8 on Node 20 (see the memory store's test).
 */
export const DEDUP_ENTRY_OVERHEAD_BYTES = 500;
/** What a kept message object costs in memory beyond its serialized size (object, Buffer). */
export const DEDUP_MESSAGE_OVERHEAD_BYTES = 256;
/** What a metadata entry costs in memory beyond its key and value (map slot, array, strings). */
export const DEDUP_METADATA_ENTRY_OVERHEAD_BYTES = 112;

/** Reason trailer of a repeat whose first run's outcome was too large to keep. */
export const OUTCOME_NOT_KEPT_REASON = 'dedup-outcome-not-kept';

/** Bounds common to every dedup store. Input: all optional. */
export interface DedupStoreLimits {
  /** How long an outcome is kept, ms. Default 10 minutes; 1 ms to 7 days. */
  ttlMs?: number;
  /** How long a claim may stay in flight, ms. Default 2 minutes; 1 ms to 1 day. */
  inFlightTtlMs?: number;
  /** Most entries, in flight included. Default 10,000; 1 to 10,000,000. */
  maxEntries?: number;
  /** Most bytes (estimated, see `outcomeBytes`), in flight included. Default 64 MiB; 1 KiB to 64 GiB. */
  maxBytes?: number;
}

/** {@link DedupStoreLimits}, validated and defaulted. */
export type ResolvedDedupStoreLimits = Readonly<Required<DedupStoreLimits>>;

/** The option names of {@link DedupStoreLimits}, for `objectOption`. */
export const DEDUP_STORE_LIMIT_KEYS = ['ttlMs', 'inFlightTtlMs', 'maxEntries', 'maxBytes'] as const;

/** Validates and defaults the limits; throws only `ConfigError` naming `<path>.<option>`. */
export function resolveDedupStoreLimits(
  path: string,
  input: Record<string, unknown>,
): ResolvedDedupStoreLimits {
  return Object.freeze({
    ttlMs: integerOption(`${path}.ttlMs`, input.ttlMs, DEFAULT_DEDUP_TTL_MS, {
      min: 1,
      max: 7 * 86_400_000,
    }),
    inFlightTtlMs: integerOption(
      `${path}.inFlightTtlMs`,
      input.inFlightTtlMs,
      DEFAULT_DEDUP_IN_FLIGHT_TTL_MS,
      { min: 1, max: 86_400_000 },
    ),
    maxEntries: integerOption(`${path}.maxEntries`, input.maxEntries, DEFAULT_DEDUP_MAX_ENTRIES, {
      min: 1,
      max: 10_000_000,
    }),
    maxBytes: integerOption(`${path}.maxBytes`, input.maxBytes, DEFAULT_DEDUP_MAX_BYTES, {
      min: 1024,
      max: 64 * 1024 ** 3,
    }),
  });
}

/** Estimated size of metadata: keys and values, plus a little per entry. */
export function metadataBytes(metadata: Metadata | null | undefined): number {
  if (!metadata) return 0;
  let bytes = 0;
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values)
      bytes += key.length + value.length + DEDUP_METADATA_ENTRY_OVERHEAD_BYTES;
  }
  return bytes;
}

/**
 * Estimated size of an outcome held in memory, bytes: its messages (`messageBytes`, each the
 * larger of its serialized size and its object's heap estimate; else 64 per message) plus what
 * each message object costs beyond that, headers, trailers and details. Calibrated so that a
 * store's accounting and its heap agree within 25%, for one small message and for large
 * messages of many short strings alike.
 */
export function outcomeBytes(outcome: StoredOutcome): number {
  return (
    (outcome.messageBytes ?? 64 * outcome.messages.length) +
    DEDUP_MESSAGE_OVERHEAD_BYTES * outcome.messages.length +
    metadataBytes(outcome.headers) +
    metadataBytes(outcome.status.metadata) +
    outcome.status.details.length
  );
}

/**
 * Kept in place of an outcome that was too large to keep: the key stays spent (a repeat must not
 * run the request again), and the repeat learns plainly that the answer is gone.
 */
export function outcomeNotKept(why: string): StoredOutcome {
  const metadata = new Metadata();
  metadata.set(REASON_METADATA_KEY, OUTCOME_NOT_KEPT_REASON);
  return {
    messages: [],
    status: {
      code: Status.FAILED_PRECONDITION,
      details: `a request with this idempotency key already ran, but its outcome was not kept: ${why}`,
      metadata,
    },
  };
}

/** True for an outcome made by {@link outcomeNotKept}. */
export function isOutcomeNotKept(outcome: StoredOutcome): boolean {
  return outcome.status.metadata?.get(REASON_METADATA_KEY)[0] === OUTCOME_NOT_KEPT_REASON;
}
