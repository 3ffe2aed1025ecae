/**
 * Base class of every error this project throws. `code` is a stable string to branch on (like
 * undici's and Node's own `ERR_*` codes); messages may change, codes do not.
 */
export class GrpcResilienceError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'GrpcResilienceError';
    this.code = code;
  }
}

/** The stable `code` of {@link ConfigError}. */
export const CONFIG_ERROR_CODE = 'ERR_GRPC_RESILIENCE_CONFIG';

/**
 * A bad option, thrown at construction time (never at the first call). The message names the
 * option's path, what is allowed and the value received, e.g.
 * `retry.maxAttempts must be an integer from 1 to 5, received 0`.
 */
export class ConfigError extends GrpcResilienceError {
  /** Dotted path of the offending option, e.g. `retry.maxAttempts`. */
  readonly option: string;
  /** The value that was passed. */
  readonly received: unknown;

  constructor(option: string, allowed: string, received: unknown) {
    super(CONFIG_ERROR_CODE, `${option} ${allowed}, received ${describeValue(received)}`);
    this.name = 'ConfigError';
    this.option = option;
    this.received = received;
  }
}

/** Renders a received value for an error message: strings quoted, objects as short JSON. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return `a function`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  try {
    const json = JSON.stringify(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return 'an object';
  }
}
