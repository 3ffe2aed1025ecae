import type { Metadata, ServerInterceptingCallInterface } from '@grpc/grpc-js';
import {
  ConfigError,
  enumOption,
  functionOption,
  integerOption,
  objectOption,
  type DedupScope,
} from '@grpc-resilience/status';
import type { DedupStore } from './dedup-store';
import { resolveHeader } from './key-interceptor';
import { MemoryDedupStore } from './memory-dedup-store';

/** What grpc-js knows of a connection's authentication (`call.getAuthContext()`). */
export type DedupAuthContext = ReturnType<ServerInterceptingCallInterface['getAuthContext']>;

/** Largest outcome a keyed call may keep for replay by default: 1 MiB. */
export const DEFAULT_DEDUP_MAX_OUTCOME_BYTES = 1024 * 1024;

/** What a `scopeOf` hook sees of a call. */
export interface DedupCallInfo {
  /** Method path, e.g. `/pkg.Service/Method`. */
  readonly method: string;
  /** The request's metadata (headers). */
  readonly metadata: Metadata;
  /** The client's address, as grpc-js reports it. */
  readonly peer: string;
  /** The connection's authentication (TLS peer certificate when the client presented one). */
  readonly authContext: DedupAuthContext;
}

/** Where a store failure happened, for `onError`. */
export interface DedupErrorContext {
  /** Which store call, or hook, failed. */
  readonly operation: 'claim' | 'complete' | 'release' | 'wait' | 'scopeOf';
  /** Method path of the call being served. */
  readonly method: string;
}

/** Options of `createDedupInterceptor`. */
export interface DedupOptions {
  /**
   * Where outcomes are kept. Default a new `MemoryDedupStore()` (scope `process`: safe only when
   * every retry reaches the same process). Use a shared store (e.g. `RedisDedupStore`) when a
   * client may send a retry to another replica.
   */
  store?: DedupStore;
  /** Metadata key of idempotency keys. Default `idempotency-key`. */
  header?: string;
  /**
   * The caller's scope: keys of different scopes never meet, so one caller cannot read another's
   * outcome by guessing its key. Default {@link defaultDedupScopeOf}: the TLS client
   * certificate's SHA-256 fingerprint when the client presented one, else none (every caller
   * shares one key space). May throw: the call then fails with INTERNAL, unrun.
   */
  scopeOf?: (call: DedupCallInfo) => string;
  /**
   * Largest outcome kept for replay, bytes (serialized messages plus metadata). A larger one
   * leaves the key spent: repeats get FAILED_PRECONDITION (`dedup-outcome-not-kept`) rather than
   * a second run. It also bounds what a keyed stream buffers. Default 1 MiB; 0 to 1 GiB.
   */
  maxOutcomeBytes?: number;
  /** Told of every store or hook failure (the call still gets a status). Default: a process warning. */
  onError?: (error: unknown, context: DedupErrorContext) => void;
}

/** {@link DedupOptions}, validated and defaulted. */
export interface ResolvedDedupOptions {
  readonly store: DedupStore;
  readonly scope: DedupScope;
  readonly header: string;
  readonly scopeOf: (call: DedupCallInfo) => string;
  readonly maxOutcomeBytes: number;
  readonly onError: (error: unknown, context: DedupErrorContext) => void;
}

/** The documented default of `scopeOf`: the mTLS client's certificate fingerprint, else ''. */
export function defaultDedupScopeOf(call: DedupCallInfo): string {
  return call.authContext.sslPeerCertificate?.fingerprint256 ?? '';
}

function warn(error: unknown, context: DedupErrorContext): void {
  process.emitWarning(`dedup ${context.operation} failed for ${context.method}: ${String(error)}`, {
    code: 'GRPC_RESILIENCE_DEDUP',
  });
}

/** Validates the dedup options once; throws only `ConfigError`. */
export function resolveDedupOptions(options?: DedupOptions, path = 'dedup'): ResolvedDedupOptions {
  const input = objectOption(path, options, [
    'store',
    'header',
    'scopeOf',
    'maxOutcomeBytes',
    'onError',
  ]);
  const store = input.store === undefined ? new MemoryDedupStore() : checkStore(path, input.store);
  return Object.freeze({
    store,
    scope: enumOption(`${path}.store.scope`, store.scope, 'process', ['process', 'shared']),
    header: resolveHeader(`${path}.header`, input.header),
    scopeOf: functionOption(`${path}.scopeOf`, input.scopeOf, defaultDedupScopeOf),
    maxOutcomeBytes: integerOption(
      `${path}.maxOutcomeBytes`,
      input.maxOutcomeBytes,
      DEFAULT_DEDUP_MAX_OUTCOME_BYTES,
      { min: 0, max: 1024 ** 3 },
    ),
    onError: functionOption(`${path}.onError`, input.onError, warn),
  });
}

function checkStore(path: string, store: unknown): DedupStore {
  const candidate = store as Record<string, unknown> | null;
  const ok =
    typeof candidate === 'object' &&
    candidate !== null &&
    ['claim', 'complete', 'release'].every((name) => typeof candidate[name] === 'function');
  if (!ok) {
    throw new ConfigError(
      `${path}.store`,
      'must be a DedupStore (an object with claim, complete and release methods)',
      store,
    );
  }
  return store as DedupStore;
}
