import { status as Status } from '@grpc/grpc-js';
import {
  classifyStatus,
  isStreamOwnDeadline,
  statusOrigin,
  type StatusLike,
} from '@grpc-resilience/status';

/** How endpoints are ejected. */
export interface EjectionConfig {
  /** Eject after this many server-side failures in a row. Default 5. */
  consecutiveFailures: number;
  /** First ejection lasts about this long (jittered ±20%), ms. Default 1000. */
  baseEjectionMs: number;
  /** Each ejection in a row doubles the time, up to this, ms. Default 30000. */
  maxEjectionMs: number;
  /** At most this share of endpoints is ejected at once, and never all. Default 0.5. */
  maxEjectedShare: number;
}

export const DEFAULT_EJECTION: Readonly<EjectionConfig> = Object.freeze({
  consecutiveFailures: 5,
  baseEjectionMs: 1000,
  maxEjectionMs: 30_000,
  maxEjectedShare: 0.5,
});

interface EndpointHealth {
  failures: number;
  /** Ejections in a row, for the growing period. */
  ejections: number;
  /** Ejected until this time (0: not ejected). */
  ejectedUntil: number;
  /** A probe is granted: everything else still avoids this endpoint. */
  probing: boolean;
  /** When the probe was granted, and whether its call started (grpc-js's `onCallStarted`). */
  probeGrantedAt: number;
  probeStarted: boolean;
}

/**
 * A probe whose call has not started this long after its pick is given up and granted again:
 * grpc-js re-picks a call whose endpoint left READY before its stream opened, and ends a call
 * cancelled in between without telling the picker, so such a probe would otherwise hold the
 * endpoint out forever. Creating a stream on a READY connection takes microseconds; call
 * credentials (a token fetch) can take longer, and then at worst two probes overlap.
 */
export const PROBE_START_GRACE_MS = 1000;

/**
 * Consecutive-failure ejection per endpoint (as Linkerd and Finagle do), for the 2-4 replica
 * services that gRPC's outlier_detection leaves alone (it needs 5+ hosts and a 10 s interval).
 * Failures are what the status package counts against a server; an ejected endpoint gets one
 * probe when its time is up: success readmits it, failure ejects it again for longer.
 */
export class Ejector {
  private readonly health = new Map<string, EndpointHealth>();
  private endpoints = 0;
  /** Entries with `ejectedUntil !== 0`: the picker asks on every pick, so it is kept, not counted. */
  private ejectedCount = 0;
  config: EjectionConfig = DEFAULT_EJECTION;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** The current endpoints (their addresses); forgets the others. */
  setEndpoints(addresses: Iterable<string>): void {
    const current = new Set(addresses);
    for (const [address, entry] of this.health) {
      if (current.has(address)) continue;
      if (entry.ejectedUntil !== 0) this.ejectedCount--;
      this.health.delete(address);
    }
    this.endpoints = current.size;
  }

  /** Whether a pick may use this endpoint; grants the probe of an endpoint whose time is up. */
  admit(address: string): boolean {
    const entry = this.health.get(address);
    if (!entry || entry.ejectedUntil === 0) return true;
    const now = this.now();
    if (now < entry.ejectedUntil) return false;
    if (entry.probing && !this.isProbeLost(entry, now)) return false;
    entry.probing = true;
    entry.probeGrantedAt = now;
    entry.probeStarted = false;
    return true;
  }

  /**
   * What {@link admit} would answer, without granting a probe: for a picker that weighs several
   * endpoints before it commits to one.
   */
  isAdmissible(address: string): boolean {
    const entry = this.health.get(address);
    if (!entry || entry.ejectedUntil === 0) return true;
    const now = this.now();
    return now >= entry.ejectedUntil && (!entry.probing || this.isProbeLost(entry, now));
  }

  /** Whether `address` is ejected and its probe may be granted now. */
  isProbeDue(address: string): boolean {
    const entry = this.health.get(address);
    return entry !== undefined && entry.ejectedUntil !== 0 && this.isAdmissible(address);
  }

  /** The call a probe was granted to has started on `address`: its end will be recorded. */
  started(address: string): void {
    // Probes exist only while something is ejected: every call's start skips the lookup.
    if (this.ejectedCount === 0) return;
    const entry = this.health.get(address);
    if (entry?.probing) entry.probeStarted = true;
  }

