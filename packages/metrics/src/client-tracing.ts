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
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { ForwardingCall, type InterceptingCallInterface } from '@grpc-resilience/status';
import { metadataSetter } from './trace-carrier';
import { resolveTracer, spanMethodName, type TracingOptions } from './tracing-options';

/** Client tracing: a span per call and a child span per attempt. */
export interface ClientTracing {
  /** Outermost (outside logging, so call records carry the call's trace and span ids). */
  readonly callInterceptor: Interceptor;
  /** Innermost: a span per attempt, whose context goes to the server in the metadata. */
  readonly attemptInterceptor: Interceptor;
}

/** What the attempts of one call share. */
interface CallTrace {
  context: Context;
  attempts: number;
}
const CALL_TRACE = Symbol('grpc-resilience.trace.call');
type WithTrace = InterceptorOptions & { [CALL_TRACE]?: CallTrace };

/**
 * Spans as gRPC's own tracing makes them (gRFC A72, after OpenCensus): `Sent.<method>` for the
 * call, a child `Attempt.<method>` (kind CLIENT) for each attempt the retry layer makes, and the
 * attempt's context injected into the request metadata by the registered propagator (W3C
 * `traceparent` with the SDK's default), so the server's span is the attempt's child. Undefined
 * when neither a tracer provider nor a propagator is registered.
 */
export function createClientTracing(options?: TracingOptions): ClientTracing | undefined {
  const tracer = resolveTracer(options);
  if (!tracer) return undefined;
  return {
    callInterceptor: (callOptions, nextCall) => {
      const parent = context.active();
      const method = spanMethodName(callOptions.method_definition.path);
      const span = tracer.startSpan(
        `Sent.${method}`,
        { kind: SpanKind.INTERNAL, attributes: rpcAttributes(method) },
        parent,
      );
      const callContext = trace.setSpan(parent, span);
      (callOptions as WithTrace)[CALL_TRACE] = { context: callContext, attempts: 0 };
      // The interceptors inside (logging among them) are made in the call's context.
      const next = context.with(callContext, nextCall, undefined, callOptions);
      return new TracedCall(next, span) as unknown as InterceptingCall;
    },
    attemptInterceptor: (callOptions, nextCall) => {
      const call = (callOptions as WithTrace)[CALL_TRACE];
      const parent = call?.context ?? context.active();
      const method = spanMethodName(callOptions.method_definition.path);
      const previous = call ? call.attempts++ : 0;
      const span = startAttempt(tracer, method, previous, parent);
      return new TracedAttempt(
        nextCall(callOptions),
        span,
        trace.setSpan(parent, span),
      ) as unknown as InterceptingCall;
    },
  };
}

function startAttempt(tracer: Tracer, method: string, previous: number, parent: Context): Span {
  return tracer.startSpan(
    `Attempt.${method}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { ...rpcAttributes(method), 'previous-rpc-attempts': previous },
    },
    parent,
  );
}

/** OpenTelemetry's RPC attributes. */
function rpcAttributes(method: string) {
  const slash = method.lastIndexOf('/');
  return {
    'rpc.system': 'grpc',
    'rpc.service': method.slice(0, slash),
    'rpc.method': method.slice(slash + 1),
  };
}

/** Ends a span with the call's status. */
export function endSpan(span: Span, code: number, details: string): void {
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== Status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: details });
  span.end();
}

class TracedCall extends ForwardingCall {
  constructor(
    next: InterceptingCallInterface,
    private readonly span: Span,
  ) {
    super(next);
  }
  override onReceiveStatus(status: StatusObject): void {
    endSpan(this.span, status.code, status.details);
    super.onReceiveStatus(status);
  }
}

class TracedAttempt extends ForwardingCall {
  constructor(
    next: InterceptingCallInterface,
    private readonly span: Span,
    private readonly context: Context,
  ) {
    super(next);
  }
  override start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    propagation.inject(this.context, metadata, metadataSetter);
    super.start(metadata, listener);
  }
  override onReceiveStatus(status: StatusObject): void {
    endSpan(this.span, status.code, status.details);
    super.onReceiveStatus(status);
  }
}
