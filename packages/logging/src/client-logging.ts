import {
  status as Status,
  type InterceptingCall,
  type InterceptingListener,
  type Interceptor,
  type InterceptorOptions,
  type Metadata,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ATTEMPTS_METADATA_KEY,
  ForwardingCall,
  type InterceptingCallInterface,
  REASON_METADATA_KEY,
  RETRY_STOPPED_METADATA_KEY,
  deadlineToMs,
  isFromTrailers,
  classifyStatus,
  objectOption,
  statusName,
  isStreamOwnDeadline,
} from '@grpc-resilience/status';
import { levelOf, resolveLogSettings, type LogSettings } from './levels';
import type { LayerLogger, LogLevel } from './logger';
import { redactMetadata } from './redact';
import { activeTraceIds, type TraceIds } from './trace-ids';

/** Options of {@link createClientLoggingInterceptor}. */
export interface ClientLoggingOptions {
  /** A pino logger, or anything with pino's `info(object, message)` shape (never created here). */
  logger: LayerLogger;
  /** Level of a successful call's record. Default `debug`: successes cost nothing at `info`. */
  successLevel?: LogLevel;
  /** More metadata keys to redact (any case), besides authorization, cookies, API keys and every `-bin`. */
  redact?: readonly string[];
  /** Reads the circuit state to put in failure records (the channel factory wires it). */
  breakerState?: (method: string) => string;
}

/**
 * One pino record per logical call (outermost in the chain, so retries are inside it): method,
 * peer, status code and name, duration, attempts, deadline given and time left, breaker state,
 * classification, and the layer's reason when it ended the call itself. Failures log at a level
 * by classification; successes at `successLevel`. Request metadata appears on failures, redacted.
 * A server-streaming or bidi call that ends by its own deadline (a watch that ran its course) is
 * no fault of anyone's: `info`, `fault: 'none'`, `endedBy: 'own-deadline'`.
 */
export function createClientLoggingInterceptor(options: ClientLoggingOptions): Interceptor {
  const input = objectOption('logging', options, [
    'logger',
    'successLevel',
    'redact',
    'breakerState',
  ]);
  const settings: CallLogSettings = {
    ...resolveLogSettings(input),
    breakerState: options.breakerState,
  };
  return (callOptions, nextCall) =>
    new LoggedCall(
      nextCall(callOptions) as InterceptingCall,
      callOptions,
      settings,
    ) as unknown as InterceptingCall;
}

interface CallLogSettings extends LogSettings {
  breakerState: ((method: string) => string) | undefined;
}

/** Writes the call's record when its status arrives. */
class LoggedCall extends ForwardingCall {
  private readonly startedAt = performance.now();
  private readonly startedAtEpoch = Date.now();
  private requestMetadata: Metadata | undefined;
  /** The trace the call belongs to: read when it is made, inside the tracing interceptor's span. */
  private readonly traceIds: TraceIds | undefined = activeTraceIds();

  constructor(
    next: InterceptingCallInterface,
    private readonly callOptions: InterceptorOptions,
    private readonly settings: CallLogSettings,
  ) {
    super(next);
  }

  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    this.requestMetadata = metadata;
    super.start(metadata, listener);
  }

  override onReceiveStatus(status: StatusObject): void {
    const { logger, successLevel } = this.settings;
    if (status.code !== Status.OK || logger.isLevelEnabled(successLevel)) this.log(status);
    super.onReceiveStatus(status);
  }

  private log(status: StatusObject): void {
    const { logger, successLevel, redacted, breakerState } = this.settings;
    const method = this.callOptions.method_definition.path;
    // Read now: the deadline interceptor, inside this one, set it on the same options object.
    const deadline = finiteDeadline(this.callOptions.deadline);
    const grpc: Record<string, unknown> = {
      method,
      peer: this.next.getPeer(),
      code: status.code,
      status: statusName(status.code),
      durationMs: Math.round((performance.now() - this.startedAt) * 100) / 100,
      attempts: Number(status.metadata?.get(ATTEMPTS_METADATA_KEY)[0] ?? 1),
      deadlineMs: deadline === undefined ? undefined : Math.round(deadline - this.startedAtEpoch),
      timeLeftMs: deadline === undefined ? undefined : Math.round(deadline - Date.now()),
    };
    const trace = this.traceIds;
    if (status.code === Status.OK)
      return logger.write(successLevel, { ...trace, grpc }, 'grpc call');
    const cls = classifyStatus(status);
    const reason = status.metadata?.get(REASON_METADATA_KEY)[0];
    const ownDeadline = isStreamOwnDeadline(
      status,
      this.callOptions.method_definition.responseStream ? deadline : undefined,
    );
    grpc.details = status.details;
    grpc.fault = ownDeadline ? 'none' : cls.fault;
    grpc.origin = cls.origin;
    if (ownDeadline) grpc.endedBy = 'own-deadline';
    if (reason !== undefined && !isFromTrailers(status)) {
      // The layer itself ended the call (an open circuit, a full bulkhead, a spent budget…):
      // nothing reached a server, so there is no peer and no server fault to report.
      grpc.origin = 'local';
      grpc.sent = false;
      grpc.endedBy = reason;
      delete grpc.peer;
    } else {
      grpc.reason = reason;
    }
    grpc.retryStopped = status.metadata?.get(RETRY_STOPPED_METADATA_KEY)[0];
    grpc.breaker = breakerState?.(method);
    grpc.metadata = redactMetadata(this.requestMetadata, redacted);
    logger.write(ownDeadline ? 'info' : levelOf(cls), { ...trace, grpc }, 'grpc call failed');
  }
}

/** The call's deadline, ms since the epoch; undefined when it has none. */
function finiteDeadline(deadline: Date | number | undefined): number | undefined {
  const at = deadlineToMs(deadline);
  return at === Infinity ? undefined : at;
}
