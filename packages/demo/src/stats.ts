/** What one client saw during one phase. */
export class PhaseStats {
  calls = 0;
  ok = 0;
  retries = 0;
  breakerOpens = 0;
  serverCalls = 0;
  outlivedDeadline = 0;
  readonly latencies: number[] = [];
  readonly byBackend = new Map<string, number>();

  record(
    code: number,
    latencyMs: number,
    attempts: number,
    backend: string | undefined,
    deadlineMs: number,
  ): void {
    this.calls++;
    if (code === 0) this.ok++;
    this.retries += attempts - 1;
    this.latencies.push(latencyMs);
    if (latencyMs > deadlineMs + 50) this.outlivedDeadline++;
    if (backend) this.byBackend.set(backend, (this.byBackend.get(backend) ?? 0) + 1);
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
}
