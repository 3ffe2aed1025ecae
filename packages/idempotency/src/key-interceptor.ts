import { randomUUID } from 'node:crypto';
import type { InterceptingCall, InterceptingListener, Interceptor, Metadata } from '@grpc/grpc-js';
import {
  MethodTable,
  functionOption,
  objectOption,
  resolveMethodTable,
  ConfigError,
  ForwardingCall,
  type InterceptingCallInterface,
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
    return new KeyedCall(call, header, generateKey) as unknown as InterceptingCall;
  };
}

/** Adds one idempotency key to the call's metadata, unless the caller set one. */
class KeyedCall extends ForwardingCall {
  constructor(
    next: InterceptingCallInterface,
    private readonly header: string,
    private readonly generateKey: () => string,
  ) {
    super(next);
  }
  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    if (metadata.get(this.header).length > 0) return super.start(metadata, listener);
    // The caller may reuse its Metadata object for other calls: never write into it.
    const keyed = metadata.clone();
    keyed.set(this.header, this.generateKey());
    super.start(keyed, listener);
  }
}
