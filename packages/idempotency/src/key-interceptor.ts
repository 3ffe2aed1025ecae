import { randomUUID } from 'node:crypto';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import {
  MethodTable,
  functionOption,
  objectOption,
  resolveMethodTable,
  ConfigError,
  type MethodsConfig,
} from '@grpc-resilience/status';

/** The metadata key of idempotency keys (as in the IETF draft's `Idempotency-Key` header). */
export const DEFAULT_IDEMPOTENCY_HEADER = 'idempotency-key';

/** Options of {@link createIdempotencyKeyInterceptor}. */
export interface IdempotencyKeyOptions {
  /** Which methods are idempotent (they need no key): `methodsFromService(Client.service)`. */
  methods?: MethodsConfig | MethodTable;
  /** Metadata key. Default `idempotency-key`. */
  header?: string;
  /** Makes a key. Default `crypto.randomUUID`. */
  generateKey?: () => string;
}

/** Validates a metadata key name used for idempotency keys. */
export function resolveHeader(path: string, value: unknown): string {
  if (value === undefined) return DEFAULT_IDEMPOTENCY_HEADER;
  if (typeof value !== 'string' || !/^[a-z0-9_.-]+$/.test(value) || value.endsWith('-bin')) {
    throw new ConfigError(path, 'must be a lower-case ASCII metadata key (not -bin)', value);
  }
  return value;
}

/**
 * A client interceptor that gives every call of a non-idempotent method one idempotency key,
 * unless the caller set one. Put it outside the retry interceptor: every attempt of the logical
 * call then carries the same key, and a deduplicating server runs the call once.
 */
export function createIdempotencyKeyInterceptor(options?: IdempotencyKeyOptions): Interceptor {
  const input = objectOption('idempotency', options, ['methods', 'header', 'generateKey']);
  const methods =
    input.methods instanceof MethodTable
      ? input.methods
      : resolveMethodTable(input.methods, 'idempotency.methods');
  const header = resolveHeader('idempotency.header', input.header);
  const generateKey = functionOption('idempotency.generateKey', input.generateKey, randomUUID);

  return (callOptions, nextCall) => {
    const call = nextCall(callOptions) as InterceptingCall;
    if (methods.lookup(callOptions.method_definition.path)?.idempotent) return call;
    return new InterceptingCall(call, {
      start(metadata, listener, next) {
        if (metadata.get(header).length > 0) return next(metadata, listener);
        // The caller may reuse its Metadata object for other calls: never write into it.
        const keyed = metadata.clone();
        keyed.set(header, generateKey());
        next(keyed, listener);
      },
    });
  };
}
