export {
  createIdempotencyKeyInterceptor,
  DEFAULT_IDEMPOTENCY_HEADER,
  type IdempotencyKeyOptions,
} from './key-interceptor';
export { createDedupInterceptor } from './dedup-interceptor';
export {
  resolveDedupOptions,
  defaultDedupScopeOf,
  DEFAULT_DEDUP_MAX_OUTCOME_BYTES,
  type DedupOptions,
  type ResolvedDedupOptions,
  type DedupCallInfo,
  type DedupErrorContext,
  type DedupAuthContext,
} from './dedup-options';
export { REPLAYED_METADATA_KEY, DEDUP_REASONS } from './replay';
export {
  type DedupStore,
  type DedupClaim,
  type DedupStoreUsage,
  type StoredOutcome,
} from './dedup-store';
export {
  MemoryDedupStore,
  resolveMemoryDedupStoreOptions,
  type MemoryDedupStoreOptions,
  type ResolvedMemoryDedupStoreOptions,
} from './memory-dedup-store';
export {
  resolveDedupStoreLimits,
  outcomeBytes,
  metadataBytes,
  outcomeNotKept,
  isOutcomeNotKept,
  DEDUP_STORE_LIMIT_KEYS,
  DEDUP_ENTRY_OVERHEAD_BYTES,
  DEFAULT_DEDUP_TTL_MS,
  DEFAULT_DEDUP_IN_FLIGHT_TTL_MS,
  DEFAULT_DEDUP_MAX_ENTRIES,
  DEFAULT_DEDUP_MAX_BYTES,
  OUTCOME_NOT_KEPT_REASON,
  type DedupStoreLimits,
  type ResolvedDedupStoreLimits,
} from './store-limits';
