import { status as Status, type InterceptingCall, type StatusObject } from '@grpc/grpc-js';
import {
  ConfigError,
  MethodTable,
  functionOption,
  integerOption,
  numberOption,
  objectOption,
  resolveMethodTable,
  type MethodsConfig,
} from '@grpc-resilience/status';
import {
  ATTEMPT_OPTION_KEYS,
  resolveAttemptOptions,
  type AttemptOptions,
  type ResolvedAttemptOptions,
} from './attempt-options';
import { DedupScopes } from './dedup-scopes';
import { resolveBudget, type AnyRetryBudget, type BudgetOption } from './budget-options';

/** Why the layer stopped retrying a failed call. */
export type GiveUpReason =
  | 'non-retryable'
  | 'not-idempotent'
  | 'max-attempts'
  | 'budget'
  | 'deadline'
  | 'pushback'
  /** The server's `google.rpc.RetryInfo` could not be read. */
  | 'retry-info'
  /** The target's client-side throttle refused the attempt locally. */
  | 'throttled'
  | 'committed'
  | 'circuit-open'
  | 'bulkhead';

/** A retry about to happen. */
export interface RetryEvent {
  method: string;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  /** How long the layer waits before the next attempt. */
  delayMs: number;
  status: StatusObject;
}

/** A failed call the layer did not retry (further). */
export interface GiveUpEvent {
  method: string;
  /** Attempts made in all. */
  attempts: number;
  reason: GiveUpReason;
  status: StatusObject;
}

/**
 * Asked before each retry and hedge of a call on `method`: undefined to send it, else a call that
 * refuses it locally, as the status package's `rejectedCall` makes one. A refusal with the reason
 * `circuit-open` or `bulkhead` ends the call, unretried, with that reason. A circuit breaker's
 * `retryGate` refuses while its circuit is open.
 */
export type RetryGate = (method: string) => InterceptingCall | undefined;

