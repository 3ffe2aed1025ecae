import type { Metadata } from '@grpc/grpc-js';

/** Metadata keys whose values never reach a log (besides every `-bin` key). */
export const DEFAULT_REDACTED_KEYS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'idempotency-key',
]);

export const REDACTED = '[REDACTED]';

/**
 * Metadata as a plain object for a log record, with secrets replaced: the keys in `redacted`,
 * and every binary (`-bin`) value, which may hold tokens and would bloat logs anyway.
 */
export function redactMetadata(
  metadata: Metadata | undefined,
  redacted: ReadonlySet<string>,
): Record<string, string> {
  const result: Record<string, string> = {};
  if (!metadata) return result;
  for (const [key, values] of Object.entries(metadata.getMap())) {
    result[key] = redacted.has(key) || key.endsWith('-bin') ? REDACTED : String(values);
  }
  return result;
}
