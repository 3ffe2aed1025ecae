import { Metadata, experimental, status as Status } from '@grpc/grpc-js';
import { DEFAULT_DECAY_MS, EndpointLoad } from './endpoint-load';
import { Ejector } from './ejector';
import { SERVER_MS_METADATA_KEY } from './load-report';
import { P2cPicker, type ReadyEndpoint } from './p2c-picker';
import { seededRandom } from '@grpc-resilience/testing';

/**
 * A closed loop of `inFlight` calls through the picker on a simulated clock: each call takes
 * its endpoint's service time. With `tickMs`, the client sees an answer only at its next turn,
 * 1 to 2 ticks away (a process that waits for a core on a shared machine): a delay that every
 * endpoint's calls share. With `reports`, each answer carries its server's time (the load
 * report); `networkMs` adds each endpoint's distance, which no report includes; `stall` makes
 * a share of every endpoint's calls that much longer, in its report too (a late timer or a GC
 * pause in the backend process). Returns each endpoint's share of the calls after `warmUpCalls`.
 */
function simulate(
  serviceMs: number[],
  options: {
    inFlight: number;
    calls: number;
    warmUpCalls: number;
    tickMs?: number;
    reports?: boolean;
    networkMs?: number[];
    stall?: { share: number; ms: number };
  },
): number[] {
  const { inFlight, calls, warmUpCalls, tickMs = 0, reports = false, networkMs, stall } = options;
  const clock = { ms: 0 };
  const now = () => clock.ms;
  let chosen = -1;
  const endpoints: ReadyEndpoint[] = serviceMs.map((_, i) => ({
    address: `10.0.0.${i + 1}:50051`,
    // What grpc-js's leaf picker answers for a READY endpoint; it also says which was chosen.
    picker: {
      pick: () => {
        chosen = i;
        return {
          pickResultType: experimental.PickResultType.COMPLETE,
          subchannel: null,
          status: null,
          onCallStarted: null,
          onCallEnded: null,
        };
      },
    },
    load: new EndpointLoad(now),
    readySince: 0,
  }));
  const picker = new P2cPicker(endpoints, {
    ejector: new Ejector(now),
    decayMs: DEFAULT_DECAY_MS,
    slowStartMs: 0,
    useServerLoadReports: true,
    random: seededRandom(14),
    now,
  });
  const counts = serviceMs.map(() => 0);
  // Calls in flight as [end time, end callback], sorted by end time.
  const running: [number, () => void][] = [];
  let started = 0;
  const turn = seededRandom(7);
  const stalls = seededRandom(21);
  const start = () => {
    const result = picker.pick({ metadata: new Metadata(), extraPickInfo: {} });
    if (started++ >= warmUpCalls) counts[chosen]++;
    result.onCallStarted?.();
    const stallMs = stall !== undefined && stalls() < stall.share ? stall.ms : 0;
    const servedMs = serviceMs[chosen] + stallMs;
    let end = clock.ms + servedMs + (networkMs?.[chosen] ?? 0);
    if (tickMs > 0) end = (Math.ceil(end / tickMs) + turn()) * tickMs;
    const trailers = new Metadata();
    if (reports) trailers.set(SERVER_MS_METADATA_KEY, servedMs.toFixed(2));
    const at = running.findIndex(([t]) => t > end);
    running.splice(at === -1 ? running.length : at, 0, [
      end,
      () => result.onCallEnded?.(Status.OK, 'OK', trailers),
    ]);
  };
  for (let i = 0; i < inFlight; i++) start();
  while (started < calls) {
    const [end, finish] = running.shift()!;
    clock.ms = end;
    finish();
    start();
  }
  return counts.map((count) => count / (calls - warmUpCalls));
}

const run = { inFlight: 64, calls: 30_000, warmUpCalls: 10_000 };