/** Options of {@link createRetryInterceptor}. */
export interface RetryOptions extends AttemptOptions {
  /**
   * Attempts in all, the first included. Default 5, from 1 to 10: gRPC's own cap, and with the
   * adaptive budget an outage costs no more at 5 than at 3 (failing retries are charged), while
   * 3 attempts at 20% independent failures cap goodput at 99.2%. grpc-js:
   * `retryPolicy.maxAttempts` (clamped to 5).
   */
  maxAttempts?: number;
  /** Ceiling of the first retry's delay (full jitter), ms. Default 100. grpc-js: `initialBackoff`. */
  initialBackoffMs?: number;
  /** Largest delay ceiling, ms. Default 2000. grpc-js: `maxBackoff`. */
  maxBackoffMs?: number;
  /** Growth of the ceiling per retry. Default 2. grpc-js: `backoffMultiplier`. */
  multiplier?: number;
  /**
   * Codes worth retrying. Default UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED (the status package's
   * table). Transport failures (a reset stream's CANCELLED or INTERNAL) and never-sent requests
   * are retried as well; a local DEADLINE_EXCEEDED, a message over the size limit and the caller's
   * own cancellation never are. grpc-js: `retryableStatusCodes`.
   */
  retryableCodes?: readonly Status[];
  /**
   * Retry budget, shared per target, or false to turn it off. Default the adaptive budget,
   * `{ kind: 'adaptive', ratio: 0.2, maxTokens: 10, throttle: {} }`: failing retries are held to
   * about 20% of calls, retries that succeed are refunded, and first attempts are throttled in
   * an outage (the retry interceptor asks the throttle before each attempt itself). The
   * old fixed budget: `{ kind: 'fixed', ratio: 0.2, minPerSecond: 10 }`. Or a shared
   * `AdaptiveRetryBudget` / `RetryBudget`.
   */
  budget?: BudgetOption;
  /**
   * Which methods are idempotent: `{ '/pkg.Svc/Method' | 'pkg.Svc': { idempotent: true } }`.
   * Build it from a generated client with `methodsFromService(Client.service)`.
   */
  methods?: MethodsConfig | MethodTable;
  /**
   * Whether a non-idempotent call that carries an idempotency key may be retried, given that the
   * servers deduplicate by key (`createDedupInterceptor`). Default `'declared'`: only toward a
   * target whose servers all declared a store shared by every replica (the
   * `grpc-resilience-dedup-scope: shared` response header), learnt from their answers. `true`:
   * the caller vouches for the servers, unless they declare a per-process store while more than
   * one of them answers. `false`: never.
   */
  serverDeduplicates?: boolean | 'declared';
  /** What the target's servers declared about their dedup stores; share one per target. */
  dedupScopes?: DedupScopes;
  /** Metadata key of the idempotency key. Default `idempotency-key`. */
  idempotencyKeyHeader?: string;
  /**
   * Client and bidi streams: request bytes kept for replay, as on the wire (serialized size plus
   * the 5-byte prefix of each message). Past it the call commits and the writer's callback waits
   * until an attempt takes the message. Default 1 MiB, from 0 to 1 GiB. grpc-js:
   * `grpc.per_rpc_retry_buffer_size`.
   */
  maxBufferBytes?: number;
  /**
   * Asked before each retry and hedge, not the first attempt (see {@link RetryGate}): the
   * channel passes its circuit breaker's `retryGate`, so that the retries of a call admitted
   * before the circuit opened are refused, with no interceptor between the retry layer and
   * grpc-js. Default none. Envoy and grpc-js: none (their breakers count each attempt).
   */
  retryGate?: RetryGate;
  /** Called before each retry. */
  onRetry?: (event: RetryEvent) => void;
  /** Called when a failed call is not retried further. */
  onGiveUp?: (event: GiveUpEvent) => void;
  /** Random in [0, 1), injectable for tests. Default `Math.random`. */
  random?: () => number;
  /** Clock (ms epoch) for deadline checks, injectable. Default `Date.now`. */
  now?: () => number;
}

export interface ResolvedRetryOptions extends ResolvedAttemptOptions {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
  readonly retryableCodes: ReadonlySet<Status>;
  readonly budget: AnyRetryBudget | undefined;
  readonly methods: MethodTable;
  readonly serverDeduplicates: boolean | 'declared';
  readonly dedupScopes: DedupScopes | undefined;
  readonly idempotencyKeyHeader: string;
  readonly maxBufferBytes: number;
  readonly retryGate: RetryGate | undefined;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
  readonly onGiveUp: ((event: GiveUpEvent) => void) | undefined;
  readonly random: () => number;
  readonly now: () => number;
}

/** Default of `maxAttempts`: gRFC A6's cap (see {@link RetryOptions.maxAttempts}). */
export const DEFAULT_MAX_ATTEMPTS = 5;

export const DEFAULT_RETRYABLE_CODES: readonly Status[] = Object.freeze([
  Status.UNAVAILABLE,
  Status.RESOURCE_EXHAUSTED,
  Status.ABORTED,
]);

/** Every option name of {@link RetryOptions}, for validating configs that embed them. */
export const RETRY_OPTION_KEYS = [
  'maxAttempts',
  'initialBackoffMs',
  'maxBackoffMs',
  'multiplier',
  'retryableCodes',
  'budget',
  'methods',
  'serverDeduplicates',
  'dedupScopes',
  'idempotencyKeyHeader',
  'maxBufferBytes',
  'retryGate',
  'onRetry',
  'onGiveUp',
  'random',
  'now',
  ...ATTEMPT_OPTION_KEYS,
] as const;

