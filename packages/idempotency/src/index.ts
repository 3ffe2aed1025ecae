export {
  createIdempotencyKeyInterceptor,
  DEFAULT_IDEMPOTENCY_HEADER,
  type IdempotencyKeyOptions,
} from './key-interceptor';
export {
  createDedupInterceptor,
  REPLAYED_METADATA_KEY,
  type DedupOptions,
} from './dedup-interceptor';
export {
  MemoryDedupStore,
  type DedupStore,
  type DedupClaim,
  type StoredOutcome,
  type MemoryDedupStoreOptions,
} from './dedup-store';
