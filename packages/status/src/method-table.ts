import { ConfigError } from './errors';
import { readServiceIdempotency } from './service-idempotency';
import { booleanOption, integerOption, isPlainObject, objectOption } from './validate';

/** Per-method policy, keyed by `/package.Service/Method` or `package.Service` in `methods`. */
export interface MethodPolicy {
  /** Safe to retry: the method's proto `idempotency_level` is IDEMPOTENT or NO_SIDE_EFFECTS. */
  idempotent?: boolean;
  /** Deadline for calls that bring none, in milliseconds (grpc-js: service config `timeout`). */
  timeoutMs?: number;
}

/** The `methods` option: policies by method path or service name. */
export type MethodsConfig = Readonly<Record<string, MethodPolicy>>;

/** Largest timer delay Node accepts (setTimeout overflows past 2^31-1 ms, about 24.8 days). */
export const MAX_TIMEOUT_MS = 2_147_483_647;

const METHOD_KEY = /^\/([A-Za-z_][\w.]*)\/([A-Za-z_]\w*)$/;
const SERVICE_KEY = /^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$/;

/**
 * A resolved `methods` table. `lookup(path)` finds the exact method first, then its service;
 * results are memoised per path, so the hot path is one Map read.
 */
export class MethodTable {
  private readonly entries: ReadonlyMap<string, Readonly<MethodPolicy>>;
  private readonly memo = new Map<string, Readonly<MethodPolicy> | undefined>();

  constructor(entries: ReadonlyMap<string, Readonly<MethodPolicy>> = new Map()) {
    this.entries = entries;
  }

  /** The policy for a method path such as `/pkg.Service/Method`, or undefined. */
  lookup(path: string): Readonly<MethodPolicy> | undefined {
    const memoised = this.memo.get(path);
    if (memoised !== undefined || this.memo.has(path)) return memoised;
    const exact = this.entries.get(path);
    const found = exact ?? this.entries.get(serviceOf(path));
    this.memo.set(path, found);
    return found;
  }

  /** A table where `other`'s entries win over this one's, field by field. */
  merge(other: MethodTable): MethodTable {
    const merged = new Map(this.entries);
    for (const [key, policy] of other.entries) merged.set(key, { ...merged.get(key), ...policy });
    return new MethodTable(merged);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** `pkg.Service` from `/pkg.Service/Method` (the path itself when it has no such shape). */
export function serviceOf(path: string): string {
  const end = path.lastIndexOf('/');
  return end > 0 ? path.slice(1, end) : path;
}

/**
 * Validates a `methods` option into a {@link MethodTable}. Keys must be `/package.Service/Method`
 * or `package.Service`; a malformed key (e.g. `pkg.Service/Method` without the leading slash)
 * throws, because it would silently match nothing.
 */
export function resolveMethodTable(input: unknown, path = 'methods'): MethodTable {
  if (input === undefined) return new MethodTable();
  if (!isPlainObject(input))
    throw new ConfigError(path, 'must be an object keyed by method', input);
  const entries = new Map<string, Readonly<MethodPolicy>>();
  for (const [key, value] of Object.entries(input)) {
    const where = `${path}[${JSON.stringify(key)}]`;
    if (!METHOD_KEY.test(key) && !SERVICE_KEY.test(key)) {
      throw new ConfigError(
        where,
        'must be keyed by "/package.Service/Method" or "package.Service"',
        key,
      );
    }
    const fields = objectOption(where, value, ['idempotent', 'timeoutMs']);
    const policy: MethodPolicy = {};
    if (fields.idempotent !== undefined) {
      policy.idempotent = booleanOption(`${where}.idempotent`, fields.idempotent, false);
    }
    if (fields.timeoutMs !== undefined) {
      policy.timeoutMs = integerOption(`${where}.timeoutMs`, fields.timeoutMs, 0, {
        min: 1,
        max: MAX_TIMEOUT_MS,
      });
    }
    entries.set(key, Object.freeze(policy));
  }
  return new MethodTable(entries);
}

/**
 * Reads each method's proto `idempotency_level` from a service definition: a generated client's
 * `Client.service` (as @grpc/proto-loader produces it) or ts-proto's generic definition (see
 * {@link readServiceIdempotency}). IDEMPOTENT and NO_SIDE_EFFECTS make a method idempotent.
 * Methods without the option get no entry, so `methods` config can decide. grpc-js hands
 * interceptors the method path only, never its options: this is how they learn it.
 */
export function methodsFromService(service: Readonly<Record<string, unknown>>): MethodsConfig {
  return readServiceIdempotency(service).methods;
}
