import { experimental, status as Status, type Metadata } from '@grpc/grpc-js';
import { AVOID_PEER_METADATA_KEY, LONG_LIVED_CALL_KEY } from '@grpc-resilience/status';
import type { EndpointLoad } from './endpoint-load';
import type { Ejector } from './ejector';
import { reportedServerMs } from './load-report';
import { tellPickedPeer, type PickOptions } from './picked-peer';

type PickArgs = experimental.PickArgs;
type PickResult = experimental.PickResult;

/** A READY endpoint as the picker sees it. */
export interface ReadyEndpoint {
  readonly address: string;
  readonly picker: experimental.Picker;
  readonly load: EndpointLoad;
  /** When it became READY after the balancer's first round (slow start), else 0. */
  readonly readySince: number;
}

/** What the picker needs of its balancer. */
export interface P2cContext {
  readonly ejector: Ejector;
  readonly decayMs: number;
  /** Slow start window, ms (0: none). */
  readonly slowStartMs: number;
  /** Whether a call's load report (the server's own time in its trailers) feeds the estimate. */
  readonly useServerLoadReports: boolean;
  readonly random: () => number;
  readonly now: () => number;
}

/**
 * Power of two choices over peak-EWMA load (Finagle's `P2CPeakEwma`, Linkerd's balancer; with
 * load reports, the mean of the server's time, see `EndpointLoad`): two READY endpoints drawn at
 * random, the call goes to the cheaper (latency estimate times calls in flight, divided by slow
 * start's weight). Endpoints a retry or hedge asked to avoid (`AVOID_PEER_METADATA_KEY`) and
 * ejected ones are left out while another is left; an ejected endpoint whose time is up gets its
 * one probe first.
 */
export class P2cPicker implements experimental.Picker {
  constructor(
    private readonly ready: readonly ReadyEndpoint[],
    private readonly context: P2cContext,
  ) {}

  pick(args: PickArgs): PickResult {
    const chosen = this.choose(args.metadata);
    const result = chosen.picker.pick(args);
    if (result.pickResultType !== experimental.PickResultType.COMPLETE) return result;
    const options = args.metadata.getOptions() as PickOptions;
    tellPickedPeer(options, chosen.address);
    return this.track(chosen, result, options[LONG_LIVED_CALL_KEY]);
  }

  private choose(metadata: Metadata): ReadyEndpoint {
    const { ready, context } = this;
    const { ejector } = context;
    if (ready.length === 1) return this.admitted(ready[0]);
    const ejections = ejector.hasEjections();
    if (ejections)
      for (const endpoint of ready)
        if (ejector.isProbeDue(endpoint.address)) return this.admitted(endpoint);
    const avoid = metadata.get(AVOID_PEER_METADATA_KEY);
    let candidates: readonly ReadyEndpoint[] = ready;
    if (avoid.length > 0 || ejections) {
      const usable = ready.filter(
        (endpoint) => !avoid.includes(endpoint.address) && ejector.isAdmissible(endpoint.address),
      );
      // Advice, never a reason to fail: with nothing else left, any READY endpoint serves.
      if (usable.length > 0) candidates = usable;
      else {
        const admissible = ready.filter((endpoint) => ejector.isAdmissible(endpoint.address));
        candidates = admissible.length > 0 ? admissible : ready;
      }
    }
    if (candidates.length === 1) return this.admitted(candidates[0]);
    const n = candidates.length;
    const first = Math.floor(context.random() * n) % n;
    const second = (first + 1 + (Math.floor(context.random() * (n - 1)) % (n - 1))) % n;
    const a = candidates[first];
    const b = candidates[second];
    // One clock read per pick, shared by both estimates and slow start.
    const now = context.now();
    const fallback = a.load.observed && b.load.observed ? 0 : meanLatency(candidates, now);
    const aLatency = a.load.latencyMs(fallback, now);
    const bLatency = b.load.latencyMs(fallback, now);
    const aQueue = a.load.queueMs(aLatency);
    const sharedQueue = aQueue > 0 ? Math.min(aQueue, b.load.queueMs(bLatency)) : 0;
    const aFirst = a.load.cost(aLatency, sharedQueue) <= b.load.cost(bLatency, sharedQueue);
    const cheaper = aFirst ? a : b;
    // Slow start as a share: a ramping endpoint keeps only `weight` of the calls it wins.
    const weight = this.weight(cheaper, now);
    const chosen = weight < 1 && context.random() >= weight ? (aFirst ? b : a) : cheaper;
    return this.admitted(chosen);
  }