/** Validates and defaults {@link RetryOptions}; throws `ConfigError` naming the option. */
export function resolveRetryOptions(
  options: RetryOptions | undefined,
  path = 'retry',
): ResolvedRetryOptions {
  const input = objectOption(path, options, RETRY_OPTION_KEYS);
  const initialBackoffMs = integerOption(`${path}.initialBackoffMs`, input.initialBackoffMs, 100, {
    min: 0,
    max: 60_000,
  });
  const maxBackoffMs = integerOption(`${path}.maxBackoffMs`, input.maxBackoffMs, 2000, {
    min: 0,
    max: 600_000,
  });
  if (maxBackoffMs < initialBackoffMs) {
    throw new ConfigError(
      `${path}.maxBackoffMs`,
      `must not be below initialBackoffMs (${initialBackoffMs})`,
      maxBackoffMs,
    );
  }
  const header = input.idempotencyKeyHeader ?? 'idempotency-key';
  if (typeof header !== 'string' || !/^[a-z0-9_.-]+$/.test(header) || header.endsWith('-bin')) {
    throw new ConfigError(
      `${path}.idempotencyKeyHeader`,
      'must be a lower-case ASCII metadata key',
      header,
    );
  }
  const serverDeduplicates = input.serverDeduplicates ?? 'declared';
  if (serverDeduplicates !== 'declared' && typeof serverDeduplicates !== 'boolean') {
    throw new ConfigError(
      `${path}.serverDeduplicates`,
      "must be true, false or 'declared'",
      serverDeduplicates,
    );
  }
  return Object.freeze({
    maxAttempts: integerOption(`${path}.maxAttempts`, input.maxAttempts, DEFAULT_MAX_ATTEMPTS, {
      min: 1,
      max: 10,
    }),
    initialBackoffMs,
    maxBackoffMs,
    multiplier: numberOption(`${path}.multiplier`, input.multiplier, 2, { min: 1, max: 10 }),
    retryableCodes: resolveCodes(`${path}.retryableCodes`, input.retryableCodes),
    budget: resolveBudget(`${path}.budget`, input.budget),
    methods:
      input.methods instanceof MethodTable
        ? input.methods
        : resolveMethodTable(input.methods, `${path}.methods`),
    serverDeduplicates,
    dedupScopes:
      serverDeduplicates === false ? undefined : resolveDedupScopes(path, input.dedupScopes),
    idempotencyKeyHeader: header,
    maxBufferBytes: integerOption(`${path}.maxBufferBytes`, input.maxBufferBytes, 1 << 20, {
      min: 0,
      max: 1 << 30,
    }),
    retryGate:
      input.retryGate === undefined
        ? undefined
        : functionOption(`${path}.retryGate`, input.retryGate, () => undefined),
    onRetry:
      input.onRetry === undefined
        ? undefined
        : functionOption(`${path}.onRetry`, input.onRetry, () => undefined),
    onGiveUp:
      input.onGiveUp === undefined
        ? undefined
        : functionOption(`${path}.onGiveUp`, input.onGiveUp, () => undefined),
    random: functionOption(`${path}.random`, input.random, Math.random),
    now: functionOption(`${path}.now`, input.now, Date.now),
    ...resolveAttemptOptions(path, input),
  });
}

function resolveCodes(path: string, value: unknown): ReadonlySet<Status> {
  if (value === undefined) return new Set(DEFAULT_RETRYABLE_CODES);
  if (!Array.isArray(value) || value.length === 0) {
    throw new ConfigError(path, 'must be a non-empty array of status codes', value);
  }
  for (const code of value) {
    if (!Number.isInteger(code) || code < 1 || code > 16) {
      throw new ConfigError(
        path,
        'must hold status codes from 1 to 16 (OK is never retried)',
        code,
      );
    }
  }
  return new Set(value as Status[]);
}

function resolveDedupScopes(path: string, value: unknown): DedupScopes {
  if (value === undefined) return new DedupScopes();
  if (value instanceof DedupScopes) return value;
  throw new ConfigError(`${path}.dedupScopes`, 'must be a DedupScopes instance', value);
}
