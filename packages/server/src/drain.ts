import { Metadata, status as Status, type Server } from '@grpc/grpc-js';
import {
  REASON_METADATA_KEY,
  callUserCode,
  functionOption,
  integerOption,
  objectOption,
} from '@grpc-resilience/status';
import type { CallTracker } from './call-tracker';

/** Default pause between NOT_SERVING and GOAWAY, ms: see {@link DrainOptions.drainDelayMs}. */
export const DEFAULT_DRAIN_DELAY_MS = 5_000;
/** Default time calls in flight get after GOAWAY before the server is forced down, ms. */
export const DEFAULT_GRACE_MS = 10_000;
/** Default time a response stream gets after GOAWAY to end by itself, ms. */
export const DEFAULT_STREAM_GRACE_MS = 1_000;
/** Details of the status that ends a long-lived stream during a drain. */
export const DRAIN_DETAILS = 'server shutting down';
/** `grpc-resilience-reason` trailer of that status. */
export const DRAIN_REASON = 'draining';

/** The steps of a drain, in order; `forced` only when the grace ran out. */
export type DrainPhase = 'not-serving' | 'goaway' | 'streams-ended' | 'stopped' | 'forced';

/** Options of a drain. Every field is optional. */
export interface DrainOptions {
  /**
   * Pause between marking health NOT_SERVING and GOAWAY, ms, from 0 to 300000. Default 5000:
   * long enough for a balancer polling health every 1 to 2 s (Envoy, cloud L4) to miss a few
   * checks and for Kubernetes to take the pod out of its endpoints, while leaving most of the
   * default 30 s termination grace for calls. Clients that Watch health hear of it at once.
   * Envoy's equivalent is `--drain-time-s`; grpc-go has none (GracefulStop sends GOAWAY at once).
   */
  drainDelayMs?: number;
  /**
   * Time the calls in flight get after GOAWAY, ms, from 0 to 3600000. Default 10000. Then
   * `forceShutdown` resets what is left. grpc-go's equivalent: a timer around GracefulStop.
   */
  graceMs?: number;
  /**
   * Time a response stream (server-streaming or bidi) gets after GOAWAY to end by itself, ms,
   * capped by `graceMs`. Default 1000. Then it is ended with UNAVAILABLE `server shutting down`
   * (trailer `grpc-resilience-reason: draining`), which the layer's clients retry elsewhere when
   * the stream is idempotent and uncommitted, and which tells any caller to resume elsewhere.
   */
  streamGraceMs?: number;
  /** Called at each step (for logs and tests); may throw without stopping the drain. */
  onPhase?: (phase: DrainPhase) => void;
}

/** Resolved {@link DrainOptions}. */
export interface ResolvedDrainOptions {
  readonly drainDelayMs: number;
  readonly graceMs: number;
  readonly streamGraceMs: number;
  readonly onPhase: ((phase: DrainPhase) => void) | undefined;
}

export const DRAIN_OPTION_KEYS = ['drainDelayMs', 'graceMs', 'streamGraceMs', 'onPhase'];

/** Validates and defaults {@link DrainOptions}; a bad one throws a `ConfigError` naming it. */
export function resolveDrainOptions(
  options: DrainOptions | undefined,
  path = 'drain',
  defaults: { drainDelayMs?: number } = {},
): ResolvedDrainOptions {
  const input = objectOption(path, options, DRAIN_OPTION_KEYS);
  const graceMs = integerOption(`${path}.graceMs`, input.graceMs, DEFAULT_GRACE_MS, {
    min: 0,
    max: 3_600_000,
  });
  return Object.freeze({
    drainDelayMs: integerOption(
      `${path}.drainDelayMs`,
      input.drainDelayMs,
      defaults.drainDelayMs ?? DEFAULT_DRAIN_DELAY_MS,
      { min: 0, max: 300_000 },
    ),
    graceMs,
    streamGraceMs: Math.min(
      graceMs,
      integerOption(`${path}.streamGraceMs`, input.streamGraceMs, DEFAULT_STREAM_GRACE_MS, {
        min: 0,
        max: 3_600_000,
      }),
    ),
    onPhase: functionOption<(phase: DrainPhase) => void>(
      `${path}.onPhase`,
      input.onPhase,
      undefined as never,
    ),
  });
}

/** How a drain ended. */
export interface DrainResult {
  /** Whether the grace ran out and `forceShutdown` reset the calls left. */
  forced: boolean;
  /** How many response streams the drain ended itself. */
  streamsEnded: number;
}

/** What a drain acts on besides the server; both optional. */
export interface DrainTargets {
  /** Marked NOT_SERVING first (anything with `drain()`, or grpc-health-check's `setStatus`). */
  health?: { drain(): void };
  /** The server's call tracker: its long-lived streams are ended after `streamGraceMs`. */
  tracker?: CallTracker;
}

/**
 * Takes a server down without failing calls: health NOT_SERVING, `drainDelayMs` for balancers
 * to notice, then `tryShutdown` (no new connections; GOAWAY on each open one, so clients send
 * new calls elsewhere), `streamGraceMs` for streams to end before the drain ends them, and
 * `graceMs` for every call before `forceShutdown`. Timers hold the process up: a drain always
 * finishes.
 */
export async function drainServer(
  server: Server,
  targets: DrainTargets,
  options: ResolvedDrainOptions,
): Promise<DrainResult> {
  const phase = (name: DrainPhase) => callUserCode('drain onPhase', options.onPhase, name);
  targets.health?.drain();
  phase('not-serving');
  if (options.drainDelayMs > 0)
    await new Promise((resolve) => setTimeout(resolve, options.drainDelayMs));
  let streamsEnded = 0;
  return new Promise<DrainResult>((resolve) => {
    let done = false;
    const finish = (forced: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(streamTimer);
      clearTimeout(forceTimer);
      if (forced) server.forceShutdown();
      phase(forced ? 'forced' : 'stopped');
      resolve({ forced, streamsEnded });
    };
    const streamTimer = setTimeout(() => {
      if (targets.tracker === undefined) return;
      const metadata = new Metadata();
      metadata.set(REASON_METADATA_KEY, DRAIN_REASON);
      streamsEnded = targets.tracker.endStreams({
        code: Status.UNAVAILABLE,
        details: DRAIN_DETAILS,
        metadata,
      });
      phase('streams-ended');
    }, options.streamGraceMs);
    const forceTimer = setTimeout(() => finish(true), options.graceMs);
    phase('goaway');
    server.tryShutdown(() => finish(false));
  });
}
