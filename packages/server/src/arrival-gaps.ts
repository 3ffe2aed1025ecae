/**
 * Gaps in arrivals are looked for in the last 1 to 100 buckets of a tenth of a window (10 ms to
 * 1 s by default) against the rate of the buckets before them, up to 1,000 (10 s), at least 20
 * of them. Buckets that fine put a gap in whole buckets and the burst in the last.
 */
const BUCKETS_PER_WINDOW = 10;
/** Buckets a gap may span; also how long a burst's room and a saturated window's shadow last. */
export const HORIZON_BUCKETS = 100;
const RING_BUCKETS = 1000;
const MIN_REFERENCE_BUCKETS = 20;

/**
 * Arrivals (admitted or not) per bucket, in a ring, to tell the backlog of a gap in arrivals
 * from a rise in demand. Their sum is kept as the ring turns, so a check costs one pass over the
 * horizon and counting an arrival costs nothing. Pure logic: the caller feeds the clock.
 */
export class ArrivalGaps {
  private readonly arrivals = new Int32Array(RING_BUCKETS);
  private bucket = 0;
  private bucketEnds: number;
  /** Buckets turned since the start, up to the ring's size: how much history there is. */
  private bucketsSeen = 0;
  /** Arrivals in the ring. */
  private ringArrivals = 0;
  /** One bucket's span, ms. */
  readonly bucketMs: number;

  constructor(windowMs: number, now: number) {
    this.bucketMs = windowMs / BUCKETS_PER_WINDOW;
    this.bucketEnds = now + this.bucketMs;
  }

  /** Counts a call that arrived, before it is admitted or refused. */
  onArrival(now: number): void {
    if (now >= this.bucketEnds) this.turnBuckets(now);
    this.arrivals[this.bucket]++;
    this.ringArrivals++;
  }

  /**
   * The calls a gap in arrivals just before now held back, with Poisson room (0: no gap). When
   * some span of whole buckets just before the one being filled, which holds the burst, brought
   * fewer calls than the rate of the ring's earlier buckets, by more than two standard
   * deviations, something upstream stood still and the calls it held back arrive now: that
   * shortfall plus two deviations. A rise in demand has no gap before it: 0.
   */
  roomAfterGap(now: number): number {
    if (now >= this.bucketEnds) this.turnBuckets(now);
    const ring = this.arrivals;
    const at = (back: number) => ring[(this.bucket - back + RING_BUCKETS) % RING_BUCKETS];
    // Whole buckets before the one being filled, and those just before it that hold the
    // burst's start (more than the rate brings, by two deviations) left out of the gap.
    let whole = Math.min(RING_BUCKETS, this.bucketsSeen + 1) - 1;
    let earlier = this.ringArrivals - at(0);
    const perBucket = whole > 0 ? earlier / whole : 0;
    let skip = 0;
    while (skip < 3 && at(skip + 1) > perBucket + 2 * Math.sqrt(perBucket)) {
      skip++;
      earlier -= at(skip);
      whole--;
    }
    let before = 0;
    let room = 0;
    for (let span = 1; span <= HORIZON_BUCKETS && whole - span >= MIN_REFERENCE_BUCKETS; span++) {
      before += at(span + skip);
      const expected = ((earlier - before) / (whole - span)) * span;
      const deviation = 2 * Math.sqrt(expected);
      if (expected - before > deviation) room = Math.max(room, expected - before + deviation);
    }
    return Math.ceil(room);
  }

  private turnBuckets(now: number): void {
    const ring = this.arrivals;
    // After a ring's span without a call, everything is empty: no need to turn bucket by bucket.
    for (let turns = 0; now >= this.bucketEnds && turns < RING_BUCKETS; turns++) {
      this.bucket = (this.bucket + 1) % RING_BUCKETS;
      this.ringArrivals -= ring[this.bucket];
      ring[this.bucket] = 0;
      this.bucketEnds += this.bucketMs;
      if (this.bucketsSeen < RING_BUCKETS) this.bucketsSeen++;
    }
    if (now >= this.bucketEnds) this.bucketEnds = now + this.bucketMs;
  }
}
