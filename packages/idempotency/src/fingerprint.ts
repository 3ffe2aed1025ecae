import { createHash, type Hash } from 'node:crypto';

/**
 * A request's fingerprint: SHA-256 of the method path and the request message, 32 hex digits.
 * A stored outcome is tied to it, so a repeat of a key with another request is refused rather
 * than answered with someone else's outcome (the IETF Idempotency-Key draft, section 2.7, and
 * Stripe both refuse a reused key with a different payload).
 *
 * The server has the deserialized request only (grpc-js gives interceptors no request
 * serializer), so the message is hashed in a canonical form: object keys sorted, bytes as bytes,
 * numbers and strings tagged by type. Two requests that deserialize alike fingerprint alike,
 * whatever the generated code (proto-loader, ts-proto, grpc-tools).
 * `message` undefined (client and bidi streams, where the key is claimed before any message)
 * fingerprints the method alone.
 */
export function requestFingerprint(path: string, message?: unknown): string {
  const hash = createHash('sha256');
  hash.update(path);
  hash.update('\u0000');
  if (message !== undefined) feed(hash, message, 0, new Set());
  return hash.digest('hex').slice(0, 32);
}

/** Deep enough for any real request; deeper (or cyclic) parts are hashed by a marker only. */
const MAX_DEPTH = 64;

function feed(hash: Hash, value: unknown, depth: number, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
      hash.update(`s${value.length}:`);
      hash.update(value);
      return;
    case 'number':
    case 'boolean':
    case 'bigint':
      hash.update(`${(typeof value)[0]}${String(value)};`);
      return;
    case 'undefined':
      hash.update('u;');
      return;
    case 'object':
      break;
    default:
      hash.update(`${typeof value};`);
      return;
  }
  if (value === null) return void hash.update('n;');
  if (ArrayBuffer.isView(value)) {
    hash.update(`b${value.byteLength}:`);
    hash.update(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    return;
  }
  if (depth >= MAX_DEPTH || seen.has(value)) return void hash.update('~;');
  seen.add(value);
  if (Array.isArray(value)) {
    hash.update(`a${value.length}[`);
    for (const item of value) feed(hash, item, depth + 1, seen);
  } else {
    const keys = Object.keys(value).sort();
    hash.update(`o${keys.length}{`);
    for (const key of keys) {
      hash.update(`${key.length}:${key}`);
      feed(hash, (value as Record<string, unknown>)[key], depth + 1, seen);
    }
  }
  hash.update(']');
  seen.delete(value);
}
