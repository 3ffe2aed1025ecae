import { randomBytes } from 'node:crypto';
import { Metadata, status as Status } from '@grpc/grpc-js';
import { adaptLogger, type LayerLogger, type SafeLogger } from '@grpc-resilience/logging';
import { enumOption, objectOption } from '@grpc-resilience/status';

/** The `code` of the process warning written when a handler fails and no logger was given. */
export const HANDLER_ERROR_WARNING = 'GRPC_RESILIENCE_HANDLER_ERROR';

/** How a handler failed, as its log record says. */
export type HandlerFailure = 'threw' | 'rejected' | 'stream error' | 'callback';

/** Options of the handler safety net (`handlerErrors` of the server options). */
export interface HandlerErrorOptions {
  /**
   * Where one record per failed handler goes (pino's shape), at level `error`. Default none: a
   * process warning (code `GRPC_RESILIENCE_HANDLER_ERROR`) instead, so a failure is never silent.
   */
  logger?: LayerLogger;
  /**
   * Status of a call whose handler failed by accident. Default `UNKNOWN`, as grpc-js itself and
   * grpc-go answer a handler that throws; `INTERNAL` is the other choice.
   */
  code?: 'UNKNOWN' | 'INTERNAL';
}

/** The resolved handler safety options. */
export interface ResolvedHandlerErrorOptions {
  readonly code: Status.UNKNOWN | Status.INTERNAL;
  readonly logger: SafeLogger | undefined;
}

/** Validates and defaults {@link HandlerErrorOptions}; a bad one throws a `ConfigError`. */
export function resolveHandlerErrorOptions(
  options: HandlerErrorOptions | undefined,
  path = 'handlerErrors',
): ResolvedHandlerErrorOptions {
  const input = objectOption(path, options, ['logger', 'code']);
  const code = enumOption(`${path}.code`, input.code, 'UNKNOWN', ['UNKNOWN', 'INTERNAL']);
  return Object.freeze({
    code: code === 'UNKNOWN' ? Status.UNKNOWN : Status.INTERNAL,
    logger: input.logger === undefined ? undefined : adaptLogger(input.logger, `${path}.logger`),
  });
}

/** A status a handler chose on purpose: an object whose `code` is a gRPC status from 1 to 16. */
export interface DeliberateStatus {
  code: number;
  details?: string;
  message?: string;
  metadata?: Metadata;
}

/**
 * Whether an error carries a gRPC status its handler chose (`{ code: status.NOT_FOUND, details }`
 * or a `ServiceError`): only then do its code, details and trailers reach the client. A Node
 * system error's `code` is a string (`ECONNREFUSED`) and a database's is out of range, so those
 * count as accidents.
 */
export function isDeliberateStatus(error: unknown): error is DeliberateStatus {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' && Number.isInteger(code) && code >= 1 && code <= 16;
}

/** The status the client gets for an accident, with the reference that finds its log record. */
export interface AccidentStatus {
  code: number;
  details: string;
  metadata: Metadata;
  /** The error as the handler raised it, for the server's own listeners; never sent. */
  cause: unknown;
}

/** Marks the statuses made here, so a status already made safe is never made safe twice. */
const SAFE = Symbol('grpc-resilience.safe-status');

/** Whether `error` is a status this module already made (and logged). */
export function isSafeStatus(error: unknown): boolean {
  return typeof error === 'object' && error !== null && SAFE in error;
}

/**
 * Turns what a handler threw, rejected with, emitted or passed to its callback into what the
 * client may see, and logs an accident once. A deliberate status goes out as it is, unlogged: it
 * is the handler's answer. Anything else becomes `code` with details `handler failed (ref X)`,
 * never the error's message or stack (they can carry SQL, paths or credentials); the record
 * logged under the same `ref` keeps them for the operator.
 */
export function toClientStatus(
  error: unknown,
  how: HandlerFailure,
  method: string,
  options: ResolvedHandlerErrorOptions,
  afterEnd = false,
): DeliberateStatus | AccidentStatus {
  if (isSafeStatus(error)) return error as AccidentStatus;
  if (isDeliberateStatus(error) && !afterEnd) return error;
  const status = accidentStatus(error, options);
  logAccident(status, error, how, method, options, afterEnd);
  return status;
}

/** The status of an accident, with a fresh reference; not logged yet (see {@link logAccident}). */
export function accidentStatus(
  error: unknown,
  options: ResolvedHandlerErrorOptions,
): AccidentStatus {
  // The error path alone pays for the reference: 4 random bytes, 8 hex digits.
  const ref = randomBytes(4).toString('hex');
  const status: AccidentStatus = {
    code: options.code,
    details: `handler failed (ref ${ref})`,
    metadata: new Metadata(),
    cause: error,
  };
  Object.defineProperty(status, SAFE, { value: ref });
  return status;
}

/** Writes the one record of an accident, under the reference its status carries. */
export function logAccident(
  status: AccidentStatus,
  error: unknown,
  how: HandlerFailure,
  method: string,
  options: ResolvedHandlerErrorOptions,
  afterEnd = false,
): void {
  const ref = (status as unknown as Record<symbol, string>)[SAFE];
  logHandlerFailure(error, how, method, ref, afterEnd, options.logger);
}

function logHandlerFailure(
  error: unknown,
  how: HandlerFailure,
  method: string,
  ref: string,
  afterEnd: boolean,
  logger: SafeLogger | undefined,
): void {
  const message = afterEnd ? 'handler failed after its call ended' : 'handler failed';
  if (logger === undefined) {
    process.emitWarning(
      `grpc-resilience: ${message}: ${method} ${how} (ref ${ref}): ${describe(error)}`,
      {
        code: HANDLER_ERROR_WARNING,
      },
    );
    return;
  }
  logger.write('error', { method, how, ref, afterEnd, err: error }, message);
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
