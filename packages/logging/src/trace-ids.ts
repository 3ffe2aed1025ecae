/**
 * The trace and span ids of the active OpenTelemetry context, for log records: `trace_id` and
 * `span_id` are the names OpenTelemetry's log data model and its pino instrumentation use, so log
 * backends link a record to its trace. `@opentelemetry/api` is an optional peer: without it, or
 * outside any span, records carry no ids.
 */
export interface TraceIds {
  trace_id: string;
  span_id: string;
}

type Api = typeof import('@opentelemetry/api');

let api: Api | null | undefined;

function loadApi(): Api | null {
  try {
    // Optional peer: loaded only if the application has it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@opentelemetry/api') as Api;
  } catch {
    return null;
  }
}

/** The ids of the span active now, or undefined. */
export function activeTraceIds(): TraceIds | undefined {
  if (api === undefined) api = loadApi();
  if (api === null) return undefined;
  const span = api.trace.getSpanContext(api.context.active());
  if (span === undefined || !api.isSpanContextValid(span)) return undefined;
  return { trace_id: span.traceId, span_id: span.spanId };
}
