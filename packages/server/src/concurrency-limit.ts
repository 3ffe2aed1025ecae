import { ArrivalGaps, HORIZON_BUCKETS } from './arrival-gaps';
import type { ResolvedConcurrencyLimitOptions } from './concurrency-limit-options';

/**
 * The share of the limit that the calls in flight must average over a window's busy time for
 * the window to count as saturated. At 3x capacity it is near 1 (every completion is refilled
 * at once); at half load with any limit above twice the mean in flight it never comes close.
 */
const SATURATED = 0.75;
/** Below this share of the limit on average, no queue can have formed behind the limit. */
const UNSATURATED = 0.5;
/**
 * An adaptive concurrency limit in the manner of Envoy's adaptive_concurrency and Netflix's
 * Gradient2 limiter. Each window compares the median latency of the calls it completed with a
 * target: `latencyTolerance` times the typical latency (learnt only in windows far from the
 * limit, so a busy machine's jitter is part of it and an overload's queue is not), at least
 * `latencySlackMs` above the least seen, plus the lateness every call shared that was not this
 * process's own work. Past the target, or with the event loop late past its threshold while the
 * process itself was busy, calls are queueing; the limit shrinks only if the window was also
 * saturated (the calls in flight averaged three quarters of the limit over its busy time:
 * refusals and momentary peaks do not count), to what Little's law says keeps latency at the
 * target (completions per ms times the target), at most by half. Within the target and in use,
 * it grows: doubling (slow start) until a window shrinks it or has a call past the target, then
 * by one per window, and back at once to where it was before a passing overload shrank it.
 *
 * A stall (the process stood still: a GC pause, a busy machine) lets its backlog in past the
 * limit while it drains, unless the server was saturated: those calls queued behind each other
 * for a reason no limit changes. At normal load nothing here comes near refusing a call. Pure
 * logic: the caller feeds samples and the clock.
 */
export class ConcurrencyLimit {
  private current: number;
  private minLatencyMs = Infinity;
  private windowStart: number;
  private samples = 0;
  private latencySumMs = 0;
  /** The window's latencies, for its median; reused from window to window. */
  private readonly latencies: number[] = [];
  private peakInFlight = 0;
  /** The calls in flight since the last admission or completion, and when that was. */
  private inFlight = 0;
  private changedAt: number;
  /** Calls in flight integrated over the window's busy time (call-ms), and that time (ms). */
  private inFlightArea = 0;
  private busyMs = 0;
  /** When the window's first call completed. */
  private firstSampleAt = 0;
  /** Doubling while in use and within tolerance, until the first window past it. */
  private slowStart = true;
  /** The last window was saturated: no backlog is admitted past the limit after a stall. */
  private saturated = false;
  /** Completions per ms of recent windows, smoothed: the rate calls arrive at when not refused. */
  private ratePerMs = 0;
  /** Calls admitted past the limit while a stall's backlog drains (0: none). */
  private excess = 0;
  /** The backlog took the calls in flight past the limit; until when it may still come. */
  private draining = false;
  private excessUntil = 0;
  /** A stall's backlog drained in this window: it neither moves the limit nor teaches it. */
  private stalled = false;
  /** The limit before the last shrinks, to return to at once when they prove passing (0: none). */
  private recoverTo = 0;
  /** Smoothed median latency of windows far from the limit, ms (0 before any). */
  private typicalMs = 0;
  /** Smoothed average latency of recent windows, ms: the expected time of an admitted call. */
  private expectedMs = 0;
  /** Arrivals per bucket: a burst's room is the backlog of a gap before it. */
  private readonly gaps: ArrivalGaps;
  /** Calls in flight integrated over busy time but a burst's (call-ms), and that time. */
  private heldArea = 0;
  private heldBusyMs = 0;
  /** The room a burst was given (0: none, or a stall's). */
  private burstRoom = 0;
  /** When a window last ended held full (bursts get no room for a horizon after). */
  private saturatedAt = -Infinity;
  /** How long a burst's room lasts past its last call if the calls in flight never drain, ms. */
  private excessGraceMs = 0;

  constructor(
    private readonly options: ResolvedConcurrencyLimitOptions,
    now: number,
  ) {
    this.current = options.initialLimit;
    this.windowStart = now;
    this.changedAt = now;
    this.gaps = new ArrivalGaps(options.windowMs, now);
  }

