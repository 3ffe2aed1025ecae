import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import {
  Metadata,
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import {
  ConfigError,
  DEADLINE_BUDGET_REASON,
  PUSHBACK_METADATA_KEY,
  REASON_METADATA_KEY,
  STATUS_DETAILS_METADATA_KEY,
  deadlineToMs,
  objectOption,
  retryInfoStatusDetails,
  serviceOf,
} from '@grpc-resilience/status';
import { ConcurrencyLimit } from './concurrency-limit';
import {
  CONCURRENCY_LIMIT_KEYS,
  resolveConcurrencyLimitOptions,
  type ConcurrencyLimitOptions,
  type ResolvedConcurrencyLimitOptions,
} from './concurrency-limit-options';
import { SHARE, headerPriority, resolvePriorities, type Priority } from './priority';

/** Sampling interval of the event-loop delay histogram, and the stall detector's tick, ms. */
const LOOP_RESOLUTION_MS = 10;
/**
 * A tick this much later than due means the process stood still (a busy machine descheduled
 * it, a GC pause): a stall, whose backlog of calls the limit lets in (ConcurrencyLimit.onStall).
 * One more tick: under it, this machine's timers were late by less at the 99.9th percentile.
 */
const STALL_MS = 2 * LOOP_RESOLUTION_MS;

/** Options of {@link AdmissionControl}: those of the limit, and priorities. */
export interface AdmissionOptions extends ConcurrencyLimitOptions {
  /**
   * Priority by method path (`/pkg.Service/Method`) or service name; the request header
   * `grpc-resilience-priority: critical | sheddable` wins over it. Default: every call `normal`.
   */
  priorities?: Readonly<Record<string, Priority>>;
  /** Whether the request header may set the priority. Default true (trusted internal callers). */
  priorityHeader?: boolean;
}

/** Counters of an {@link AdmissionControl}, for metrics and tests. */
export interface AdmissionStats {
  limit: number;
  inFlight: number;
  admitted: number;
  /** Refused with RESOURCE_EXHAUSTED: over the limit for their priority. */
  shed: number;
  /** Refused with DEADLINE_EXCEEDED: less time left than the expected wait. */
  tooLate: number;
}

/**
 * Admission control for a grpc-js server: an adaptive concurrency limit over unary and
 * client-streaming calls (a response stream is admitted, never counted: its lifetime says nothing
 * of load). A call over its priority's share of the limit is answered at once, unrun, with
 * RESOURCE_EXHAUSTED, `grpc-retry-pushback-ms` and a `google.rpc.RetryInfo` of the expected
 * latency, so the layer's clients back off; a call whose deadline leaves less than the expected
 * latency is answered DEADLINE_EXCEEDED unrun. Put `interceptor` early in the server's list.
 */
export class AdmissionControl {
  private readonly limiter: ConcurrencyLimit;
  private readonly options: ResolvedConcurrencyLimitOptions;
  private readonly priorities: ReadonlyMap<string, Priority>;
  private readonly priorityHeader: boolean;
  private readonly loopDelay: IntervalHistogram | undefined;
  private count = 0;
  private admittedCount = 0;
  private shedCount = 0;
  private tooLateCount = 0;

  constructor(options: AdmissionOptions = {}, path = 'admission') {
    const input = objectOption(path, options, [
      ...CONCURRENCY_LIMIT_KEYS,
      'priorities',
      'priorityHeader',
    ]);
    this.options = resolveConcurrencyLimitOptions(undefined, path, input);
    this.priorities = resolvePriorities(input.priorities, `${path}.priorities`);
    if (input.priorityHeader !== undefined && typeof input.priorityHeader !== 'boolean')
      throw new ConfigError(
        `${path}.priorityHeader`,
        'must be true or false',
        input.priorityHeader,
      );
    this.priorityHeader = input.priorityHeader !== false;
    this.limiter = new ConcurrencyLimit(this.options, performance.now());
    if (this.options.eventLoopDelayMs > 0) {
      this.loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
      this.loopDelay.enable();
      this.stallTimer = setInterval(this.tick, LOOP_RESOLUTION_MS).unref();
    }
  }

  /** The limit now, calls in flight and what was refused so far. */
  get stats(): AdmissionStats {
    return {
      limit: this.limiter.limit,
      inFlight: this.count,
      admitted: this.admittedCount,
      shed: this.shedCount,
      tooLate: this.tooLateCount,
    };
  }

  /** Stops measuring the event-loop delay. The interceptor keeps working on latency alone. */
  close(): void {
    this.loopDelay?.disable();
    clearInterval(this.stallTimer);
    this.stallTimer = undefined;
  }

  /** The stall detector's timer: undefined with `eventLoopDelayMs: 0` and after `close()`. */
  private stallTimer: NodeJS.Timeout | undefined;
  private tickedAt = performance.now();

  /**
   * The stall detector. Timers run before the poll phase reads the sockets, so after a stall
   * the limit hears of it before the calls that arrived meanwhile are read. A process slowed
   * by its own work (a CPU-bound handler) is not stalled: its backlog is overload.
   */
  private readonly tick = (): void => {
    const now = performance.now();
    const lateMs = now - this.tickedAt - LOOP_RESOLUTION_MS;
    this.tickedAt = now;
    if (lateMs >= STALL_MS && !this.busyWithOwnWork && !this.loopBusy)
      this.limiter.onStall(lateMs, now);
  };

  private cpuSince = process.cpuUsage();
  private wallSince = performance.now();
  private eluSince = performance.eventLoopUtilization();
  private sharedDelayMs = 0;
  /** The process used half a core or more in the last window: its loop's lateness is its own. */
  private busyWithOwnWork = false;
  /**
   * Its event loop ran this process's code half the last window or more. A late tick is then
   * no stall: a CPU-bound process on a starved machine gets under half a core yet keeps its
   * loop busy (by CPU share alone, the in-process overload test's own lateness read as stalls at
   * load average 10, and its limit ended at 57). Not used for the shrink: a server refusing
   * hundreds of calls a second keeps its loop busy too, and shrinking on that lateness took the
   * limit to its minimum at 3x on sockets (goodput 28% and 43% in two quick runs).
   */
  private loopBusy = false;

  /**
   * The window's p99 event-loop delay, ms, when the process used half a core or more meanwhile
   * (its own work made the loop late: overload), else 0 and its median kept for
   * {@link readSharedDelay}: then the loop ran late because the machine was busy, not because
   * of this server's work, and every call shared that lateness. A loaded machine's p99 (120 ms
   * seen here at load average 6 in a server using a fifth of a core) shrank the limit before.
   */
  private readonly readLoopDelay = (): number => {
    if (this.loopDelay === undefined) return 0;
    // The histogram records each interval whole, its 10 ms resolution included.
    const p99 = Math.max(0, this.loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS);
    const median = Math.max(0, this.loopDelay.percentile(50) / 1e6 - LOOP_RESOLUTION_MS);
    const cpu = process.cpuUsage(this.cpuSince);
    const now = performance.now();
    const share = (cpu.user + cpu.system) / 1000 / Math.max(1, now - this.wallSince);
    this.busyWithOwnWork = share >= 0.5;
    this.loopBusy = performance.eventLoopUtilization(this.eluSince).utilization >= 0.5;
    this.cpuSince = process.cpuUsage();
    this.wallSince = now;
    this.eluSince = performance.eventLoopUtilization();
    this.sharedDelayMs = this.busyWithOwnWork ? 0 : median;
    this.loopDelay.reset();
    return this.busyWithOwnWork ? p99 : 0;
  };

  private readonly readSharedDelay = (): number => this.sharedDelayMs;

  readonly interceptor: ServerInterceptor = (method, call) => {
    if (method.responseStream) return new ServerInterceptingCall(call);
    const fromConfig = this.priorityOf(method.path);
    let startedAt = 0;
    let admitted = false;
    let refused = false;
    const finish = () => {
      if (!admitted) return;
      admitted = false;
      this.count--;
      const now = performance.now();
      this.limiter.onSample(
        now - startedAt,
        now,
        this.count,
        this.readLoopDelay,
        this.readSharedDelay,
      );
    };
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, nextMetadata) => {
            const priority = this.priorityHeader
              ? headerPriority(metadata, fromConfig)
              : fromConfig;
            const now = performance.now();
            this.limiter.onArrival(now);
            const refusal = this.refusal(priority, call.getDeadline(), now);
            if (refusal !== undefined) {
              // The handler never hears of the call: neither its metadata nor its messages.
              refused = true;
              call.sendStatus(refusal);
              return;
            }
            admitted = true;
            this.count++;
            this.admittedCount++;
            startedAt = now;
            this.limiter.onAdmit(this.count, startedAt);
            nextMetadata(metadata);
          },
          onReceiveMessage: (message, nextMessage) => {
            if (!refused) nextMessage(message);
          },
          onReceiveHalfClose: (nextHalfClose) => {
            if (!refused) nextHalfClose();
          },
          onCancel: finish,
        });
      },
      sendStatus: (status, next) => {
        finish();
        next(status);
      },
    });
  };

  private priorityOf(path: string): Priority {
    return this.priorities.get(path) ?? this.priorities.get(serviceOf(path)) ?? 'normal';
  }

  private overLimit(priority: Priority): boolean {
    return this.count >= Math.max(1, Math.floor(this.limiter.limit * SHARE[priority]));
  }

  /** The status that refuses a call now, or undefined to admit it. */
  private refusal(priority: Priority, deadline: Date | number, now: number) {
    const expectedMs = this.limiter.expectedLatencyMs;
    // A stall the detector has not heard of yet: descheduled in the middle of the poll phase,
    // the process goes on with the requests that phase had read before its timers run. 816 of
    // 1,630 refusals of a bench run came with the detector's timer 30 ms or more overdue. Only
    // while the detector runs: without its timer, the time since the last tick is no stall.
    if (
      this.stallTimer !== undefined &&
      this.overLimit(priority) &&
      now - this.tickedAt >= LOOP_RESOLUTION_MS + STALL_MS
    )
      this.tick();
    if (this.overLimit(priority) && !this.limiter.admitsBurst(this.count, now, SHARE[priority])) {
      const limit = this.limiter.limit;
      this.shedCount++;
      // Ask for the time one admitted call takes: by then a slot is likely free.
      const pushbackMs = Math.max(1, Math.ceil(expectedMs));
      const details = `server overloaded: ${this.count} calls in flight, limit ${limit} (${priority})`;
      const metadata = new Metadata();
      metadata.set(REASON_METADATA_KEY, 'overloaded');
      metadata.set(PUSHBACK_METADATA_KEY, String(pushbackMs));
      metadata.set(
        STATUS_DETAILS_METADATA_KEY,
        retryInfoStatusDetails(Status.RESOURCE_EXHAUSTED, details, pushbackMs),
      );
      return { code: Status.RESOURCE_EXHAUSTED, details, metadata };
    }
    const deadlineMs = deadlineToMs(deadline);
    if (deadlineMs === undefined || expectedMs === 0) return undefined;
    const leftMs = deadlineMs - Date.now();
    if (leftMs >= expectedMs) return undefined;
    this.tooLateCount++;
    const metadata = new Metadata();
    metadata.set(REASON_METADATA_KEY, DEADLINE_BUDGET_REASON);
    return {
      code: Status.DEADLINE_EXCEEDED,
      details: `not started: ${Math.max(0, Math.round(leftMs))} ms left, calls take ${Math.round(expectedMs)} ms`,
      metadata,
    };
  }
}
