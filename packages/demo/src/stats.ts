import { status as Status } from '@grpc/grpc-js';

/** What one client saw during one phase. */
export class PhaseStats {
  calls = 0;
  ok = 0;
  /** Retries, from the layer's `grpc-resilience-attempts` trailer; the table reads its metrics. */
  retries = 0;
  /** Calls that reached the cluster's backends, counted by the backends themselves. */
  serverCalls = 0;
  outlivedDeadline = 0;
  /** Calls that ended OK with a reply that was not the answer to the request: must stay 0. */
  wrongReplies = 0;
  readonly latencies: number[] = [];
  readonly byBackend = new Map<string, number>();
  /** How many calls ended with each status code name (and the layer's reason), OK included. */
  readonly byCode = new Map<string, number>();

  /**
   * Counts one finished call; `correct` says whether an OK call's reply answered the request, and
   * `reason` is why the layer itself refused the call (e.g. `circuit-open`), if it did.
   */
  record(
    code: number,
    latencyMs: number,
    attempts: number,
    backend: string | undefined,
    deadlineMs: number,
    correct = true,
    reason?: string,
  ): void {
    this.calls++;
    const name = (Status[code] ?? String(code)) + (reason ? ` (${reason})` : '');
    this.byCode.set(name, (this.byCode.get(name) ?? 0) + 1);
    if (code === Status.OK) {
      if (correct) this.ok++;
      else this.wrongReplies++;
    }
    this.retries += attempts - 1;
    this.latencies.push(latencyMs);
    if (latencyMs > deadlineMs + 50) this.outlivedDeadline++;
    if (backend && code === Status.OK)
      this.byBackend.set(backend, (this.byBackend.get(backend) ?? 0) + 1);
  }

  get successPercent(): number {
    return this.calls === 0 ? 100 : (100 * this.ok) / this.calls;
  }

  percentile(p: number): number {
    if (this.latencies.length === 0) return 0;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }

  /** Share of successful replies per backend, e.g. `b0 50 b1 50 b2 0`. */
  share(names: readonly string[]): string {
    const total = [...this.byBackend.values()].reduce((a, b) => a + b, 0) || 1;
    return names
      .map((name) => `${Math.round((100 * (this.byBackend.get(name) ?? 0)) / total)}`.padStart(3))
      .join(' ');
  }

  /** How the failed calls ended, most frequent first, e.g. `DEADLINE_EXCEEDED 160, UNAVAILABLE 2`. */
  failures(): string {
    const failed = [...this.byCode].filter(([name]) => name !== 'OK');
    if (this.wrongReplies > 0) failed.push(['OK with a wrong reply', this.wrongReplies]);
    return (
      failed
        .sort((a, b) => b[1] - a[1])
        .map(([name, count]) => `${name} ${count}`)
        .join(', ') || '-'
    );
  }
}

/** One second of a phase: the calls that started in it. */
export interface TimelineSecond {
  /** Start of the second, ms from the start of the run. */
  atMs: number;
  calls: number;
  ok: number;
}

/**
 * Calls and successes per second of each phase, by the second each call started in, counted from
 * the phase's own start: every phase lasts whole seconds, so no second is a sliver of one.
 */
export class Timeline {
  private readonly byKey = new Map<string, TimelineSecond>();

  record(phaseStartMs: number, elapsedInPhaseMs: number, ok: boolean): void {
    const second = Math.floor(elapsedInPhaseMs / 1000);
    const key = `${phaseStartMs}:${second}`;
    let entry = this.byKey.get(key);
    if (!entry)
      this.byKey.set(key, (entry = { atMs: phaseStartMs + second * 1000, calls: 0, ok: 0 }));
    entry.calls++;
    if (ok) entry.ok++;
  }

  /** The seconds in order of time. */
  get seconds(): TimelineSecond[] {
    return [...this.byKey.values()].sort((a, b) => a.atMs - b.atMs);
  }

  /** Success rate of each second, percent, at the middle of the second (s from the run's start). */
  successPercent(): { atS: number; percent: number }[] {
    return this.seconds.map(({ atMs, calls, ok }) => ({
      atS: atMs / 1000 + 0.5,
      percent: (100 * ok) / calls,
    }));
  }
}
