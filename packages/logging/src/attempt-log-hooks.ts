import type { StatusObject } from '@grpc/grpc-js';
import { statusName } from '@grpc-resilience/status';
import { adaptLogger, type LayerLogger } from './logger';

/*
 * The events are typed by shape, not imported from the retry package: logging does not depend
 * on retry (the channel package wires the two together).
 */

/** A retry about to happen (the retry layer's `RetryEvent`). */
export interface RetryLogEvent {
  method: string;
  attempt: number;
  delayMs: number;
  status: StatusObject;
}

/** A failed call not retried further (the retry layer's `GiveUpEvent`). */
export interface GiveUpLogEvent {
  method: string;
  attempts: number;
  reason: string;
  status: StatusObject;
}

/** A hedge about to be sent (the retry layer's `HedgeEvent`). */
export interface HedgeLogEvent {
  method: string;
  attempt: number;
  delayMs: number;
  avoidPeer: string | undefined;
}

/**
 * Retry hooks that log each retry, each give-up and each hedge at `debug` (the per-attempt
 * records), for the retry interceptor's `onRetry` / `onGiveUp` / `onHedge`. One record per
 * event; nothing is built when `debug` is off.
 */
export function attemptLogHooks(layerLogger: LayerLogger) {
  const logger = adaptLogger(layerLogger);
  return {
    onRetry(event: RetryLogEvent) {
      if (!logger.isLevelEnabled('debug')) return;
      const { method, attempt, delayMs, status } = event;
      logger.write(
        'debug',
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
    onGiveUp(event: GiveUpLogEvent) {
      if (!logger.isLevelEnabled('debug')) return;
      const { method, attempts, reason, status } = event;
      logger.write(
        'debug',
        { grpc: { method, attempts, reason, code: status.code, status: statusName(status.code) } },
        'grpc retries stopped',
      );
    },
    onHedge(event: HedgeLogEvent) {
      if (!logger.isLevelEnabled('debug')) return;
      const { method, attempt, delayMs, avoidPeer } = event;
      // The hedge's attempt number and the delay the live attempt went unanswered; the endpoint
      // it is asked to avoid only when the live attempt had one.
      const grpc =
        avoidPeer === undefined
          ? { method, attempt, delayMs }
          : { method, attempt, delayMs, avoidPeer };
      logger.write('debug', { grpc }, 'grpc attempt slow, hedging');
    },
  };
}