  /**
   * A granted probe that will never report: not started within the grace, or started and
   * silent for longer than the longest ejection (a stream that outlives the probe's purpose).
   */
  private isProbeLost(entry: EndpointHealth, now: number): boolean {
    const waited = now - entry.probeGrantedAt;
    return entry.probeStarted
      ? waited >= this.config.maxEjectionMs
      : waited >= PROBE_START_GRACE_MS;
  }

  /**
   * Records how a call on `address` ended. `streamDeadline` is the call's own deadline (ms since
   * the epoch) when it has a response stream (server-streaming, bidi), else undefined.
   */
  record(
    address: string,
    status: StatusLike,
    streamDeadline?: number,
  ): 'failed' | 'neutral' | 'healthy' {
    const entry = this.entry(address);
    const outcome = endpointOutcome(status, streamDeadline, this.now);
    if (outcome === 'neutral') {
      // Says nothing of the endpoint: leave its count alone, and free a probe for another try.
      entry.probing = false;
    } else if (outcome === 'healthy') {
      this.healthy(entry);
    } else {
      this.failed(entry);
    }
    return outcome;
  }

  /**
   * Records a call on `address` that ended OK: what {@link record} does for it, without the
   * status object and its classification (the success path of every call).
   */
  succeeded(address: string): void {
    this.healthy(this.entry(address));
  }

  /** A success, or a caller's error from a live server: the endpoint is healthy. */
  private healthy(entry: EndpointHealth): void {
    entry.failures = 0;
    if (entry.ejectedUntil !== 0 && entry.probing) {
      entry.ejectedUntil = 0;
      entry.ejections = 0;
      entry.probing = false;
      this.ejectedCount--;
    }
  }

  private failed(entry: EndpointHealth): void {
    entry.failures++;
    if (entry.probing) {
      entry.probing = false;
      this.eject(entry);
    } else if (
      entry.ejectedUntil === 0 &&
      entry.failures >= this.config.consecutiveFailures &&
      this.canEject()
    ) {
      this.eject(entry);
    }
  }

  /** Whether any endpoint is ejected now: the picker's fast path skips its checks when none is. */
  hasEjections(): boolean {
    return this.ejectedCount > 0;
  }

  /** Addresses ejected now (probe pending or not). */
  ejected(): string[] {
    return [...this.health]
      .filter(([, entry]) => entry.ejectedUntil !== 0)
      .map(([address]) => address);
  }

  private entry(address: string): EndpointHealth {
    let entry = this.health.get(address);
    if (!entry)
      this.health.set(
        address,
        (entry = {
          failures: 0,
          ejections: 0,
          ejectedUntil: 0,
          probing: false,
          probeGrantedAt: 0,
          probeStarted: false,
        }),
      );
    return entry;
  }

  private canEject(): boolean {
    const cap = Math.min(
      Math.floor(this.endpoints * this.config.maxEjectedShare),
      this.endpoints - 1,
    );
    return this.ejectedCount < cap;
  }

  private eject(entry: EndpointHealth): void {
    const { baseEjectionMs, maxEjectionMs } = this.config;
    const period = Math.min(maxEjectionMs, baseEjectionMs * 2 ** entry.ejections);
    entry.ejections++;
    if (entry.ejectedUntil === 0) this.ejectedCount++;
    entry.ejectedUntil = this.now() + period * (0.8 + 0.4 * this.random());
  }
}

/**
 * How one call's end bears on its endpoint:
 * - `failed`: what the status package counts against a server (UNAVAILABLE, a reset, INTERNAL…);
 * - `neutral`: the server said nothing: a local cancel (the caller's, or one propagated from the
 *   incoming call a handler was serving), or a stream that ended by its own deadline (the local
 *   timer, or the deadline already past when the status came), which for a watch is its end;
 * - `healthy`: OK, or a caller's error that a live server answered.
 * A unary call that times out stays `failed`: a server that never answers is failing.
 */
export function endpointOutcome(
  status: StatusLike,
  streamDeadline: number | undefined,
  now: () => number,
): 'failed' | 'neutral' | 'healthy' {
  if (status.code === Status.OK) return 'healthy';
  if (isStreamOwnDeadline(status, streamDeadline, now)) return 'neutral';
  const origin = statusOrigin(status);
  if (classifyStatus(status).breakerFailure) return 'failed';
  return origin === 'local' ? 'neutral' : 'healthy';
}
