import { metrics, type MeterProvider } from '@opentelemetry/api';
import { ConfigError, integerOption, objectOption } from '@grpc-resilience/status';
import { resolveDisabledMetrics } from './disabled-metrics';

/** Options of {@link createClientMetrics} and {@link createServerMetrics}. */
export interface MetricsOptions {
  /**
   * Where the instruments live. Default: the provider registered with `@opentelemetry/api` when
   * the client or server is built (`metrics.getMeterProvider()`); with none registered the layer
   * records nothing and adds no interceptor. Register the SDK before building clients.
   * gRPC's OpenTelemetry plugins (gRFC A66): `SetMeterProvider` / `MetricsOptions.MeterProvider`.
   */
  meterProvider?: MeterProvider;
  /**
   * The `grpc.target` attribute on client instruments: the channel's target, given a scheme when
   * it has none (`127.0.0.1:50051` is recorded as `dns:///127.0.0.1:50051`, as gRPC does).
   * Default `other` (what gRFC A66 records for a target kept out of the metrics).
   */
  target?: string;
  /**
   * The registered methods (paths `/pkg.Service/Method`, or a generated client's `service`):
   * calls to any other path are recorded as `grpc.method="other"` (gRFC A66). Default: every
   * path as it comes, up to `maxMethods`.
   */
  methods?: Iterable<string> | Readonly<Record<string, unknown>>;
  /** Distinct method names recorded before the rest become `other`. Default 200, from 1 to 10,000. */
  maxMethods?: number;
  /**
   * Instruments recorded per call to leave out, by name (`grpc.client.attempt.sent_total_compressed_message_size`,
   * …): a turned-off instrument costs nothing per call. With OpenTelemetry JS 2.x each value
   * recorded costs about 2 µs of CPU (the SDK hashes the attributes to find the series), so
   * dashboards that never read the size histograms save two records per attempt. Default: none.
   * gRPC's OpenTelemetry plugins: `DisableMetrics` (C++), `disableMetrics` (Java). Instruments
   * not recorded per call (breaker state, budget balance, ejections) are dropped with a View.
   */
  disabledMetrics?: Iterable<string>;
}

export interface ResolvedMetricsOptions {
  readonly meterProvider: MeterProvider;
  readonly target: string;
  readonly methods: ReadonlySet<string> | undefined;
  readonly maxMethods: number;
  readonly disabledMetrics: ReturnType<typeof resolveDisabledMetrics>;
}

const KEYS = ['meterProvider', 'target', 'methods', 'maxMethods', 'disabledMetrics'] as const;
/** grpc-js's resolvers' schemes, which take no `//` (`ipv4:1.2.3.4:50051`). */
const SCHEME = /^(?:dns|ipv4|ipv6|unix|unix-abstract|[a-z][a-z0-9+.-]*(?=:\/\/)):/i;

/** Validates and defaults {@link MetricsOptions}; throws `ConfigError` naming the option. */
export function resolveMetricsOptions(
  options: MetricsOptions | undefined,
  path = 'metrics',
): ResolvedMetricsOptions {
  const input = objectOption(path, options, KEYS);
  const provider = input.meterProvider ?? metrics.getMeterProvider();
  if (typeof (provider as MeterProvider).getMeter !== 'function') {
    throw new ConfigError(
      `${path}.meterProvider`,
      'must be an OpenTelemetry MeterProvider',
      provider,
    );
  }
  const target = input.target ?? 'other';
  if (typeof target !== 'string' || target.length === 0) {
    throw new ConfigError(`${path}.target`, 'must be a non-empty target string', target);
  }
  return Object.freeze({
    meterProvider: provider as MeterProvider,
    target: canonicalTarget(target),
    methods: resolveMethods(`${path}.methods`, input.methods),
    maxMethods: integerOption(`${path}.maxMethods`, input.maxMethods, 200, { min: 1, max: 10_000 }),
    disabledMetrics: resolveDisabledMetrics(`${path}.disabledMetrics`, input.disabledMetrics),
  });
}

/** The target as gRPC records it: with its scheme, `dns:///` when it has none (gRFC A66). */
export function canonicalTarget(target: string): string {
  return target === 'other' || SCHEME.test(target) ? target : `dns:///${target}`;
}

function resolveMethods(path: string, value: unknown): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null && !(Symbol.iterator in value)) {
    // A service definition: `{ Name: { path: '/pkg.Svc/Name', ... } }`.
    const paths = Object.values(value).map((method) => (method as { path?: unknown })?.path);
    if (paths.length > 0 && paths.every((p) => typeof p === 'string'))
      return new Set(paths as string[]);
  } else if (typeof value === 'object' && value !== null) {
    const paths = [...(value as Iterable<unknown>)];
    if (paths.every((p) => typeof p === 'string' && p.startsWith('/')))
      return new Set(paths as string[]);
  }
  throw new ConfigError(
    path,
    "must be method paths ('/pkg.Service/Method') or a generated client's service definition",
    value,
  );
}
