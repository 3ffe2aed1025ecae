import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import {
  ROOT_CONTEXT,
  SpanKind,
  context,
  propagation,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { endSpan } from './client-tracing';
import { metadataGetter } from './trace-carrier';
import { resolveTracer, spanMethodName, type TracingOptions } from './tracing-options';

/** `Status.CANCELLED`. */
const CANCELLED = 1;

/**
 * A server interceptor that continues the caller's trace: the registered propagator extracts
 * the context from the request metadata, a `Recv.<method>` span (kind SERVER) is its child, and
 * the handler runs in that span's context, so the calls it makes are children too and its log
 * records carry the ids. Put it first among the server interceptors. Undefined when neither a
 * tracer provider nor a propagator is registered.
 */
export function createServerTracing(
  options?: TracingOptions,
): { readonly interceptor: ServerInterceptor } | undefined {
  const tracer = resolveTracer(options);
  if (!tracer) return undefined;
  const interceptor: ServerInterceptor = (method, call) => {
    let span: Span | undefined;
    let spanContext: Context = ROOT_CONTEXT;
    const name = spanMethodName(method.path);
    const end = (code: number, details: string) => {
      if (span) endSpan(span, code, details);
      span = undefined;
    };
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
            span = tracer.startSpan(
              `Recv.${name}`,
              { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc' } },
              parent,
            );
            spanContext = trace.setSpan(parent, span);
            // grpc-js runs the handler from inside these callbacks: it starts in the context.
            context.with(spanContext, nextMetadata, undefined, metadata);
          },
          onReceiveMessage: (message, nextMessage) =>
            context.with(spanContext, nextMessage, undefined, message),
          onReceiveHalfClose: (nextHalfClose) => context.with(spanContext, nextHalfClose),
          onCancel: () => end(CANCELLED, 'cancelled'),
        });
      },
      sendStatus(status, next) {
        end(status.code, status.details ?? '');
        next(status);
      },
    });
  };
  return { interceptor };
}