  /** The number of calls that may be in flight now (a stall's backlog included, to `maxLimit`). */
  get limit(): number {
    return this.excess === 0
      ? this.current
      : Math.min(this.options.maxLimit, this.current + this.excess);
  }

  /** The least latency seen, ms (Infinity before any sample). */
  get unloadedLatencyMs(): number {
    return this.minLatencyMs;
  }

  /** Expected latency of an admitted call, ms: recent windows' average (0 before any). */
  get expectedLatencyMs(): number {
    return this.expectedMs;
  }

  /** Notes the calls in flight once one is admitted, `inFlight` counting it. */
  onAdmit(inFlight: number, now: number): void {
    this.track(inFlight, now);
    if (inFlight > this.peakInFlight) this.peakInFlight = inFlight;
  }

  /**
   * Integrates the calls in flight over the time the server was busy, except while a stall's
   * backlog drains: that burst is no evidence of saturation.
   */
  private track(inFlight: number, now: number): void {
    if (this.excess > 0) {
      // The completions the stall held back come first, then its backlog: the raise ends once
      // the calls in flight went past the limit and came back to half of it (the queue behind
      // the limit drained), if they never went past it, or at the latest when a backlog at
      // three quarters of the capacity would have drained.
      if (inFlight > this.current) this.draining = true;
      if (
        now > this.excessUntil + this.excessGraceMs ||
        (this.draining ? inFlight <= this.current / 2 : now > this.excessUntil)
      )
        this.endExcess();
    }
    if (this.inFlight > 0 && this.burstRoom === 0) {
      const elapsed = now - this.changedAt;
      this.heldArea += Math.min(this.inFlight, this.current) * elapsed;
      this.heldBusyMs += elapsed;
    }
    if (this.inFlight > 0 && this.excess === 0) {
      const elapsed = now - this.changedAt;
      this.inFlightArea += Math.min(this.inFlight, this.current) * elapsed;
      this.busyMs += elapsed;
    }
    this.inFlight = inFlight;
    this.changedAt = now;
  }

  /**
   * Notes that the process stood still for `stalledMs` (its event loop that late: a busy
   * machine, a GC pause). The calls that arrived meanwhile come at once, a burst that no
   * admission decision caused and that the server drains at its normal pace: unless the last
   * window was saturated (or this one so far), the limit is raised by as many calls as the recent rate brings in
   * that time, until the calls in flight are back under it.
   */
  onStall(stalledMs: number, now: number): void {
    // Nor if this window ran full so far: an overload that began since the last window (a
    // stall's burst would come on top of its queue, every call of it waiting behind the others).
    if (this.saturated || this.fullSoFar()) return;
    const expected = this.ratePerMs * stalledMs;
    const backlog = Math.ceil(expected + 3 * Math.sqrt(expected));
    if (backlog === 0) return;
    // A stall during the last one's drain: its backlog comes on top of what is left of that.
    this.excess = Math.max(this.excess, backlog);
    this.draining = false;
    this.excessUntil = now + stalledMs;
    this.excessGraceMs = Math.max(this.excessGraceMs, 4 * stalledMs + this.options.windowMs);
    this.stalled = true;
  }

  /** Counts a call that arrived, before it is admitted or refused. */
  onArrival(now: number): void {
    this.gaps.onArrival(now);
  }

  /**
   * Whether a call that finds the limit full may come in past it: the backlog of a gap in
   * arrivals, not a standing queue (CoDel's distinction). When some span of whole buckets just
   * before the one being filled (50 ms to 1 s by default) brought fewer calls than the rate of
   * the ring's earlier buckets, by more than two standard deviations (Poisson), something
   * upstream stood still (a client's GC pause, a descheduled client or proxy, this process
   * woken in the poll phase) and the calls it held back arrive now: the limit is raised by that
   * shortfall plus two standard deviations, as for a stall of this process, and those calls
   * neither move the limit nor teach it. Never within a horizon (1 s) of a saturated window: at
   * capacity a backlog would not drain (the windows of a client's gap look idle, the ones
   * around it do not). A rise in demand has no gap before it, and is refused. `share`: the
   * part of the limit the call's priority may use (sheddable calls stay under theirs).
   */
  admitsBurst(inFlight: number, now: number, share = 1): boolean {
    const room = this.roomAfterGap(now);
    if (room === 0 || inFlight + 1 > this.options.maxLimit) return false;
    if (inFlight + 1 > Math.floor((this.current + room) * share)) return false;
    this.excess = Math.max(this.excess, room);
    this.burstRoom = room;
    this.excessUntil = Math.max(this.excessUntil, now);
    this.excessGraceMs = Math.max(this.excessGraceMs, HORIZON_BUCKETS * this.gaps.bucketMs);
    this.stalled = true;
    return true;
  }

