import * as grpc from '@grpc/grpc-js';
import {
  createDeadlineInterceptor,
  createServerContextInterceptor,
} from '@grpc-resilience/deadline';
import {
  createClientLoggingInterceptor,
  createServerLoggingInterceptor,
} from '@grpc-resilience/logging';
import { createRetryInterceptor } from '@grpc-resilience/retry';
import { methodsFromService } from '@grpc-resilience/status';
import {
  callUnary,
  createLogSink,
  createTestClient,
  shutdownServer,
  startTestBackend,
  testServiceClient,
  testServiceDefinition,
  type TestBackend,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { createClientTracing, createServerTracing } from './index';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

/** A client of `address` with tracing at both ends and call records, as the factory chains them. */
function tracedClient(
  address: string,
  logger: ReturnType<typeof createLogSink>['logger'],
  retry = false,
) {
  const tracing = createClientTracing()!;
  const interceptors: grpc.Interceptor[] = [
    tracing.callInterceptor,
    createClientLoggingInterceptor({ logger, successLevel: 'info' }),
    createDeadlineInterceptor(),
  ];
  if (retry) {
    interceptors.push(
      createRetryInterceptor({
        methods: methodsFromService(testServiceClient().service),
        initialBackoffMs: 1,
        maxBackoffMs: 1,
      }),
    );
  }
  interceptors.push(tracing.attemptInterceptor);
  return createTestClient(address, { interceptors });
}

function tracedServerInterceptors(logger: ReturnType<typeof createLogSink>['logger']) {
  return [
    createServerTracing()!.interceptor,
    createServerContextInterceptor(),
    createServerLoggingInterceptor({ logger, successLevel: 'info' }),
  ];
}

test('A -> B -> C is one trace: attempts are children of the call, each server of the attempt that reached it, and every log record carries the trace id', async () => {
  const logs = { a: createLogSink(), b: createLogSink(), c: createLogSink() };
  let c: TestBackend | undefined;
  let b: grpc.Server | undefined;
  const clients: TestServiceClient[] = [];
  try {
    c = await startTestBackend({
      serverOptions: { interceptors: tracedServerInterceptors(logs.c.logger) },
    });
    const toC = tracedClient(c.address, logs.b.logger);
    clients.push(toC);
    // B fails its first call (A retries it), then answers by calling C from inside the handler.
    let served = 0;
    b = new grpc.Server({ interceptors: tracedServerInterceptors(logs.b.logger) });
    b.addService(testServiceDefinition(), {
      GetItem(call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) {
        if (served++ === 0) return callback({ code: grpc.status.UNAVAILABLE, details: 'first' });
        void callUnary(toC, 'GetItem', call.request).then((outcome) =>
          outcome.status.code === grpc.status.OK
            ? callback(null, outcome.response)
            : callback({ code: outcome.status.code, details: outcome.status.details }),
        );
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      b!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const toB = tracedClient(`127.0.0.1:${port}`, logs.a.logger, true);
    clients.push(toB);

    const outcome = await callUnary(toB, 'GetItem', { id: 'x' });
    expect(outcome.status.code).toBe(grpc.status.OK);
  } finally {
    for (const client of clients) client.close();
    c?.kill();
    if (b) await shutdownServer(b, 100);
  }

  const spans = exporter.getFinishedSpans();
  const traceIds = new Set(spans.map((span) => span.spanContext().traceId));
  expect(traceIds.size).toBe(1);
  const [traceId] = traceIds;
  const parentOf = (span: ReadableSpan) =>
    spans.find((candidate) => candidate.spanContext().spanId === span.parentSpanContext?.spanId);
  const describe = (span: ReadableSpan | undefined): string =>
    span ? span.name.split('.')[0] : 'none';
  // Each span by what it is and what its parent is; the order of the tree, root first.
  const tree = spans
    .map((span) =>
      `${describe(parentOf(span))} > ${describe(span)} ${span.attributes['previous-rpc-attempts'] ?? ''}`.trim(),
    )
    .sort();
  expect(tree).toEqual(
    [
      'none > Sent', // A's call: the root
      'Sent > Attempt 0', // A's first attempt (B answered UNAVAILABLE)
      'Sent > Attempt 1', // A's retry
      'Attempt > Recv', // B serving the first attempt
      'Attempt > Recv', // B serving the retry
      'Recv > Sent', // B's call to C, made inside its handler
      'Sent > Attempt 0', // B's attempt
      'Attempt > Recv', // C serving it
    ].sort(),
  );
  const named = (name: string) => spans.filter((span) => span.name.startsWith(name));
  // B's call to C hangs under the Recv of the retry, the one that succeeded.
  const bCall = named('Sent.').find((span) => parentOf(span)?.name.startsWith('Recv.'))!;
  expect(parentOf(parentOf(bCall)!)!.attributes['previous-rpc-attempts']).toBe(1);
  expect(named('Attempt.')[0].attributes).toMatchObject({
    'rpc.system': 'grpc',
    'rpc.service': 'grpc_resilience.test.v1.TestService',
    'rpc.method': 'GetItem',
  });

  // Every record of every hop carries the trace id; A's call record the call span's id.
  for (const [hop, sink] of Object.entries(logs)) {
    expect({ hop, count: sink.records.length > 0 }).toEqual({ hop, count: true });
    for (const record of sink.records)
      expect({ hop, trace_id: record.trace_id }).toEqual({ hop, trace_id: traceId });
  }
  const aCall = logs.a.find('grpc call')[0];
  const root = spans.find((span) => !span.parentSpanContext)!;
  expect(aCall.span_id).toBe(root.spanContext().spanId);
  const cServed = logs.c.find('grpc served')[0];
  const cRecv = spans.find(
    (span) =>
      span.name.startsWith('Recv.') &&
      parentOf(parentOf(span)!)?.name.startsWith('Sent.') &&
      parentOf(parentOf(parentOf(span)!)!)?.name.startsWith('Recv.'),
  )!;
  expect(cServed.span_id).toBe(cRecv.spanContext().spanId);
});

test('with no tracer provider and no propagator registered, tracing adds nothing', () => {
  trace.disable();
  propagation.disable();
  try {
    expect(createClientTracing()).toBeUndefined();
    expect(createServerTracing()).toBeUndefined();
  } finally {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  }
});
