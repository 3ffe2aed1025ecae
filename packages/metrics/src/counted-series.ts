import type { Attributes, ObservableCounter, ObservableResult } from '@opentelemetry/api';

/** One series of a counter the layer keeps itself: a plain number, read at collection. */
export class CountCell {
  value = 0;

  constructor(readonly attributes: Attributes) {}
}

/**
 * A counter counted in the layer and handed to the SDK when it collects, through an observable
 * counter: counting costs one `cell.value++` on the call path, where a synchronous counter's
 * `add()` sorts and serializes the attributes to find its series every time (OpenTelemetry JS
 * 2.x's `hashAttributes`, about 2 µs). A scrape reads the same: a monotonic cumulative sum per
 * attribute set, a series appearing with its first count.
 *
 * One per instrument and provider, and cells are keyed by the attributes' contents: clients of
 * one target share a series, and an observable callback must report each attribute set once
 * (the SDK keeps the last of two observations of one set).
 */
export class CountedSeries {
  private readonly cells = new Map<string, CountCell>();

  /** Without an instrument (one turned off), the cells count and nothing reads them. */
  constructor(instrument: ObservableCounter | undefined) {
    instrument?.addCallback((result) => this.observe(result));
  }

  /** The cell counting `attributes` (made once per attribute set, off the call path). */
  cell(attributes: Attributes): CountCell {
    const key = attributesKey(attributes);
    let cell = this.cells.get(key);
    if (!cell) this.cells.set(key, (cell = new CountCell(attributes)));
    return cell;
  }

  private observe(result: ObservableResult): void {
    // A set nothing was counted for yet has no series, as with a synchronous counter.
    for (const cell of this.cells.values()) {
      if (cell.value > 0) result.observe(cell.value, cell.attributes);
    }
  }
}

/** A key equal for attribute sets of equal contents, whatever their keys' order. */
export function attributesKey(attributes: Attributes): string {
  return JSON.stringify(
    Object.keys(attributes)
      .sort()
      .map((name) => [name, attributes[name]]),
  );
}