  /** The backlog of a gap in arrivals just before now (0: none, or too close to a full window). */
  private roomAfterGap(now: number): number {
    if (this.saturated || now - this.saturatedAt < HORIZON_BUCKETS * this.gaps.bucketMs) return 0;
    return this.gaps.roomAfterGap(now);
  }

  /**
   * This window, for a quarter of one or more, ran at three quarters of the limit: an overload
   * that began since the last window.
   */
  private fullSoFar(): boolean {
    return (
      this.busyMs >= this.options.windowMs / 4 &&
      this.inFlightArea >= SATURATED * this.current * this.busyMs
    );
  }

  private endExcess(): void {
    this.excess = 0;
    this.burstRoom = 0;
    this.excessGraceMs = 0;
    this.draining = false;
  }

  /**
   * Records a completed call's latency and the calls still in flight; ends the window when it
   * is due. `eventLoopDelayMs`
   * is read only then (the p99 delay since the last window, or 0 when not measured), and
   * `sharedDelayMs` after it: the event loop's typical lateness in the window when the process
   * itself was not busy (the machine's, shared by every call), 0 otherwise.
   */
  onSample(
    latencyMs: number,
    now: number,
    inFlight: number,
    eventLoopDelayMs: () => number,
    sharedDelayMs: () => number = () => 0,
  ): void {
    this.track(inFlight, now);
    if (this.samples === 0) this.firstSampleAt = now;
    this.samples++;
    this.latencySumMs += latencyMs;
    this.latencies.push(latencyMs);
    if (latencyMs < this.minLatencyMs) this.minLatencyMs = latencyMs;
    if (
      now - this.windowStart >= this.options.windowMs &&
      this.samples >= this.options.minWindowSamples
    )
      this.endWindow(now, eventLoopDelayMs(), sharedDelayMs());
  }

