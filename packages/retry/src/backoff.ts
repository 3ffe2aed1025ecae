import type { Metadata } from '@grpc/grpc-js';

/** Trailer by which a server asks the client to wait before retrying (gRFC A6). */
export const PUSHBACK_METADATA_KEY = 'grpc-retry-pushback-ms';

/**
 * Delay before retry number `retry` (1 for the first retry): exponential with full jitter, i.e.
 * uniform in [0, min(maxMs, initialMs * multiplier^(retry-1))) (AWS "Exponential Backoff and
 * Jitter"; spreads retries of many clients better than A6's ±20%).
 */
export function backoffDelayMs(
  retry: number,
  initialMs: number,
  maxMs: number,
  multiplier: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxMs, initialMs * multiplier ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The server's pushback: `undefined` when absent, a delay in ms for a non-negative integer, and
 * `'stop'` for a negative or malformed value, which means "do not retry" (gRFC A6; grpc-js parses
 * malformed values as NaN and retries at once).
 */
export function parsePushback(trailers: Metadata | undefined): number | 'stop' | undefined {
  const values = trailers?.get(PUSHBACK_METADATA_KEY);
  if (!values || values.length === 0) return undefined;
  const text = String(values[0]).trim();
  if (!/^\d{1,10}$/.test(text)) return 'stop';
  const ms = Number(text);
  return ms > 2 ** 31 - 1 ? 'stop' : ms;
}
