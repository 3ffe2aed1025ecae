import {
  ConfigError,
  MAX_TIMEOUT_MS,
  MethodTable,
  booleanOption,
  integerOption,
  objectOption,
  resolveMethodTable,
  resolvedOptions,
  type MethodsConfig,
} from '@grpc-resilience/status';

/**
 * Deadline of a unary or client-streaming call when neither the caller nor `methods` gives one
 * (docs/architecture.md: 5 s).
 */
export const DEFAULT_DEADLINE_MS = 5_000;
/**
 * Deadline of a server-streaming or bidi call when neither the caller nor `methods` gives one:
 * 30 minutes. Such calls are often long-lived (watch, subscribe, tail), so the unary default
 * would end every one of them at 5 s. A dead peer is found by keepalive within seconds, not by
 * this deadline; it only bounds a stream nobody ends, so that no call waits forever and clients
 * exercise their reconnect path (Kubernetes' API server ends watches after 30 to 60 minutes for
 * the same reason).
 */
export const DEFAULT_STREAM_DEADLINE_MS = 1_800_000;
/** A call with less time than this left fails at once instead of being sent. */
export const DEFAULT_MIN_BUDGET_MS = 5;
/** Time kept back from an inherited deadline, for the answer to travel back up. */
export const DEFAULT_PROPAGATION_MARGIN_MS = 10;

/** Options of {@link createDeadlineInterceptor}. */
export interface DeadlineOptions {
  /**
   * Deadline in ms for calls that bring none and whose method has no `timeoutMs`. Default 5000.
   * grpc-js equivalent: service config `methodConfig[].timeout` (which grpc-js misparses for
   * fractional seconds: "0.5s" becomes 5 ns).
   */
  defaultMs?: number;
  /**
   * Deadline in ms for server-streaming and bidi calls (those with a response stream) that bring
   * none and whose method has no `timeoutMs`. Default 1800000 (30 min); integer from 1 to
   * 2147483647. Unary and client-streaming calls use `defaultMs`. grpc-js has no default deadline
   * at all; gRPC's service config sets `timeout` per method, whatever its shape.
   */
  streamDefaultMs?: number;
  /**
   * A call with less than this many ms left fails at once with DEADLINE_EXCEEDED and is not
   * sent. Default 5; 0 turns the check off except for a deadline already passed.
   */
  minBudgetMs?: number;
  /** Per-method `timeoutMs`, keyed by `/pkg.Service/Method` or `pkg.Service`. */
  methods?: MethodsConfig | MethodTable;
  /**
   * Calls made while a server handler runs inherit the incoming call's deadline (minus
   * `propagationMarginMs`) and cancellation. Default true. grpc-js equivalent: passing `parent`
   * and `propagate_flags` by hand on every call.
   */
  propagate?: boolean;
  /** Milliseconds kept back from an inherited deadline. Default 10. */
  propagationMarginMs?: number;
}

export interface ResolvedDeadlineOptions {
  readonly defaultMs: number;
  readonly streamDefaultMs: number;
  readonly minBudgetMs: number;
  readonly methods: MethodTable;
  readonly propagate: boolean;
  readonly propagationMarginMs: number;
}

/** The keys of {@link DeadlineOptions}, for callers that pass a subset through. */
export const DEADLINE_OPTION_KEYS = [
  'defaultMs',
  'streamDefaultMs',
  'minBudgetMs',
  'methods',
  'propagate',
  'propagationMarginMs',
] as const;

/**
 * Validates and defaults {@link DeadlineOptions}; throws `ConfigError` naming the option.
 * `methods`, when given, is the method table the caller already resolved (the channel merges the
 * proto's and the top-level `methods`): `options.methods` is then refused.
 */
export function resolveDeadlineOptions(
  options: DeadlineOptions | undefined,
  path = 'deadline',
  methods?: MethodTable,
): ResolvedDeadlineOptions {
  const input = objectOption(path, options, DEADLINE_OPTION_KEYS);
  if (methods !== undefined && input.methods !== undefined) {
    throw new ConfigError(
      `${path}.methods`,
      'is given at the top level of this config (methods)',
      input.methods,
    );
  }
  return resolvedOptions({
    defaultMs: integerOption(`${path}.defaultMs`, input.defaultMs, DEFAULT_DEADLINE_MS, {
      min: 1,
      max: MAX_TIMEOUT_MS,
    }),
    streamDefaultMs: integerOption(
      `${path}.streamDefaultMs`,
      input.streamDefaultMs,
      DEFAULT_STREAM_DEADLINE_MS,
      { min: 1, max: MAX_TIMEOUT_MS },
    ),
    minBudgetMs: integerOption(`${path}.minBudgetMs`, input.minBudgetMs, DEFAULT_MIN_BUDGET_MS, {
      min: 0,
      max: 60_000,
    }),
    methods:
      methods ??
      (input.methods instanceof MethodTable
        ? input.methods
        : resolveMethodTable(input.methods, `${path}.methods`)),
    propagate: booleanOption(`${path}.propagate`, input.propagate, true),
    propagationMarginMs: integerOption(
      `${path}.propagationMarginMs`,
      input.propagationMarginMs,
      DEFAULT_PROPAGATION_MARGIN_MS,
      { min: 0, max: 60_000 },
    ),
  });
}

/** Options of {@link createServerContextInterceptor}. */
export interface ServerContextOptions {
  /**
   * A request arriving with less than this many ms left is answered DEADLINE_EXCEEDED without
   * running the handler. Default 5; 0 turns it off.
   */
  minBudgetMs?: number;
}

export function resolveServerContextOptions(
  options: ServerContextOptions | undefined,
  path = 'deadline',
): Readonly<Required<ServerContextOptions>> {
  const input = objectOption(path, options, ['minBudgetMs']);
  return Object.freeze({
    minBudgetMs: integerOption(`${path}.minBudgetMs`, input.minBudgetMs, DEFAULT_MIN_BUDGET_MS, {
      min: 0,
      max: 60_000,
    }),
  });
}

// Re-exported where it was first published; its one home is status.
export { deadlineToMs } from '@grpc-resilience/status';