it('p2c on a simulated clock: a backend 10x slower (20 ms vs 2) gets under 2% at 64 in flight', () => {
  // Measured: 0.7%. The issue asks < 5%; calls in flight alone (Envoy's least request) give
  // 5.5% here: the latency estimate is what takes it lower.
  expect(simulate([20, 2, 2], run)[0]).toBeLessThan(0.02);
});

it('a delay shared by every answer hides the difference, but never sends the slow one more than its even share', () => {
  // Measured: 5.7% at 5 ms, 16.4% at 20, 24.3% at 50, 28.1% at 100. The bench's client, on a
  // machine shared with other jobs, saw 50 to 65 ms of event-loop delay, and the slow one got
  // 23% to 34%.
  const shares = [5, 20, 50, 100].map((tickMs) => simulate([20, 2, 2], { ...run, tickMs })[0]);
  for (let i = 1; i < shares.length; i++) expect(shares[i]).toBeGreaterThan(shares[i - 1]);
  expect(shares[shares.length - 1]).toBeLessThan(1 / 3);
});

it("with the servers' load reports, the shared delay no longer hides 2 ms against 20", () => {
  // Measured with reports: 0.71% with no shared delay, 0.45% at 5 ms, 0.14% at 20, 0.01% at
  // 50; without, the same runs give 0.71%, 5.7%, 16.4% and 24.3%.
  for (const tickMs of [0, 5, 20, 50]) {
    const reported = simulate([20, 2, 2], { ...run, tickMs, reports: true })[0];
    const measured = simulate([20, 2, 2], { ...run, tickMs })[0];
    expect(reported).toBeLessThan(0.02);
    if (tickMs > 0) expect(reported).toBeLessThan(measured / 4);
  }
});

it("with load reports, the fast backends' own stalls (2% of their calls 20 ms late) do not make them look as slow as the 20 ms one", () => {
  // Every backend's process now and then answers late (a timer, a GC pause), and says so in
  // its report. The peak rule took each such call as the estimate for seconds: the 2 ms
  // backends looked 22 ms slow, and b0 got 3.6%, 7.9%, 13.8% and 14.7% of the calls with 0,
  // 5, 20 and 50 ms of shared delay. Measured with the mean of the reports: 1.0%, 0.95%,
  // 0.57%, 0.01% (reports ignored: 3.6%, 8.9%, 18.3%, 25.2%).
  for (const tickMs of [0, 5, 20, 50]) {
    const stall = { share: 0.02, ms: 20 };
    expect(simulate([20, 2, 2], { ...run, tickMs, reports: true, stall })[0]).toBeLessThan(0.02);
  }
});

it('with load reports, an endpoint 18 ms farther away still gets far less than its share, by its calls in flight', () => {
  // Every server takes 2 ms; b0's answers spend 18 ms more on the way, which no report
  // includes: its calls stay in flight longer, and count (least request). Measured: 5.4%
  // (0.71% for a server 18 ms slower, whose estimate says so).
  const far = simulate([2, 2, 2], { ...run, reports: true, networkMs: [18, 0, 0] })[0];
  expect(far).toBeLessThan(0.1);
});

it("the same 10x ratio with delays 25x longer (the bench's scaled row) stays under 5% through the shared delays that hide 2 ms against 20", () => {
  // Measured: 0.50% with no delay, 0.66% at 5 ms, 1.14% at 20, 2.27% at 50 (2 ms against 20:
  // 0.71%, 5.7%, 16.4%, 24.3%). Under 1% of the calls to a 10x slower backend is what keeps
  // p99 on the fast ones.
  for (const tickMs of [0, 5, 20, 50]) {
    const scaled = simulate([500, 50, 50], { ...run, tickMs })[0];
    const issue = simulate([20, 2, 2], { ...run, tickMs })[0];
    expect(scaled).toBeLessThan(tickMs <= 5 ? 0.01 : 0.05);
    if (tickMs > 0) expect(scaled).toBeLessThan(issue / 2);
  }
});
