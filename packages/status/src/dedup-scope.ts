/**
 * Response header (and trailer) by which a server with the dedup interceptor says how far its
 * memory of idempotency keys reaches: `process` (this server process only) or `shared` (a store
 * every replica of the service uses). A client retries a keyed non-idempotent call only toward
 * servers that all declared `shared`: a retry may land on another replica, and only a shared
 * store lets that replica recognise the key.
 */
export const DEDUP_SCOPE_METADATA_KEY = 'grpc-resilience-dedup-scope';

/** How far a server's record of the idempotency keys it ran reaches. */
export type DedupScope = 'process' | 'shared';

/** Reads a declared scope from response metadata; undefined when absent or not understood. */
export function readDedupScope(
  metadata: { get(key: string): unknown[] } | undefined,
): DedupScope | undefined {
  const value = metadata?.get(DEDUP_SCOPE_METADATA_KEY)[0];
  return value === 'shared' || value === 'process' ? value : undefined;
}
