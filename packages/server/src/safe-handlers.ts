import type {
  sendUnaryData,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  accidentStatus,
  logAccident,
  toClientStatus,
  type AccidentStatus,
  type HandlerFailure,
  type ResolvedHandlerErrorOptions,
} from './handler-error';

type AnyHandler = (call: never, callback?: never) => unknown;
type Callback = sendUnaryData<unknown>;
type UnaryCall = ServerUnaryCall<unknown, unknown>;
type StreamCall =
  | ServerReadableStream<unknown, unknown>
  | ServerWritableStream<unknown, unknown>
  | ServerDuplexStream<unknown, unknown>;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * What a stream call has reported: the errors already logged, and the status sent for an
 * `AbortError` whose cause is yet to come. Leaving a `for await` loop over the request stream
 * early (a throw inside it) destroys the stream with an `AbortError` before the handler's
 * promise rejects with the real error: that error is logged, under the status already sent.
 */
interface StreamReport {
  readonly logged: WeakSet<object>;
  aborted: { status: AccidentStatus; error: unknown } | undefined;
  /** Whether an 'error' was emitted on the call. */
  errored: boolean;
  /** Whether a failure already waited a turn for it. */
  deferred: boolean;
}

/** By name: Node's internal AbortError may come from another realm than this module's Error. */
function isAbortError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'AbortError'
  );
}

/**
 * Whether a failure should wait one turn: the stream was destroyed, and the 'error' its
 * destruction emits (on the next tick) is still to come; its status is the one the client gets.
 */
function isErrorPending(report: StreamReport | undefined, call: { destroyed: boolean }): boolean {
  if (report === undefined || report.errored || report.deferred || !call.destroyed) return false;
  report.deferred = true;
  return true;
}

/**
 * grpc-js ends a stream call on the stream's 'error' event with the error's own message as
 * details (server-call.ts `serverErrorToStatus`). The call's `emit` is wrapped so that every
 * listener, grpc-js's included, sees the safe status instead (its `cause` keeps the original).
 */
function guardStream(
  call: StreamCall,
  method: string,
  options: ResolvedHandlerErrorOptions,
): StreamReport {
  const report: StreamReport = {
    logged: new WeakSet<object>(),
    aborted: undefined,
    errored: false,
    deferred: false,
  };
  const emit = call.emit;
  call.emit = function (this: StreamCall, event: string | symbol, ...args: unknown[]) {
    if (event !== 'error') return emit.call(this, event, ...args);
    const error = args[0];
    report.errored = true;
    if (isAbortError(error) && report.aborted === undefined) {
      report.aborted = { status: accidentStatus(error, options), error };
      args[0] = report.aborted.status;
    } else {
      if (typeof error === 'object' && error !== null) report.logged.add(error);
      args[0] = toClientStatus(error, 'stream error', method, options);
    }
    const delivered = emit.call(this, event, ...args);
    endDestroyed(this, args[0]);
    return delivered;
  } as typeof call.emit;
  return report;
}

/**
 * Called once the handler has returned or settled: logs the error behind an early abort (the
 * handler's own rejection, or the abort itself when there was none).
 */
function settleReport(
  report: StreamReport | undefined,
  error: unknown,
  how: HandlerFailure,
  method: string,
  options: ResolvedHandlerErrorOptions,
): boolean {
  if (report === undefined) return false;
  const aborted = report.aborted;
  if (aborted !== undefined) {
    report.aborted = undefined;
    if (error === undefined)
      logAccident(aborted.status, aborted.error, 'stream error', method, options);
    else logAccident(aborted.status, error, how, method, options);
    return true;
  }
  return typeof error === 'object' && error !== null && report.logged.has(error);
}

/**
 * Unary and client-streaming handlers: the callback is wrapped so that it answers once and never
 * with an accident's text; a throw, a rejection or an 'error' on the call object ends the call
 * through it. grpc-js awaits nothing a handler returns, so an async handler's rejection would
 * otherwise be an unhandled rejection, which kills Node 15+ (grpc-node#290).
 */
