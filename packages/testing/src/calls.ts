import * as grpc from '@grpc/grpc-js';
import { testServiceClient, type TestMethodName, type TestServiceClient } from './test-service';

/** How one call ended, as the application sees it. */
export interface CallOutcome<T = Record<string, unknown>> {
  /** The one final status (OK included). */
  status: grpc.StatusObject;
  /** The response of a unary or client-streaming call that succeeded. */
  response?: T;
  /** Messages received on a server or bidi stream. */
  messages: T[];
  /** Response headers, if any arrived. */
  headers?: grpc.Metadata;
  /** From the call's start to its status, in milliseconds. */
  durationMs: number;
  /**
   * How many statuses the call delivered (must always be 1). grpc-js's top-level call drops a
   * second status silently, so for clients made with {@link createTestClient} this counts what
   * reached its outermost interceptor, where a second one would be seen; it keeps counting after
   * the outcome resolves.
   */
  readonly statusEvents: number;
}

/** Per call, the statuses its outermost interceptor saw, keyed by the first status object. */
const statusCounts = new WeakMap<grpc.StatusObject, { count: number }>();
let extraStatuses = 0;

/**
 * How many statuses beyond the first, in all, calls of clients made by {@link createTestClient}
 * have delivered since the process started: assert it has not moved across a test.
 */
export function extraStatusCount(): number {
  return extraStatuses;
}

/**
 * The outermost interceptor of every test client: counts the statuses each call delivers, since
 * the top level would hide a second one.
 */
const countStatuses: grpc.Interceptor = (options, nextCall) => {
  let first: { count: number } | undefined;
  return new grpc.InterceptingCall(nextCall(options), {
    start(metadata, _listener, next) {
      next(metadata, {
        onReceiveStatus(status, nextStatus) {
          if (first === undefined) {
            first = { count: 1 };
            statusCounts.set(status, first);
          } else {
            first.count++;
            extraStatuses++;
          }
          nextStatus(status);
        },
      });
    },
  });
};

/** Per-call options of the call helpers. */
export interface TestCallOptions {
  metadata?: grpc.Metadata;
  /** Absolute deadline (Date or ms epoch). */
  deadline?: grpc.Deadline;
  /** Relative deadline from now, in milliseconds (ignored when `deadline` is set). */
  timeoutMs?: number;
  /** Any other grpc-js call options (interceptors, parent, propagate_flags...). */
  callOptions?: grpc.CallOptions;
  /** Receives the grpc-js call as soon as it starts (to cancel it, for instance). */
  onCall?: (call: grpc.Call) => void;
}

/** A test-service client on an address (insecure credentials). */
export function createTestClient(address: string, options?: grpc.ClientOptions): TestServiceClient {
  const Client = testServiceClient();
  return new Client(address, grpc.credentials.createInsecure(), {
    ...options,
    interceptors: [countStatuses, ...(options?.interceptors ?? [])],
  });
}

type AnyCall = grpc.Call & { on(event: string, listener: (...args: never[]) => void): unknown };

function callOptions(options: TestCallOptions): grpc.CallOptions {
  const deadline =
    options.deadline ??
    (options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs);
  return deadline === undefined ? { ...options.callOptions } : { ...options.callOptions, deadline };
}

function track<T>(
  start: (done: (error: grpc.ServiceError | null, response?: T) => void) => AnyCall,
  options: TestCallOptions,
): Promise<CallOutcome<T>> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    let events = 0;
    const outcome: CallOutcome<T> = {
      status: undefined!,
      messages: [],
      durationMs: 0,
      get statusEvents() {
        return Math.max(events, statusCounts.get(this.status)?.count ?? 0);
      },
    };
    const call = start((_error, response) => {
      if (response !== undefined) outcome.response = response;
    });
    call.on('metadata', (headers: grpc.Metadata) => void (outcome.headers = headers));
    call.on('data', (message: T) => void outcome.messages.push(message));
    call.on('error', () => undefined); // the status event carries it
    call.on('status', (status: grpc.StatusObject) => {
      events++;
      outcome.status = status;
      outcome.durationMs = performance.now() - startedAt;
      // grpc-js emits status after the unary callback, in the same tick or the next; let it land.
      setImmediate(() => resolve(outcome));
    });
    options.onCall?.(call);
  });
}

type Method = (...args: unknown[]) => AnyCall;
const method = (client: TestServiceClient, name: TestMethodName) =>
  (client[name] as unknown as Method).bind(client);

/** Makes a unary call; resolves with its outcome, never rejects. */
export function callUnary<T = Record<string, unknown>>(
  client: TestServiceClient,
  name: 'GetItem' | 'PutItem' | 'Charge',
  request: object,
  options: TestCallOptions = {},
): Promise<CallOutcome<T>> {
  const metadata = options.metadata ?? new grpc.Metadata();
  return track<T>(
    (done) => method(client, name)(request, metadata, callOptions(options), done),
    options,
  );
}

/** Makes a server-streaming call and collects every message. */
export function callServerStream<T = Record<string, unknown>>(
  client: TestServiceClient,
  name: 'ListItems',
  request: object,
  options: TestCallOptions = {},
): Promise<CallOutcome<T>> {
  const metadata = options.metadata ?? new grpc.Metadata();
  return track<T>(() => method(client, name)(request, metadata, callOptions(options)), options);
}

/** Makes a client-streaming call: writes every request, half-closes, waits for the response. */
export function callClientStream<T = Record<string, unknown>>(
  client: TestServiceClient,
  name: 'UploadItems',
  requests: object[],
  options: TestCallOptions = {},
): Promise<CallOutcome<T>> {
  const metadata = options.metadata ?? new grpc.Metadata();
  return track<T>((done) => {
    const call = method(client, name)(metadata, callOptions(options), done) as AnyCall &
      grpc.ClientWritableStream<object>;
    for (const request of requests) call.write(request);
    call.end();
    return call;
  }, options);
}

/** Makes a bidi call: writes every request, half-closes, collects every reply. */
export function callBidi<T = Record<string, unknown>>(
  client: TestServiceClient,
  name: 'SyncItems',
  requests: object[],
  options: TestCallOptions = {},
): Promise<CallOutcome<T>> {
  const metadata = options.metadata ?? new grpc.Metadata();
  return track<T>(() => {
    const call = method(client, name)(metadata, callOptions(options)) as AnyCall &
      grpc.ClientDuplexStream<object, T>;
    for (const request of requests) call.write(request);
    call.end();
    return call;
  }, options);
}
