import type { Attributes, Histogram } from '@opentelemetry/api';
import { attributesKey } from './counted-series';
import type { InstrumentSpec } from './names';

/** One attribute set's aggregate, as the SDK's explicit-bucket histogram keeps it. */
export class HistogramSeries {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** One count per bucket: `(b[i-1], b[i]]`, then one above the last boundary. */
  readonly counts: number[];

  constructor(
    readonly attributes: Attributes,
    buckets: number,
    /** When the series got its first value, ms since the epoch (a cumulative point's start). */
    readonly startedAt: number,
  ) {
    this.counts = new Array<number>(buckets + 1).fill(0);
  }
}

/**
 * A histogram aggregated in the layer: the same values, buckets, count, sum, min and max the
 * OpenTelemetry SDK's explicit-bucket histogram would keep, at the cost of a lookup by object
 * identity, a binary search and a few additions. The SDK (JS 2.x) finds a value's series by
 * sorting and `JSON.stringify`ing the attributes on every record; the layer passes the same
 * frozen attribute object for every call of a method and status, so the series is found by
 * that object, and by its contents only the first time (objects of equal contents, from two
 * clients of one target, share one series, as in the SDK).
 */
export class LayerHistogram implements Histogram {
  private readonly byObject = new WeakMap<Attributes, HistogramSeries>();
  private readonly byContents = new Map<string, HistogramSeries>();

  constructor(
    readonly spec: InstrumentSpec & { readonly buckets: readonly number[] },
    private readonly now: () => number = Date.now,
  ) {}

  record(value: number, attributes: Attributes = EMPTY): void {
    // As the SDK's histogram: negative values and NaN are dropped.
    if (!(value >= 0)) return;
    const series = this.byObject.get(attributes) ?? this.seriesOf(attributes);
    const boundaries = this.spec.buckets;
    // The first boundary >= value (upper bounds are inclusive), as the SDK's `binarySearchUB`.
    let low = 0;
    let high = boundaries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (boundaries[middle] < value) low = middle + 1;
      else high = middle;
    }
    series.counts[low]++;
    series.count++;
    series.sum += value;
    if (value < series.min) series.min = value;
    if (value > series.max) series.max = value;
  }

  /** Every series with a value so far (a cumulative histogram: nothing is reset). */
  series(): IterableIterator<HistogramSeries> {
    return this.byContents.values();
  }

  private seriesOf(attributes: Attributes): HistogramSeries {
    const key = attributesKey(attributes);
    let series = this.byContents.get(key);
    if (!series) {
      series = new HistogramSeries(
        Object.isFrozen(attributes) ? attributes : Object.freeze({ ...attributes }),
        this.spec.buckets.length,
        this.now(),
      );
      this.byContents.set(key, series);
    }
    this.byObject.set(attributes, series);
    return series;
  }
}

const EMPTY: Attributes = Object.freeze({});
