import {
  ProxyTracerProvider,
  propagation,
  trace,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { ConfigError, objectOption } from '@grpc-resilience/status';
import { METER_NAME, PACKAGE_VERSION } from './names';

/** Options of {@link createClientTracing} and {@link createServerTracing}. */
export interface TracingOptions {
  /**
   * Where spans go. Default: the provider registered with `@opentelemetry/api`
   * (`trace.getTracerProvider()`). The trace context crosses hops through the propagator
   * registered with `@opentelemetry/api` (`propagation.setGlobalPropagator`, e.g. W3C
   * `traceparent`); with neither registered, tracing adds no interceptor.
   */
  tracerProvider?: TracerProvider;
}

/** The tracer to use, or undefined when there is nothing to trace or propagate. */
export function resolveTracer(
  options: TracingOptions | undefined,
  path = 'tracing',
): Tracer | undefined {
  const input = objectOption(path, options, ['tracerProvider']);
  const provider = (input.tracerProvider ?? trace.getTracerProvider()) as TracerProvider;
  if (typeof provider?.getTracer !== 'function') {
    throw new ConfigError(
      `${path}.tracerProvider`,
      'must be an OpenTelemetry TracerProvider',
      provider,
    );
  }
  const hasPropagator = propagation.fields().length > 0;
  if (!hasPropagator && isNoop(provider)) return undefined;
  return provider.getTracer(METER_NAME, PACKAGE_VERSION);
}

/** A fresh proxy's delegate is the API's no-op provider: the global one until an SDK registers. */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

function isNoop(provider: TracerProvider): boolean {
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return delegate === NOOP_TRACER_PROVIDER;
}

/** gRPC's span names (OpenCensus lineage, kept by gRFC A72): `pkg.Service/Method`. */
export function spanMethodName(path: string): string {
  return path.startsWith('/') ? path.slice(1) : path;
}
