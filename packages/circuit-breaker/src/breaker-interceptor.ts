import {
  status as Status,
  type InterceptingCall,
  type Interceptor,
  type InterceptorOptions,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  ForwardingCall,
  rejectedCall,
  callUserCode,
  deadlineToMs,
  type InterceptingCallInterface,
} from '@grpc-resilience/status';
import { callOutcome } from './call-outcome';
import { CircuitBreaker } from './circuit-breaker';
import { resolveCircuitBreakerOptions, type CircuitBreakerOptions } from './options';
import type { BreakerState, BreakerStateChange } from './state-change';

/** A breaker interceptor, with its circuits readable and observable. */
export interface CircuitBreakerInterceptor {
  /** The breaker: outside the retry interceptor, it counts each logical call once. */
  readonly interceptor: Interceptor;
  /**
   * Goes inside the retry interceptor, beside `interceptor` outside it: refuses an attempt while
   * the circuit is open (a retry of a call admitted before it opened), the same way and with the
   * same `circuit-open` reason, which the retry never retries. Counts nothing; lets a half-open
   * probe's own retries through.
   */
  readonly attemptGate: Interceptor;
  /**
   * The same refusal as {@link attemptGate}, asked by the retry layer itself before each retry
   * and hedge (`createRetryInterceptor({ retryGate })`, as the channel factory wires it): no
   * interceptor level between the retry layer and grpc-js. Undefined lets the attempt go; while
   * the circuit is open it returns a call that refuses it, which the retry never retries.
   */
  readonly retryGate: (method: string) => InterceptingCall | undefined;
  /** The state of the circuit for `method` (any method with target scope). */
  stateOf(method?: string): BreakerState;
  /** Subscribes to every circuit's state changes; `dispose()` unsubscribes. */
  onStateChange(listener: (change: BreakerStateChange) => void): { dispose(): void };
  /** Calls in flight (what the bulkhead counts). */
  readonly inFlight: number;
}

/**
 * A client interceptor that stops calling a sick target. Put it outside the retry interceptor (the
 * channel factory does): it then counts each logical call once, by its final outcome, so a call
 * that a retry saved is a success, and its half-open probe is a whole call with its retries.
 * What counts, and how much, is `callOutcome`'s: transport failures and UNAVAILABLE,
 * DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED count 1, an application's UNKNOWN, INTERNAL, DATA_LOSS
 * or off-table code `applicationFailureWeight`; the caller's own errors and cancellations, a
 * stream ending by its own deadline, a server shedding load (RESOURCE_EXHAUSTED with a retry
 * hint) and the layer's own refusals never count. While open, calls
 * fail at once with UNAVAILABLE, details `circuit open for <name>`, trailer
 * `grpc-resilience-reason: circuit-open`, and nothing is sent; the retry interceptor never retries
 * that refusal. Probes start `halfOpenAfterMs` after opening and back off while they fail.
 */
export function createCircuitBreakerInterceptor(
  options?: CircuitBreakerOptions,
): CircuitBreakerInterceptor {
  const resolved = resolveCircuitBreakerOptions(options);
  const circuits = new Map<string, CircuitBreaker>();
  const listeners = new Set<(change: BreakerStateChange) => void>();
  if (resolved.onStateChange) listeners.add(resolved.onStateChange);
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
      return refusal(circuit);
    }
    const probe = admission === 'probe';
    if (resolved.maxConcurrent !== undefined && load.inFlight >= resolved.maxConcurrent) {
      if (probe) circuit.record('neutral', true);
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

  // Reads one field while the circuit is closed: the retry layer asks it before every retry.
  const retryGate = (method: string): InterceptingCall | undefined => {
    const circuit = circuitFor(method);
    return circuit.isRefusing() ? refusal(circuit) : undefined;
  };

  const attemptGate: Interceptor = (callOptions, nextCall) =>
    retryGate(callOptions.method_definition.path) ?? (nextCall(callOptions) as InterceptingCall);

  return {
    interceptor,
    attemptGate,
    retryGate,
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

/** How an open circuit refuses a call or an attempt: at once, nothing sent, reason in trailers. */
function refusal(circuit: CircuitBreaker): InterceptingCall {
  return rejectedCall(Status.UNAVAILABLE, `circuit open for ${circuit.name}`, 'circuit-open');
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
    const streamDeadline = streamDeadlineOf(this.callOptions);
    this.circuit.record(callOutcome(status, this.cancelledByCaller, streamDeadline), this.probe);
    super.onReceiveStatus(status);
  }
}

/** The deadline of a call with a response stream, ms since the epoch; else undefined. */
function streamDeadlineOf(callOptions: InterceptorOptions): number | undefined {
  if (!callOptions.method_definition.responseStream) return undefined;
  return deadlineToMs(callOptions.deadline);
}
