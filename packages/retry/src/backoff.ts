import type { Metadata } from '@grpc/grpc-js';
import { PUSHBACK_METADATA_KEY } from '@grpc-resilience/status';

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

/**
 * The wait before retry number `retry`, given what the server said. A `grpc-retry-pushback-ms`
 * value is used as is (gRFC A6: it replaces the backoff). A `google.rpc.RetryInfo` delay is a
 * floor: the client waits at least that long, then backs off from it with full jitter, so the
 * clients that one overloaded server told "300 ms" do not all return at the same instant. When
 * both are present the longer wait wins.
 */
export function retryDelayMs(
  retry: number,
  pushbackMs: number | undefined,
  retryInfoMs: number | undefined,
  backoff: {
    initialBackoffMs: number;
    maxBackoffMs: number;
    multiplier: number;
    random: () => number;
  },
): number {
  if (pushbackMs !== undefined && retryInfoMs === undefined) return pushbackMs;
  const jittered = backoffDelayMs(
    retry,
    backoff.initialBackoffMs,
    backoff.maxBackoffMs,
    backoff.multiplier,
    backoff.random,
  );
  const hinted = retryInfoMs === undefined ? jittered : retryInfoMs + jittered;
  return pushbackMs === undefined ? hinted : Math.max(pushbackMs, hinted);
}
