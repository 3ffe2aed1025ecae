export { RedisDedupStore } from './redis-dedup-store';
export {
  resolveRedisDedupStoreOptions,
  DEFAULT_REDIS_DEDUP_PREFIX,
  DEFAULT_REDIS_POLL_INITIAL_MS,
  DEFAULT_REDIS_POLL_MAX_MS,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  type RedisDedupStoreOptions,
  type ResolvedRedisDedupStoreOptions,
  type RedisCommandClient,
} from './redis-options';
export { v8OutcomeCodec, type OutcomeCodec } from './outcome-codec';