function safeCallbackHandler(
  handler: AnyHandler,
  self: object,
  method: string,
  options: ResolvedHandlerErrorOptions,
  isStream: boolean,
) {
  return function (call: UnaryCall | StreamCall, callback: Callback): void {
    let ended = false;
    const fail = (error: unknown, how: HandlerFailure): void => {
      const status = toClientStatus(error, how, method, options, ended);
      if (ended) return;
      ended = true;
      callback(status as never);
    };
    const respond: Callback = (error, value, trailer, flags) => {
      if (ended) return;
      if (error) return fail(error, 'callback');
      ended = true;
      callback(null, value, trailer, flags);
    };
    let report: StreamReport | undefined;
    // A client stream is a grpc-js Duplex that ends itself on 'error'; a unary call object has
    // no 'error' listener at all, so an 'error' emitted on it would throw.
    if (isStream) report = guardStream(call as StreamCall, method, options);
    // ... and grpc-js's own listener on a client stream already sends the (safe) status.
    (call as UnaryCall).on(
      'error',
      isStream ? () => void (ended = true) : (error: unknown) => fail(error, 'stream error'),
    );
    let result: unknown;
    try {
      result = handler.call(self, call as never, respond as never);
    } catch (error) {
      if (!settleReport(report, error, 'threw', method, options)) fail(error, 'threw');
      return;
    }
    if (isThenable(result))
      result.then(
        () => settleReport(report, undefined, 'rejected', method, options),
        function onRejected(error: unknown) {
          if (isErrorPending(report, call as StreamCall))
            return void setImmediate(onRejected, error);
          if (!settleReport(report, error, 'rejected', method, options)) fail(error, 'rejected');
        },
      );
    else settleReport(report, undefined, 'threw', method, options);
  };
}

/**
 * Server-streaming and bidi handlers: a throw or rejection is emitted as the stream's 'error'
 * while the call is open (grpc-js then ends it with the safe status), only logged after.
 */
function safeStreamHandler(
  handler: AnyHandler,
  self: object,
  method: string,
  options: ResolvedHandlerErrorOptions,
) {
  return function (call: StreamCall): void {
    const report = guardStream(call, method, options);
    const fail = (error: unknown, how: HandlerFailure): void => {
      if (isErrorPending(report, call)) return void setImmediate(fail, error, how);
      if (settleReport(report, error, how, method, options)) return;
      if (isOpen(call)) call.emit('error', toClientStatus(error, how, method, options));
      else toClientStatus(error, how, method, options, true);
    };
    let result: unknown;
    try {
      result = handler.call(self, call as never);
    } catch (error) {
      return fail(error, 'threw');
    }
    if (isThenable(result))
      result.then(
        () => settleReport(report, undefined, 'rejected', method, options),
        (error: unknown) => fail(error, 'rejected'),
      );
    else settleReport(report, undefined, 'threw', method, options);
  };
}

function isOpen(call: { writableEnded?: boolean; destroyed: boolean }): boolean {
  return !call.writableEnded && !call.destroyed;
}

/**
 * `stream.destroy(error)` emits 'error' on a destroyed stream, where grpc-js's `end()` never
 * reaches `_final`, so no status would be sent and the client would wait for its deadline
 * (grpc-js 1.14 server-call.ts). The status is sent on the underlying call instead.
 */
function endDestroyed(call: StreamCall, status: unknown): void {
  if (!call.destroyed) return;
  const inner = (call as unknown as { call?: { sendStatus?: (status: unknown) => void } }).call;
  if (typeof inner?.sendStatus !== 'function') return;
  const { code, details, metadata } = status as {
    code: number;
    details: string;
    metadata: unknown;
  };
  inner.sendStatus({ code, details, metadata });
}

/**
 * Wraps every handler of `implementation` (as `server.addService` would bind them) so that no
 * handler can crash the process or leak an error's text: see {@link toClientStatus} for what the
 * client gets. Methods the implementation lacks are left out, for grpc-js to answer UNIMPLEMENTED.
 */
export function safeImplementation(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
  options: ResolvedHandlerErrorOptions,
): UntypedServiceImplementation {
  const safe: UntypedServiceImplementation = {};
  for (const name of Object.keys(definition)) {
    const attrs = definition[name];
    const key =
      implementation[name] === undefined && typeof attrs.originalName === 'string'
        ? attrs.originalName
        : name;
    const handler = implementation[key] as AnyHandler | undefined;
    if (typeof handler !== 'function') continue;
    safe[name] = (
      attrs.responseStream
        ? safeStreamHandler(handler, implementation, attrs.path, options)
        : safeCallbackHandler(handler, implementation, attrs.path, options, attrs.requestStream)
    ) as never;
  }
  return safe;
}
