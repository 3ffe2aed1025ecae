import {
  InterceptingCall,
  status as Status,
  type Interceptor,
  type Metadata,
  type StatusObject,
} from '@grpc/grpc-js';
import type { Level, Logger } from 'pino';
import {
  REASON_METADATA_KEY,
  classifyStatus,
  enumOption,
  objectOption,
  statusName,
} from '@grpc-resilience/status';
import { levelOf } from './levels';
import { DEFAULT_REDACTED_KEYS, redactMetadata } from './redact';

/** Options of {@link createClientLoggingInterceptor}. */
export interface ClientLoggingOptions {
  /** The pino logger (never created here). */
  logger: Logger;
  /** Level of a successful call's record. Default `debug`: successes cost nothing at `info`. */
  successLevel?: Level;
  /** More metadata keys to redact, besides authorization, cookies, API keys and every `-bin`. */
  redact?: readonly string[];
  /** Reads the circuit state to put in failure records (the channel factory wires it). */
  breakerState?: (method: string) => string;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/**
 * One pino record per logical call (outermost in the chain, so retries are inside it): method,
 * peer, status code and name, duration, attempts, deadline given and time left, breaker state,
 * classification, and the layer's reason when it ended the call itself. Failures log at a level
 * by classification; successes at `successLevel`. Request metadata appears on failures, redacted.
 */
export function createClientLoggingInterceptor(options: ClientLoggingOptions): Interceptor {
  const input = objectOption('logging', options, [
    'logger',
    'successLevel',
    'redact',
    'breakerState',
  ]);
  const logger = input.logger as Logger;
  if (!logger || typeof logger.info !== 'function')
    throw new TypeError('logging.logger must be a pino logger');
  const successLevel = enumOption('logging.successLevel', input.successLevel, 'debug', LEVELS);
  const redacted = new Set([
    ...DEFAULT_REDACTED_KEYS,
    ...((input.redact as string[] | undefined) ?? []),
  ]);
  const breakerState = options.breakerState;

  return (callOptions, nextCall) => {
    const startedAt = performance.now();
    const startedAtEpoch = Date.now();
    const method = callOptions.method_definition.path;
    let requestMetadata: Metadata | undefined;
    const call = nextCall(callOptions) as InterceptingCall;
    return new InterceptingCall(call, {
      start(metadata, _listener, next) {
        requestMetadata = metadata;
        next(metadata, {
          onReceiveStatus(status: StatusObject, nextStatus) {
            const ok = status.code === Status.OK;
            if (!ok || logger.isLevelEnabled(successLevel)) {
              // Read now: the deadline interceptor, inside this one, set it on the same options.
              const deadline = deadlineMs(callOptions.deadline);
              const durationMs = Math.round((performance.now() - startedAt) * 100) / 100;
              const record: Record<string, unknown> = {
                grpc: {
                  method,
                  peer: call.getPeer(),
                  code: status.code,
                  status: statusName(status.code),
                  durationMs,
                  attempts: Number(status.metadata?.get('grpc-resilience-attempts')[0] ?? 1),
                  deadlineMs:
                    deadline === undefined ? undefined : Math.round(deadline - startedAtEpoch),
                  timeLeftMs:
                    deadline === undefined ? undefined : Math.round(deadline - Date.now()),
                },
              };
              if (ok) {
                logger[successLevel](record, 'grpc call');
              } else {
                const cls = classifyStatus(status);
                const grpc = record.grpc as Record<string, unknown>;
                grpc.details = status.details;
                grpc.fault = cls.fault;
                grpc.origin = cls.origin;
                grpc.reason = status.metadata?.get(REASON_METADATA_KEY)[0];
                grpc.breaker = breakerState?.(method);
                grpc.metadata = redactMetadata(requestMetadata, redacted);
                logger[levelOf(cls)](record, 'grpc call failed');
              }
            }
            nextStatus(status);
          },
        });
      },
    });
  };
}

/**
 * Retry hooks that log each retry and each give-up at `debug` (the per-attempt records), for the
 * retry interceptor's `onRetry` / `onGiveUp`.
 */
export function attemptLogHooks(logger: Logger) {
  return {
    onRetry(event: { method: string; attempt: number; delayMs: number; status: StatusObject }) {
      if (!logger.isLevelEnabled('debug')) return;
      const { method, attempt, delayMs, status } = event;
      logger.debug(
        {
          grpc: {
            method,
            attempt,
            delayMs,
            code: status.code,
            status: statusName(status.code),
            details: status.details,
          },
        },
        'grpc attempt failed, retrying',
      );
    },
    onGiveUp(event: { method: string; attempts: number; reason: string; status: StatusObject }) {
      if (!logger.isLevelEnabled('debug')) return;
      const { method, attempts, reason, status } = event;
      logger.debug(
        { grpc: { method, attempts, reason, code: status.code, status: statusName(status.code) } },
        'grpc retries stopped',
      );
    },
  };
}

function deadlineMs(deadline: Date | number | undefined): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return at === undefined || at === Infinity ? undefined : at;
}
