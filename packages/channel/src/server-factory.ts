import type { ServerInterceptor, ServerOptions } from '@grpc/grpc-js';
import { createServerContextInterceptor } from '@grpc-resilience/deadline';
import { createDedupInterceptor, type DedupOptions } from '@grpc-resilience/idempotency';
import {
  resolveServerKeepalive,
  serverKeepaliveOptions,
  type ServerKeepaliveOptions,
} from '@grpc-resilience/keepalive';
import {
  createServerLoggingInterceptor,
  type LayerLogger,
  type LogLevel,
} from '@grpc-resilience/logging';
import { createLoadReportInterceptor } from '@grpc-resilience/load-balancer';
import { AdmissionControl, type AdmissionOptions } from '@grpc-resilience/server';
import { booleanOption, ConfigError, objectOption } from '@grpc-resilience/status';
import { setMessageLimit } from './channel-options';
import { serverObservability, type MetricsConfig, type TracingConfig } from './metrics-layer';

/** The server configuration of the layer. Every field is optional. */
export interface ResilientServerConfig {
  /** Keepalive and connection age: a preset name or options. Default `in-cluster`. */
  keepalive?: ServerKeepaliveOptions;
  /** `{ minBudgetMs: 5 }`: requests arriving with less time left are refused unrun. */
  deadline?: { minBudgetMs?: number };
  /**
   * Deduplicate by idempotency key, or false. Default on, with a `MemoryDedupStore` (64 MiB,
   * 10,000 entries, scope `process`: safe only when retries of a key reach the same process).
   * `{ store, header, scopeOf, maxOutcomeBytes, onError }`, validated by `createDedupInterceptor`
   * (a bad one throws `ConfigError` naming `dedup.<option>`). Give every replica one shared store
   * (`RedisDedupStore` from `@grpc-resilience/dedup-redis`) when clients may retry elsewhere;
   * responses then say `grpc-resilience-dedup-scope: shared`.
   */
  dedup?: false | DedupOptions;
  /** A pino logger (or any logger of its shape) for one record per served call. Default none. */
  logger?: LayerLogger;
  logging?: { successLevel?: LogLevel; redact?: readonly string[] };
  /** Largest request message, bytes. Default grpc-js's 4 MiB. */
  maxReceiveMessageBytes?: number;
  /** Largest response message, bytes. Default unlimited. */
  maxSendMessageBytes?: number;
  /**
   * The adaptive concurrency limit (`AdmissionControl` of `@grpc-resilience/server`): calls over
   * the limit refused at once with RESOURCE_EXHAUSTED and retry hints. Default off, so that
   * existing servers keep their behaviour; `{}` for the defaults.
   */
  admission?: false | AdmissionOptions;
  /**
   * OpenTelemetry server metrics (gRFC A66 names, the deadline each call arrived with, the
   * layer's refusals and dedup outcomes), or false. Default on, into the registered meter
   * provider; with none, nothing is added.
   */
  metrics?: MetricsConfig;
  /** The server span of each call, continuing the caller's W3C trace context, or false. */
  tracing?: TracingConfig;
  /**
   * Report the server's own time for each unary-response call to the clients' balancers (the
   * `grpc-resilience-server-ms` trailer of `createLoadReportInterceptor`), or false. Default
   * true. gRPC: per-call ORCA load reports (`grpc.server_call_metric_recording`).
   */
  loadReports?: boolean;
  /** Your own interceptors: innermost, next to the handler, inside the deadline context. */
  interceptors?: ServerInterceptor[];
  /** Your own grpc-js server options, merged over the layer's. */
  serverOptions?: ServerOptions;
}

/** The keys of {@link ResilientServerConfig}. */
export const RESILIENT_SERVER_CONFIG_KEYS: readonly string[] = Object.freeze([
  'keepalive',
  'deadline',
  'dedup',
  'logger',
  'logging',
  'maxReceiveMessageBytes',
  'maxSendMessageBytes',
  'interceptors',
  'serverOptions',
  'admission',
  'metrics',
  'tracing',
  'loadReports',
]);

/**
 * Options for `new grpc.Server(resilientServerOptions(config))`: keepalive enforcement and
 * connection age, then the interceptors, outermost first: the load report (so the server time
 * it reports covers everything below), metrics and tracing (so the layer's
 * own refusals are counted, and everything below runs in the call's span), deadline context (so handlers and the
 * calls they make inherit the deadline and cancellation), admission (when asked), dedup,
 * logging, yours.
 */
export function resilientServerOptions(config: ResilientServerConfig = {}): ServerOptions {
  const input = objectOption('', config, RESILIENT_SERVER_CONFIG_KEYS);
  const interceptors: ServerInterceptor[] = [];
  if (booleanOption('loadReports', input.loadReports, true))
    interceptors.push(createLoadReportInterceptor());
  interceptors.push(
    ...serverObservability(input),
    createServerContextInterceptor(input.deadline as never),
  );
  // Admission right after the context: a refused call costs no other interceptor anything.
  if (input.admission !== undefined && input.admission !== false)
    interceptors.push(new AdmissionControl(input.admission as AdmissionOptions).interceptor);
  // createDedupInterceptor validates every dedup option (and the store's shape and scope).
  if (input.dedup !== false)
    interceptors.push(createDedupInterceptor(input.dedup as DedupOptions | undefined));
  if (input.logger !== undefined) {
    interceptors.push(
      createServerLoggingInterceptor({
        logger: input.logger as LayerLogger,
        ...objectOption('logging', input.logging), // the logging package knows its keys
      }),
    );
  }
  const own = (input.interceptors ?? []) as ServerInterceptor[];
  if (!Array.isArray(own) || own.some((entry) => typeof entry !== 'function'))
    throw new ConfigError('interceptors', 'must be an array of grpc-js server interceptors', own);
  const options: ServerOptions = {
    ...serverKeepaliveOptions(resolveServerKeepalive(input.keepalive as never)),
  };
  setMessageLimit(
    options,
    'grpc.max_receive_message_length',
    'maxReceiveMessageBytes',
    input.maxReceiveMessageBytes,
  );
  setMessageLimit(
    options,
    'grpc.max_send_message_length',
    'maxSendMessageBytes',
    input.maxSendMessageBytes,
  );
  const user = objectOption(
    'serverOptions',
    input.serverOptions,
    Object.keys((input.serverOptions as object) ?? {}),
  );
  return {
    ...options,
    ...user,
    interceptors: [...interceptors, ...own, ...((user.interceptors as ServerInterceptor[]) ?? [])],
  };
}
