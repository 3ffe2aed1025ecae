import {
  status as Status,
  type InterceptingCall,
  type Interceptor,
  type InterceptorOptions,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ForwardingCall,
  classifyStatus,
  rejectedCall,
  callUserCode,
  deadlineToMs,
  isStreamOwnDeadline,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import { CircuitBreaker, type BreakerState, type BreakerStateChange } from './circuit-breaker';
import { resolveCircuitBreakerOptions, type CircuitBreakerOptions } from './options';

/** A breaker interceptor, with its circuits readable and observable. */
export interface CircuitBreakerInterceptor {
  readonly interceptor: Interceptor;
  /** The state of the circuit for `method` (any method with target scope). */
  stateOf(method?: string): BreakerState;
  /** Subscribes to every circuit's state changes; `dispose()` unsubscribes. */
  onStateChange(listener: (change: BreakerStateChange) => void): { dispose(): void };
  /** Calls in flight (what the bulkhead counts). */
  readonly inFlight: number;
}

/**
 * A client interceptor that stops calling a sick target: only failures that the status package
 * counts against the server (UNAVAILABLE, INTERNAL, a reset…) count; the caller's own errors
 * and cancellations (a cancel propagated from the incoming call included) never do, nor does a
 * server-streaming or bidi call that ends by its own deadline (a watch that ran its course). While open, calls fail at once with UNAVAILABLE, details
 * `circuit open for <name>`, trailer `grpc-resilience-reason: circuit-open`, and nothing is sent.
 * Put it inside the retry interceptor: each attempt counts, and retries stop at an open circuit.
 */
export function createCircuitBreakerInterceptor(
  options?: CircuitBreakerOptions,
): CircuitBreakerInterceptor {
  const resolved = resolveCircuitBreakerOptions(options);
  const circuits = new Map<string, CircuitBreaker>();
  const listeners = new Set<(change: BreakerStateChange) => void>();
  const targetCircuit = newCircuit(resolved.target);
  const load: CallCounter = { inFlight: 0 };

  function newCircuit(name: string): CircuitBreaker {
    const circuit = new CircuitBreaker(name, resolved);
    circuit.onStateChange((change) =>
      listeners.forEach((listener) => callUserCode('a circuit state listener', listener, change)),
    );
    return circuit;
  }

  function circuitFor(method: string): CircuitBreaker {
    if (resolved.scope === 'target') return targetCircuit;
    let circuit = circuits.get(method);
    if (!circuit) circuits.set(method, (circuit = newCircuit(`${resolved.target} ${method}`)));
    return circuit;
  }

  const interceptor: Interceptor = (callOptions, nextCall) => {
    const circuit = circuitFor(callOptions.method_definition.path);
    const admission = circuit.admit();
    if (admission === 'reject') {
      return rejectedCall(Status.UNAVAILABLE, `circuit open for ${circuit.name}`, 'circuit-open');
    }
    const probe = admission === 'probe';
    if (resolved.maxConcurrent !== undefined && load.inFlight >= resolved.maxConcurrent) {
      if (probe) circuit.onNeutral(true);
      return rejectedCall(
        Status.RESOURCE_EXHAUSTED,
        `bulkhead full for ${resolved.target}: ${load.inFlight} calls in flight, at most ${resolved.maxConcurrent}`,
        'bulkhead',
      );
    }
    load.inFlight++;
    return new CountedCall(
      nextCall(callOptions) as InterceptingCall,
      circuit,
      probe,
      load,
      callOptions,
    ) as unknown as InterceptingCall;
  };

  return {
    interceptor,
    stateOf: (method) => (method === undefined ? targetCircuit : circuitFor(method)).currentState,
    onStateChange(listener) {
      listeners.add(listener);
      return { dispose: () => void listeners.delete(listener) };
    },
    get inFlight() {
      return load.inFlight;
    },
  };
}

/** Calls in flight through one interceptor (what the bulkhead caps). */
interface CallCounter {
  inFlight: number;
}

/** Counts the call's outcome against its circuit, once it ends. */
class CountedCall extends ForwardingCall {
  private cancelledByCaller = false;
  constructor(
    next: InterceptingCallInterface,
    private readonly circuit: CircuitBreaker,
    private readonly probe: boolean,
    private readonly load: CallCounter,
    private readonly callOptions: InterceptorOptions,
  ) {
    super(next);
  }
  override cancelWithStatus(code: Status, details: string): void {
    this.cancelledByCaller = true;
    super.cancelWithStatus(code, details);
  }
  override onReceiveStatus(status: StatusObject): void {
    this.load.inFlight--;
    record(this.circuit, this.probe, status, this.cancelledByCaller, this.callOptions);
    super.onReceiveStatus(status);
  }
}

function record(
  circuit: CircuitBreaker,
  probe: boolean,
  status: StatusObject,
  cancelledByCaller: boolean,
  callOptions: InterceptorOptions,
): void {
  if (status.code === Status.OK) return circuit.onSuccess(probe);
  if (isStreamOwnDeadline(status, streamDeadlineOf(callOptions))) return circuit.onNeutral(probe);
  const cls = classifyStatus(status, { cancelledByCaller });
  if (cls.breakerFailure) return circuit.onFailure(probe);
  // A caller's error still proves the server answered: for a probe, that is recovery.
  if (probe && cls.origin === 'server') return circuit.onSuccess(true);
  circuit.onNeutral(probe);
}

/** The deadline of a call with a response stream, ms since the epoch; else undefined. */
function streamDeadlineOf(callOptions: InterceptorOptions): number | undefined {
  if (!callOptions.method_definition.responseStream) return undefined;
  return deadlineToMs(callOptions.deadline);
}
