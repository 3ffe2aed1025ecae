import type { Interceptor, ServerInterceptor } from '@grpc/grpc-js';
import {
  createClientMetrics,
  createClientTracing,
  createServerMetrics,
  createServerTracing,
  type MetricsOptions,
  type ObservableBreaker,
  type ObservableBudget,
  type TracingOptions,
} from '@grpc-resilience/metrics';
import { objectOption, readServiceIdempotency } from '@grpc-resilience/status';

/**
 * `metrics` in the client and server configs: OpenTelemetry instruments with gRPC's names, or
 * false. Default on, recording into the meter provider registered with `@opentelemetry/api`
 * (none registered: nothing added to the chain).
 */
export type MetricsConfig =
  false | Pick<MetricsOptions, 'meterProvider' | 'maxMethods' | 'disabledMetrics'>;
/** `tracing`: spans and trace context across hops, or false. Default on when registered. */
export type TracingConfig = false | TracingOptions;

/** Where the observability interceptors go in the client chain. */
export interface ClientObservability {
  /** After the caller's own interceptors, before logging (so records carry the call's trace). */
  readonly outer: Interceptor[];
  /** Innermost, after the circuit breaker: one per attempt. */
  readonly inner: Interceptor[];
}

/**
 * The client's metrics and tracing as the factory wires them: the target and the service's
 * methods label the instruments (methods outside the service are recorded as `other`), and the
 * target's breaker and retry budget report their state.
 */
export function clientObservability(
  input: { metrics?: unknown; tracing?: unknown },
  facts: {
    target?: string;
    service?: object;
    breaker?: ObservableBreaker;
    budget?: ObservableBudget;
  },
): ClientObservability {
  const metrics =
    input.metrics === false
      ? undefined
      : createClientMetrics({
          ...objectOption('metrics', input.metrics, [
            'meterProvider',
            'maxMethods',
            'disabledMetrics',
          ]),
          target: facts.target,
          // Every method of the service, whichever generator made its definition.
          methods: methodPaths(facts.service),
        });
  const tracing =
    input.tracing === false
      ? undefined
      : createClientTracing(objectOption('tracing', input.tracing, ['tracerProvider']));
  if (metrics && facts.breaker) metrics.watchBreaker(facts.breaker);
  if (metrics && facts.budget) metrics.watchBudget(facts.budget);
  const outer: Interceptor[] = [];
  const inner: Interceptor[] = [];
  if (metrics) outer.push(metrics.callInterceptor);
  if (tracing) {
    outer.push(tracing.callInterceptor);
    inner.push(tracing.attemptInterceptor);
  }
  // Innermost of all: message sizes are counted where grpc-js serializes, just below.
  if (metrics) inner.push(metrics.attemptInterceptor);
  return { outer, inner };
}

/**
 * The server's metrics and tracing, to put first among its interceptors: metrics outermost so
 * the layer's own refusals are counted, then tracing, so the deadline context, dedup, logging
 * and the handler run in the server span.
 */
export function serverObservability(input: {
  metrics?: unknown;
  tracing?: unknown;
}): ServerInterceptor[] {
  const interceptors: ServerInterceptor[] = [];
  if (input.metrics !== false) {
    const metrics = createServerMetrics(
      objectOption('metrics', input.metrics, ['meterProvider', 'maxMethods', 'disabledMetrics']),
    );
    if (metrics) interceptors.push(metrics.interceptor);
  }
  if (input.tracing !== false) {
    const tracing = createServerTracing(objectOption('tracing', input.tracing, ['tracerProvider']));
    if (tracing) interceptors.push(tracing.interceptor);
  }
  return interceptors;
}

/** The service's method paths, or undefined (every path as it comes) when it names none. */
function methodPaths(service: object | undefined): readonly string[] | undefined {
  const paths = service === undefined ? [] : readServiceIdempotency(service).paths;
  return paths.length > 0 ? paths : undefined;
}
