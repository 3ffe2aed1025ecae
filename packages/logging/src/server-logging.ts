import { ServerInterceptingCall, status as Status, type ServerInterceptor } from '@grpc/grpc-js';
import { classifyStatus, deadlineToMs, objectOption, statusName } from '@grpc-resilience/status';
import { levelOf, resolveLogSettings } from './levels';
import type { LayerLogger, LogLevel } from './logger';
import { redactMetadata } from './redact';
import { activeTraceIds, type TraceIds } from './trace-ids';

/** Options of {@link createServerLoggingInterceptor}. */
export interface ServerLoggingOptions {
  /** A pino logger, or anything with pino's `info(object, message)` shape. */
  logger: LayerLogger;
  /** Level of a successful call's record. Default `debug`. */
  successLevel?: LogLevel;
  /** More metadata keys to redact (any case). */
  redact?: readonly string[];
}

/** One pino record per served call: method, peer, status, duration, time left on arrival. */
export function createServerLoggingInterceptor(options: ServerLoggingOptions): ServerInterceptor {
  const input = objectOption('logging', options, ['logger', 'successLevel', 'redact']);
  const { logger, successLevel, redacted } = resolveLogSettings(input);

  return (method, call) => {
    const startedAt = performance.now();
    const at = deadlineToMs(call.getDeadline()) ?? Infinity;
    const arrivalBudgetMs = at === Infinity ? undefined : Math.round(at - Date.now());
    let requestMetadata: import('@grpc/grpc-js').Metadata | undefined;
    let trace: TraceIds | undefined;
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            requestMetadata = metadata;
            // Inside the server tracing interceptor's span, when there is one.
            trace = activeTraceIds();
            nextMetadata(metadata);
          },
        });
      },
      sendStatus(status, next) {
        const ok = status.code === Status.OK;
        if (!ok || logger.isLevelEnabled(successLevel)) {
          const grpc: Record<string, unknown> = {
            method: method.path,
            peer: call.getPeer(),
            code: status.code,
            status: statusName(status.code),
            durationMs: Math.round((performance.now() - startedAt) * 100) / 100,
            arrivalBudgetMs,
          };
          if (ok) {
            logger.write(successLevel, { ...trace, grpc }, 'grpc served');
          } else {
            const cls = classifyStatus(status);
            grpc.details = status.details;
            grpc.fault = cls.fault;
            grpc.metadata = redactMetadata(requestMetadata, redacted);
            logger.write(levelOf(cls), { ...trace, grpc }, 'grpc served with an error');
          }
        }
        next(status);
      },
    });
  };
}