  /**
   * Slow start (Envoy's `slow_start_config`, linear): an endpoint that comes back or joins
   * cold keeps from 10% up to 100% of the calls it wins over `slowStartMs`, so that a backend
   * with empty caches is not handed a full share, or more (it has no calls in flight), at once.
   */
  private weight(endpoint: ReadyEndpoint, now: number): number {
    const { slowStartMs } = this.context;
    if (endpoint.readySince === 0 || slowStartMs === 0) return 1;
    return Math.min(1, Math.max(0.1, (now - endpoint.readySince) / slowStartMs));
  }

  /** Grants an ejected endpoint's probe when the choice falls on it. */
  private admitted(endpoint: ReadyEndpoint): ReadyEndpoint {
    const { ejector } = this.context;
    // With nothing ejected, every endpoint is admitted: no lookup.
    if (ejector.hasEjections()) ejector.admit(endpoint.address);
    return endpoint;
  }

  /**
   * Counts the call in flight and completes the child's pick result in place with hooks that
   * time it: pick_first (each endpoint's leaf) builds a fresh result for every pick, so nothing
   * else holds it. `streamDeadline`: the long-lived mark (a call with a response stream).
   */
  private track(
    endpoint: ReadyEndpoint,
    result: PickResult,
    streamDeadline: number | undefined,
  ): PickResult {
    const { ejector, decayMs, now, useServerLoadReports } = this.context;
    const { address, load } = endpoint;
    // A watch that lives for minutes holds a share of its endpoint (it counts in flight, so
    // streams spread), but its duration is not latency.
    const timed = streamDeadline === undefined;
    const childStarted = result.onCallStarted;
    const childEnded = result.onCallEnded;
    // Counted from the pick, not the stream's start: a burst of calls is picked in one tick,
    // before any stream opens, and must see the ones picked before it. A pick whose call never
    // starts leaves its count behind until the endpoint leaves READY (the balancer resets it).
    load.inFlight++;
    let startedAt = 0;
    result.onCallStarted = () => {
      ejector.started(address);
      startedAt = now();
      childStarted?.();
    };
    result.onCallEnded = (code, details, trailers) => {
      if (load.inFlight > 0) load.inFlight--;
      if (code === Status.OK) {
        // The success path: no status object, no classification.
        ejector.succeeded(address);
        if (timed) {
          const endedAt = now();
          const reported = useServerLoadReports ? reportedServerMs(trailers) : -1;
          load.observe(endedAt - startedAt, decayMs, true, endedAt, reported);
        }
      } else {
        const outcome = ejector.record(
          address,
          { code, details, metadata: trailers },
          streamDeadline,
        );
        if (timed && outcome !== 'neutral') {
          const endedAt = now();
          const reported = useServerLoadReports ? reportedServerMs(trailers) : -1;
          load.observe(endedAt - startedAt, decayMs, outcome === 'healthy', endedAt, reported);
        }
      }
      childEnded?.(code, details, trailers);
    };
    return result;
  }
}

/** The mean latency estimate of the endpoints observed so far: a newcomer's until it is measured. */
function meanLatency(endpoints: readonly ReadyEndpoint[], now: number): number {
  let sum = 0;
  let count = 0;
  for (const endpoint of endpoints) {
    if (!endpoint.load.observed) continue;
    sum += endpoint.load.latencyMs(0, now);
    count++;
  }
  return count === 0 ? 0 : sum / count;
}
