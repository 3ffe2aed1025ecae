import { Redis } from 'ioredis';
import {
  DEDUP_STORE_LIMIT_KEYS,
  resolveDedupStoreLimits,
  type DedupStoreLimits,
  type ResolvedDedupStoreLimits,
} from '@grpc-resilience/idempotency';
import { ConfigError, integerOption, objectOption } from '@grpc-resilience/status';
import { v8OutcomeCodec, type OutcomeCodec } from './outcome-codec';

/**
 * The part of an ioredis client the store uses (a `Redis` or a `Cluster` both have it): raw
 * commands with binary-safe replies.
 */
export interface RedisCommandClient {
  callBuffer(command: string, ...args: (string | Buffer | number)[]): Promise<unknown>;
}

/** Default key prefix. The braces are a Redis Cluster hash tag: every key in one slot. */
export const DEFAULT_REDIS_DEDUP_PREFIX = '{grpc-resilience-dedup}:';
/** First pause of a waiter polling for an in-flight run's outcome: 5 ms (doubling). */
export const DEFAULT_REDIS_POLL_INITIAL_MS = 5;
/** Longest pause between polls: 100 ms. */
export const DEFAULT_REDIS_POLL_MAX_MS = 100;
/** Command timeout of a client the store creates from a URL: 2 s (ioredis's `commandTimeout`). */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000;

/** Options of `RedisDedupStore`: the limits every dedup store has, and Redis's own. */
export interface RedisDedupStoreOptions extends DedupStoreLimits {
  /**
   * Required. An ioredis client (`new Redis(...)` or a `Cluster`), which the store uses but does
   * not close; or a `redis://` URL, from which the store makes (and `close()` quits) its own
   * client with a 2 s command timeout. Set `commandTimeout` on a client of your own, so a
   * stalled Redis fails calls (UNAVAILABLE, unrun) instead of holding them to their deadline.
   */
  redis: RedisCommandClient | string;
  /**
   * Prefix of the store's eight keys. Default `{grpc-resilience-dedup}:`. Give each service its
   * own when they share a Redis; keep a `{hash tag}` in it for Redis Cluster. 1 to 200 characters.
   */
  keyPrefix?: string;
  /** Encodes outcomes for Redis. Default `v8OutcomeCodec` (plain-object messages). */
  codec?: OutcomeCodec;
  /** First pause of a waiter's polling, ms, doubling each time. Default 5; 1 to 1,000. */
  pollInitialMs?: number;
  /** Longest pause between polls, ms. Default 100; `pollInitialMs` to 10,000. */
  pollMaxMs?: number;
}

/** {@link RedisDedupStoreOptions}, validated and defaulted. */
export interface ResolvedRedisDedupStoreOptions extends ResolvedDedupStoreLimits {
  readonly client: RedisCommandClient;
  /** The client the store made from a URL (and so quits on `close()`), if it did. */
  readonly ownedClient?: { quit(): Promise<unknown> };
  readonly keyPrefix: string;
  readonly codec: OutcomeCodec;
  readonly pollInitialMs: number;
  readonly pollMaxMs: number;
}

const KEYS = [
  ...DEDUP_STORE_LIMIT_KEYS,
  'redis',
  'keyPrefix',
  'codec',
  'pollInitialMs',
  'pollMaxMs',
] as const;

/** Validates the options once; throws only `ConfigError` (`dedup.store.<option>`). */
export function resolveRedisDedupStoreOptions(
  options: RedisDedupStoreOptions,
  path = 'dedup.store',
): ResolvedRedisDedupStoreOptions {
  const input = objectOption(path, options, KEYS);
  if (options === undefined) throw new ConfigError(path, 'must be an object with `redis`', options);
  const limits = resolveDedupStoreLimits(path, input);
  const keyPrefix = input.keyPrefix ?? DEFAULT_REDIS_DEDUP_PREFIX;
  if (typeof keyPrefix !== 'string' || keyPrefix.length < 1 || keyPrefix.length > 200) {
    throw new ConfigError(
      `${path}.keyPrefix`,
      'must be a string of 1 to 200 characters',
      keyPrefix,
    );
  }
  const codec = input.codec ?? v8OutcomeCodec;
  const isCodec =
    typeof codec === 'object' &&
    codec !== null &&
    typeof (codec as OutcomeCodec).encode === 'function' &&
    typeof (codec as OutcomeCodec).decode === 'function';
  if (!isCodec) {
    throw new ConfigError(
      `${path}.codec`,
      'must be an object with encode and decode methods',
      codec,
    );
  }
  const pollInitialMs = integerOption(
    `${path}.pollInitialMs`,
    input.pollInitialMs,
    DEFAULT_REDIS_POLL_INITIAL_MS,
    { min: 1, max: 1_000 },
  );
  const pollMaxMs = integerOption(
    `${path}.pollMaxMs`,
    input.pollMaxMs,
    Math.max(DEFAULT_REDIS_POLL_MAX_MS, pollInitialMs),
    { min: pollInitialMs, max: 10_000 },
  );
  const { client, ownedClient } = resolveClient(`${path}.redis`, input.redis);
  return Object.freeze({
    ...limits,
    client,
    ownedClient,
    keyPrefix,
    codec: codec as OutcomeCodec,
    pollInitialMs,
    pollMaxMs,
  });
}

function resolveClient(
  path: string,
  redis: unknown,
): { client: RedisCommandClient; ownedClient?: Redis } {
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//.test(redis)) {
      throw new ConfigError(
        path,
        'must be an ioredis client or a redis:// or rediss:// URL',
        redis,
      );
    }
    // Made last, once every other option is valid: a ConfigError leaves no socket behind.
    const client = new Redis(redis, { commandTimeout: DEFAULT_REDIS_COMMAND_TIMEOUT_MS });
    return { client: client as RedisCommandClient, ownedClient: client };
  }
  if (typeof (redis as RedisCommandClient | undefined)?.callBuffer !== 'function') {
    throw new ConfigError(path, 'must be an ioredis client or a redis:// or rediss:// URL', redis);
  }
  return { client: redis as RedisCommandClient };
}