  private endWindow(now: number, loopDelayMs: number, sharedMs: number): void {
    const { latencyTolerance, latencySlackMs, minLimit, maxLimit, eventLoopDelayMs } = this.options;
    const average = this.latencySumMs / this.samples;
    // The median, as Envoy's default `sample_aggregate_percentile` (50): the few calls a stall
    // caught in flight (100 ms late after a GC pause or a busy machine) do not make a window
    // look queued, while a queue that most calls wait in does.
    const median = this.median();
    this.expectedMs = this.expectedMs === 0 ? average : 0.8 * this.expectedMs + 0.2 * average;
    // Plus the lateness every call shared that was not this process's own work (a busy
    // machine's scheduling, as its event loop measured it): no admission decision caused it.
    const floor = Math.max(this.minLatencyMs, this.typicalMs);
    const target =
      Math.max(latencyTolerance * floor, this.minLatencyMs + latencySlackMs) + sharedMs;
    let gradient = Math.min(1, target / median);
    const loopLate = eventLoopDelayMs > 0 && loopDelayMs > eventLoopDelayMs;
    if (loopLate) gradient = Math.min(gradient, eventLoopDelayMs / loopDelayMs);
    // Saturated: the limit was in use for most of the time the server was busy. Not a refused
    // call, not a peak: a burst after a stall reaches any limit for a moment, and at a limit
    // once lowered the refusals themselves would make every window look full.
    const saturated =
      this.busyMs > 0 && this.inFlightArea >= SATURATED * this.current * this.busyMs;
    const ratePerMs = this.samples / (now - this.windowStart);
    // Held full, a stall's room included (a burst's own drain excepted): no burst gets room for
    // a horizon. Measured apart from `saturated`, which a stall's backlog leaves alone: at 3x
    // on sockets the windows of stall after stall hid the overload for over a second, and a
    // gap the client's throttle made then had room.
    if (this.heldBusyMs > 0 && this.heldArea >= SATURATED * this.current * this.heldBusyMs) {
      this.saturatedAt = now;
    }
    if (this.stalled) {
      // The backlog's calls queued behind each other for a reason no limit could change.
      this.resetWindow(now);
      return;
    }
    this.saturated = saturated;
    if (saturated) this.saturatedAt = now;
    if (!saturated)
      this.ratePerMs = this.ratePerMs === 0 ? ratePerMs : 0.5 * this.ratePerMs + 0.5 * ratePerMs;
    // The typical latency of windows far from the limit: what calls take here without queueing
    // for it, a busy machine's jitter included (Netflix Gradient2's long-term latency, but
    // learnt only while no queue can have formed behind the limit, so an overload that lasts
    // does not teach it its own queue).
    // It follows a faster window at once and a slower one slowly: a process's first calls (its
    // code not yet optimised) or a stall's would otherwise keep it high for seconds.
    if (this.inFlightArea < UNSATURATED * this.current * this.busyMs)
      this.typicalMs =
        this.typicalMs === 0 || median < this.typicalMs
          ? median
          : 0.9 * this.typicalMs + 0.1 * median;
    const slowest = this.latencies[this.latencies.length - 1];
    // In slow start the capacity is unknown and the first calls that queue complete a latency
    // later: a saturated window whose slowest call waited past the target is already a queue.
    const queued = gradient < 1 || (this.slowStart && slowest > target);
    if (queued && saturated) {
      this.slowStart = false;
      // Little's law: saturated, the calls complete at the server's capacity, and the calls in
      // flight that keep latency at the target are that rate times the target. Measured from
      // the window's first completion to its last, not from its start: after a quiet spell the
      // first completions come a latency after the first admissions.
      const ratePerMs = (this.samples - 1) / Math.max(1e-3, now - this.firstSampleAt);
      let fits = Math.floor(ratePerMs * target);
      if (loopLate) fits = Math.min(fits, Math.floor(this.current * gradient));
      // At most halved in one window: one noisy window cannot take the limit to the floor.
      const floor = Math.max(minLimit, Math.floor(this.current / 2));
      this.recoverTo = Math.max(this.recoverTo, this.current);
      this.current = Math.min(this.current, Math.max(floor, fits));
    } else if (
      gradient === 1 &&
      this.peakInFlight >= this.current / 2 &&
      // Held full, it grows only while latency is within half the tolerance: at the target
      // one more call in flight is one more waiting, and those overshoots set the tail.
      !(saturated && median > (target + this.minLatencyMs) / 2)
    ) {
      // Doubling only while no call of the window waited past the target: a window can end
      // before the calls queued behind the first ones complete, and its median not show them.
      if (this.slowStart && slowest > target) this.slowStart = false;
      // Past slow start, by one per window (additive increase, as TCP's congestion avoidance):
      // near capacity the overshoots set the p99, and a square root's were twice as large.
      // Back under the limit it had before its last shrinks, with the window far from full
      // and calls at their usual latency, it doubles (TCP's slow start up to its threshold):
      // the overload that shrank it is over, and at one a window a burst of a busy machine
      // left a server at half load refusing calls for seconds.
      const recovering = !saturated && this.current < this.recoverTo;
      if (!recovering) this.recoverTo = 0;
      this.current = Math.min(
        maxLimit,
        recovering
          ? Math.min(this.recoverTo, 2 * this.current)
          : this.slowStart
            ? 2 * this.current
            : this.current + 1,
      );
    }
    this.resetWindow(now);
  }

  private resetWindow(now: number): void {
    this.minLatencyMs *= this.options.minLatencyDrift;
    this.stalled = this.excess > 0;
    this.windowStart = now;
    this.samples = 0;
    this.latencySumMs = 0;
    this.latencies.length = 0;
    this.peakInFlight = 0;
    this.inFlightArea = 0;
    this.busyMs = 0;
    this.heldArea = 0;
    this.heldBusyMs = 0;
  }

  private median(): number {
    const sorted = this.latencies.sort((a, b) => a - b);
    return sorted[sorted.length >> 1];
  }
}
