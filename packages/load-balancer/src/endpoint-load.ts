import { NetworkFloor } from './network-floor';

/** Default decay of the latency estimate, ms (Finagle's peak EWMA `decayTime`: 10 s). */
export const DEFAULT_DECAY_MS = 10_000;

/**
 * One endpoint's load as power-of-two-choices weighs it (Finagle's and Linkerd's peak EWMA):
 * calls in flight, and a latency estimate that jumps to any slower observation at once and decays
 * toward faster ones with time constant `decayMs`, so a backend that turns slow loses traffic
 * immediately and earns it back gradually.
 *
 * When the endpoint's answers carry its own time (a load report), the estimate is the EWMA of
 * that time, without the peak rule: what the endpoint costs on average, without the client's
 * own queue, which a CPU-bound client adds to every latency it measures. Time outside the
 * server (the network, that queue) then weighs through the calls in flight: a farther
 * endpoint's calls stay in flight longer (see `cost`).
 */
export class EndpointLoad {
  /** Calls picked for this endpoint that have not ended. */
  inFlight = 0;
  /** The latency estimate, ms; undefined until the first call ends. */
  private ewmaMs: number | undefined;
  private updatedAt = 0;
  private decayMs = DEFAULT_DECAY_MS;
  private readonly floor = new NetworkFloor();
  /** With reports: the mean latency the client measures, ms (a plain EWMA, no peaks). */
  private measuredMs = 0;
  /** Calls observed: the EWMAs' weights start from their count. */
  private samples = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The estimate, or `fallbackMs` (the other endpoints' mean) before any observation. It decays
   * while nothing is observed, too (Finagle's peak EWMA observes 0 on every read): an endpoint
   * that was slow and then drew no calls earns them back with time, instead of looking slow, and
   * so getting nothing, for ever. `now`: the caller's clock read, when it has one (the picker
   * reads the clock once per pick).
   */
  latencyMs(fallbackMs: number, now = this.now()): number {
    if (this.ewmaMs === undefined) return fallbackMs;
    const idleMs = now - this.updatedAt;
    return idleMs <= 0 ? this.ewmaMs : this.ewmaMs * Math.exp(-idleMs / this.decayMs);
  }

  /** Whether a call has ended here yet. */
  get observed(): boolean {
    return this.ewmaMs !== undefined;
  }

  /**
   * Records a call's time. `lowering` false for a failed call: a fast failure must not make a
   * broken endpoint look fast and attract traffic, so it may raise the estimate, never lower it.
   * `now`: the clock read that ended the call's time, when the caller has it. `reportedMs`: the
   * server's own time for the call from its load report, or -1 for none; a report longer than
   * the client's whole wait (a lying or fast-clocked server) counts as the whole wait.
   *
   * Without reports, the estimate is Finagle's peak EWMA of the latency the client measures: a
   * slower sample replaces it. Once the endpoint reports, it is the plain EWMA (the mean) of
   * the server's time: a server that turns slow is seen at once through its calls in flight,
   * and the peak rule would only rank servers by their slowest call (docs/load-balancing.md).
   */
  observe(
    rttMs: number,
    decayMs: number,
    lowering = true,
    now = this.now(),
    reportedMs = -1,
  ): void {
    this.decayMs = decayMs;
    const kept = this.keptWeight(now, decayMs);
    // The EWMA holds the server's part. An answer without a report after some with (a failure
    // the client made up) is taken less the least time outside the server, to stay on the
    // same scale; with no report ever, the floor is unknown and the sample is the latency the
    // client measures, exactly as without reports.
    let sample = rttMs;
    if (reportedMs >= 0) {
      this.measuredMs = this.floor.known ? this.measuredMs * kept + rttMs * (1 - kept) : rttMs;
      sample = reportedMs < rttMs ? reportedMs : rttMs;
      this.floor.observe(rttMs - sample, now, decayMs);
    } else if (this.floor.known) {
      sample = Math.max(0, rttMs - this.floor.ms);
    }
    this.samples++;
    if (this.ewmaMs === undefined || (sample > this.ewmaMs && !this.floor.known)) {
      this.ewmaMs = sample;
    } else if (lowering || sample > this.ewmaMs) {
      this.ewmaMs = this.ewmaMs * kept + sample * (1 - kept);
    }
    this.updatedAt = now;
  }

  /**
   * The weight the samples before this one keep: their time weight (`e^(-elapsed/decay)`), but
   * at most `n/(n+1)` after n samples, so that an EWMA starts as the plain mean of its samples
   * until they span the decay time, instead of giving its first sample (a fresh connection's,
   * a cold process's) the weight of a whole decay time of history.
   */
  private keptWeight(now: number, decayMs: number): number {
    const byTime = Math.exp(-(now - this.updatedAt) / decayMs);
    const byCount = this.samples / (this.samples + 1);
    return byTime < byCount ? byTime : byCount;
  }

  /**
   * How much longer the client measures its calls here than `latencyMs` (the estimate) says,
   * ms: with load reports, their mean time outside the server (network and the client's own
   * queue); without, 0.
   */
  queueMs(latencyMs: number): number {
    return this.floor.known && this.measuredMs > latencyMs ? this.measuredMs - latencyMs : 0;
  }

  /**
   * Peak EWMA's cost: latency (this endpoint's `latencyMs`) times the calls it would wait behind,
   * this one included. `sharedQueueMs`: the time outside the server that the endpoints compared
   * all show (the least of their `queueMs`), the client's own queue; by Little's law, the calls
   * in flight spend that share of their time in the client, not at the endpoint, so they count
   * that much less. What one endpoint shows beyond the others (it is farther away) still counts.
   * 0 without reports.
   */
  cost(latencyMs: number, sharedQueueMs = 0): number {
    // The +1 ms keeps endpoints that answer in microseconds comparable by their queues.
    if (sharedQueueMs <= 0) return (latencyMs + 1) * (this.inFlight + 1);
    const atEndpoint = 1 - sharedQueueMs / this.measuredMs;
    return (latencyMs + 1) * (this.inFlight * atEndpoint + 1);
  }
}
