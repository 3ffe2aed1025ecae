import type {
  ChannelCredentials,
  ChannelOptions,
  Interceptor,
  ServiceDefinition,
} from '@grpc/grpc-js';
import type { CircuitBreakerOptions } from '@grpc-resilience/circuit-breaker';
import type { DeadlineOptions } from '@grpc-resilience/deadline';
import type { KeepaliveOptions, PresetName } from '@grpc-resilience/keepalive';
import type { LoadBalancingOptions } from '@grpc-resilience/load-balancer';
import type { LayerLogger, LogLevel } from '@grpc-resilience/logging';
import type { RetryOptions } from '@grpc-resilience/retry';
import type { MethodsConfig } from '@grpc-resilience/status';
import type { MetricsConfig, TracingConfig } from './metrics-layer';

/** The client configuration of the whole layer. Every field is optional and documented. */
export interface ResilientConfig {
  /** Per method or service: `{ idempotent, timeoutMs }`; wins over the proto's idempotency_level. */
  methods?: MethodsConfig;
  /** The generated client's `Client.service`, to read `idempotency_level` (createResilientClient does). */
  service?: ServiceDefinition | Readonly<Record<string, unknown>>;
  /**
   * Deadlines: `{ defaultMs: 5000, streamDefaultMs: 1800000, minBudgetMs: 5, propagate: true,
   * propagationMarginMs: 10 }` (ms). `defaultMs` bounds unary and client-streaming calls,
   * `streamDefaultMs` (30 min) server-streaming and bidi calls, which are often long-lived;
   * a method's `timeoutMs` in `methods` wins over both, a call's own deadline over everything.
   */
  deadline?: Omit<DeadlineOptions, 'methods'>;
  /**
   * Retries, or false. Defaults: 5 attempts, 100 ms x2 up to 2 s, an adaptive budget per target
   * (each call earns 0.2 of a retry, a retry the servers accept costs nothing) with client-side
   * throttling of every attempt during an outage.
   */
  retry?: false | Omit<RetryOptions, 'methods'>;
  /** Idempotency keys on non-idempotent calls. Default true. */
  idempotencyKeys?: boolean;
  /**
   * Circuit breaking per target, or false. Counts each call once by its final outcome (an
   * application's UNKNOWN weighs 0.2); 5 failures open it; probes after 1 s, growing 1.5x to 30 s.
   */
  breaker?: false | Omit<CircuitBreakerOptions, 'target'>;
  /**
   * A keepalive preset name or options, validated against `keepalive.server`. Default: no server
   * declared, pings every 330 s (safe against grpc-go, Java and C++ at their defaults); declare
   * `server` (e.g. `'grpc-resilience'`) or name a preset for 30 s.
   */
  keepalive?: PresetName | KeepaliveOptions;
  /**
   * Balancing per call: power of two choices on load (`policy: 'p2c'`, the default) or
   * `'round_robin'`, with ejection, slow start, and optional client-side health checks
   * (`healthCheck: { serviceName }`). On by default for a list of addresses; false turns it off.
   */
  loadBalancing?: false | LoadBalancingOptions;
  /** A pino logger for one record per call (default: none, silent). */
  logger?: LayerLogger;
  /** `{ successLevel: 'debug', redact: [] }` for the call records. */
  logging?: { successLevel?: LogLevel; redact?: readonly string[] };
  /** Your own channel options, merged over the layer's (a retryPolicy is refused while retry is on). */
  channelOptions?: ChannelOptions;
  /**
   * OpenTelemetry metrics with gRPC's names (gRFC A66, A96) and the layer's own, or false. Default
   * on: recorded into the meter provider registered with `@opentelemetry/api`; with none, nothing
   * is added to the call path. `{ meterProvider, maxMethods }` to choose.
   */
  metrics?: MetricsConfig;
  /**
   * Spans (a call span, a child per attempt) and W3C trace context in the metadata, or false.
   * Default on when a tracer provider or propagator is registered; otherwise nothing is added.
   */
  tracing?: TracingConfig;
  /** Your own interceptors: they run outermost and see one logical call. */
  interceptors?: Interceptor[];
  /** createResilientClient only. Default insecure. */
  credentials?: ChannelCredentials;
  /** Largest request message, bytes (grpc.max_send_message_length). Default grpc-js's (unlimited). */
  maxSendMessageBytes?: number;
  /** Largest response message, bytes (grpc.max_receive_message_length). Default grpc-js's 4 MiB. */
  maxReceiveMessageBytes?: number;
}

export const CLIENT_CONFIG_KEYS = [
  'methods',
  'service',
  'deadline',
  'retry',
  'idempotencyKeys',
  'breaker',
  'keepalive',
  'loadBalancing',
  'logger',
  'logging',
  'channelOptions',
  'interceptors',
  'metrics',
  'tracing',
  'credentials',
  'maxSendMessageBytes',
  'maxReceiveMessageBytes',
] as const;
