import type { ServerInterceptor } from '@grpc/grpc-js';
import { ConfigError } from '@grpc-resilience/status';
import { AttributeCache } from './attributes';
import { countsSizes, withoutDisabled } from './disabled-metrics';
import { instrumentsOf } from './instruments';
import { PACKAGE_VERSION } from './names';
import { resolveMetricsOptions, type MetricsOptions } from './options';
import { createServerMetricsInterceptor } from './server-metrics';

/** Options of {@link createServerMetrics}: the client's, without a target. */
export interface ServerMetricsOptions extends Omit<MetricsOptions, 'target'> {
  /** Metadata key of the idempotency key, to count dedup outcomes. Default `idempotency-key`. */
  idempotencyKeyHeader?: string;
}

/**
 * The server metrics interceptor, or `undefined` when no meter provider is registered. Put it
 * first among the server interceptors, so the layer's own refusals are counted.
 */
export function createServerMetrics(
  options?: ServerMetricsOptions,
): { readonly interceptor: ServerInterceptor } | undefined {
  const { idempotencyKeyHeader = 'idempotency-key', ...rest } = options ?? {};
  if (typeof idempotencyKeyHeader !== 'string' || idempotencyKeyHeader.length === 0) {
    throw new ConfigError(
      'metrics.idempotencyKeyHeader',
      'must be a lower-case metadata key',
      idempotencyKeyHeader,
    );
  }
  const resolved = resolveMetricsOptions(rest);
  const instruments = instrumentsOf(resolved.meterProvider, PACKAGE_VERSION);
  if (!instruments) return undefined;
  // Servers record no target (gRFC A66).
  const recorded = withoutDisabled(instruments, resolved.disabledMetrics);
  const attributes = new AttributeCache(
    undefined,
    resolved.methods,
    resolved.maxMethods,
    recorded.serverStarted,
  );
  return {
    interceptor: createServerMetricsInterceptor(
      recorded,
      attributes,
      idempotencyKeyHeader,
      countsSizes(resolved.disabledMetrics, 'server'),
    ),
  };
}
