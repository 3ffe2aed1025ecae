import type { Attributes } from '@opentelemetry/api';
import { statusName } from '@grpc-resilience/status';
import type { CountCell, CountedSeries } from './counted-series';
import { ATTR_METHOD, ATTR_OUTCOME, ATTR_REASON, ATTR_STATUS, ATTR_TARGET } from './names';

/** The `grpc.method` value for methods not registered (gRFC A66), and past the cap. */
export const OTHER = 'other';

/**
 * Frozen attribute sets for one method, made once and reused by every call: the hot path builds
 * no attribute object (the SDK keys its series by the attributes' contents, so sharing one object
 * per series is safe).
 */
export class MethodAttributes {
  /** `{ grpc.method[, grpc.target] }`. */
  readonly base: Attributes;
  /** Calls (server) or attempts (client) started, counted under {@link base}. */
  readonly started: CountCell;
  private readonly byStatus: Attributes[] = [];
  private readonly extended = new Map<string, Attributes>();

  constructor(method: string, target: string | undefined, started: CountedSeries) {
    this.base = Object.freeze(
      target === undefined
        ? { [ATTR_METHOD]: method }
        : { [ATTR_METHOD]: method, [ATTR_TARGET]: target },
    );
    this.started = started.cell(this.base);
  }

  /** The base set plus `grpc.status` as its name (`OK`, `DEADLINE_EXCEEDED`, …). */
  withStatus(code: number): Attributes {
    return (this.byStatus[code] ??= Object.freeze({
      ...this.base,
      [ATTR_STATUS]: statusName(code),
    }));
  }

  /** The base set plus the layer's reason (`circuit-open`, `budget`, …): a small, closed set. */
  withReason(reason: string): Attributes {
    return this.extendedWith(ATTR_REASON, reason);
  }

  /** The base set plus a dedup outcome (`executed`, `replayed`, `refused`). */
  withOutcome(outcome: string): Attributes {
    return this.extendedWith(ATTR_OUTCOME, outcome);
  }

  private extendedWith(key: string, value: string): Attributes {
    const id = `${key}=${value}`;
    let attributes = this.extended.get(id);
    if (!attributes) {
      attributes = Object.freeze({ ...this.base, [key]: value });
      this.extended.set(id, attributes);
    }
    return attributes;
  }
}

/**
 * The attribute sets of every method one client or server sees. A66 reports methods not
 * registered as "other" to bound cardinality: with `methods` given, any other path is "other";
 * without, paths are recorded as they come until `maxMethods` distinct ones, then "other".
 */
export class AttributeCache {
  private readonly byPath = new Map<string, MethodAttributes>();
  private other: MethodAttributes | undefined;

  constructor(
    private readonly target: string | undefined,
    private readonly registered: ReadonlySet<string> | undefined,
    private readonly maxMethods: number,
    /** Where each method's `started` count lives: attempts on a client, calls on a server. */
    private readonly started: CountedSeries,
  ) {}

  /** The attributes of a call to `path` (`/pkg.Service/Method`). */
  of(path: string): MethodAttributes {
    const known = this.byPath.get(path);
    if (known) return known;
    const isOther =
      this.registered !== undefined
        ? !this.registered.has(path)
        : this.byPath.size >= this.maxMethods;
    if (isOther) return (this.other ??= new MethodAttributes(OTHER, this.target, this.started));
    // A66 names a method without the leading slash: `pkg.Service/Method`.
    const attributes = new MethodAttributes(
      path.startsWith('/') ? path.slice(1) : path,
      this.target,
      this.started,
    );
    this.byPath.set(path, attributes);
    return attributes;
  }
}
