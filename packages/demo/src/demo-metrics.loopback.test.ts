import { promtool, scrape } from '@grpc-resilience/testing';
import { layerSuccessPercent, renderTable, runDemo, type PhaseResult } from './index';
import { parseScrape, total, totalsBy, type Sample } from './scrape.test.helper';

/** The layer's figures as a scrape shows them, by their Prometheus names. */
function scrapedFigures(samples: readonly Sample[]) {
  const calls = 'grpc_client_call_duration_seconds_count';
  return {
    calls: total(samples, calls),
    ok: total(samples, calls, { grpc_status: 'OK' }),
    attempts: total(samples, 'grpc_client_attempt_started_total'),
    retries: total(samples, 'grpc_client_call_retries_sum'),
    serverCalls: total(samples, 'grpc_server_call_started_total'),
    breakerOpens: total(samples, 'grpc_resilience_client_breaker_transitions_total', {
      grpc_resilience_state: 'open',
    }),
    refused: total(samples, 'grpc_resilience_client_call_refused_total'),
    byStatus: totalsBy(samples, calls, 'grpc_status'),
    refusedBy: totalsBy(
      samples,
      'grpc_resilience_client_call_refused_total',
      'grpc_resilience_reason',
    ),
  };
}
type Figures = ReturnType<typeof scrapedFigures>;

/** What happened between two scrapes (cumulative totals), series that did not move left out. */
function increase(after: Figures, before: Figures | undefined): Figures {
  const minus = (a: Record<string, number>, b: Record<string, number> = {}) =>
    Object.fromEntries(
      Object.entries(a)
        .map(([key, value]): [string, number] => [key, value - (b[key] ?? 0)])
        .filter(([, value]) => value !== 0),
    );
  const delta = { ...after };
  for (const key of Object.keys(after) as (keyof Figures)[]) {
    const a = after[key];
    const b = before?.[key];
    (delta as Record<string, unknown>)[key] =
      typeof a === 'number' ? a - ((b as number | undefined) ?? 0) : minus(a, b as never);
  }
  return delta;
}

/** What the summary shows for the layer in a phase, from its PhaseResult. */
function summaryFigures(result: PhaseResult): Figures {
  const m = result.layerMetrics;
  return {
    calls: m.calls,
    ok: m.ok,
    attempts: m.attempts,
    retries: m.retries,
    serverCalls: m.serverCalls,
    breakerOpens: m.breakerOpens,
    refused: m.refused,
    byStatus: Object.fromEntries(m.byStatus()),
    refusedBy: Object.fromEntries(m.refusedBy()),
  };
}

it('serves /metrics during the run, and its summary shows what the scrapes show', async () => {
  let url = '';
  const scrapes: string[] = [];
  const run = await runDemo({
    phaseMs: 600,
    recoveryMs: 600,
    callsPerSecond: 50,
    metricsPort: 0,
    onMetricsEndpoint: (endpoint) => (url = endpoint.url),
    // The demo waits for this before its next phase: the scrape sees the phase's end totals.
    onPhaseEnd: async () => void scrapes.push(await scrape(url)),
  });
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  expect(run.metricsUrl).toBe(url);
  expect(scrapes).toHaveLength(run.phases.length);

  const cumulative = scrapes.map((text) => scrapedFigures(parseScrape(text)));
  const table = renderTable(run.phases).split('\n').slice(2);
  for (const [i, result] of run.phases.entries()) {
    const scraped = increase(cumulative[i], cumulative[i - 1]);
    // The summary's figures for the layer are the scrapes' increase over the phase.
    expect({ phase: result.name, ...summaryFigures(result) }).toEqual({
      phase: result.name,
      ...scraped,
    });
    // And the table prints them: calls, ok %, retries, refused, breaker opens, server calls.
    const row = table[2 * i].split(/ {2,}/);
    expect(row.slice(0, 8)).toEqual([
      result.name,
      'grpc-resilience',
      String(scraped.calls),
      ((100 * scraped.ok) / scraped.calls).toFixed(1),
      String(scraped.retries),
      String(scraped.refused),
      String(scraped.breakerOpens),
      String(scraped.serverCalls),
    ]);
    expect(layerSuccessPercent(result)).toBe((100 * scraped.ok) / scraped.calls);

    // The metrics agree with what the demo saw itself: every call it made ended once, through
    // the layer's call interceptor; the backends counted the calls the server metrics did.
    const own = result.layer;
    expect({ calls: scraped.calls, ok: scraped.ok, serverCalls: scraped.serverCalls }).toEqual({
      calls: own.calls,
      ok: own.ok,
      serverCalls: own.serverCalls,
    });
    expect(own.wrongReplies).toBe(0);
    // Attempts: one per retry, and one per call but those refused before their first attempt
    // (a call refused later, its retry throttled or stopped by the circuit, started one).
    expect(scraped.attempts).toBeGreaterThanOrEqual(
      scraped.calls - scraped.refused + scraped.retries,
    );
    expect(scraped.attempts).toBeLessThanOrEqual(scraped.calls + scraped.retries);
    // The layer's attempts trailer also counts retries the throttle or an open circuit refused
    // before they went out; gRFC A96's retries are the ones that started.
    expect(scraped.retries).toBeLessThanOrEqual(own.retries);
  }
  // The error storm and its recovery: the layer refused calls itself, and says why.
  const refusals = run.phases.slice(6).reduce((sum, r) => sum + r.layerMetrics.refused, 0);
  expect(refusals).toBeGreaterThan(0);

  const checked = await promtool(['check', 'metrics'], scrapes[scrapes.length - 1]);
  expect(checked).toEqual({ code: 0, stdout: '', stderr: '' });
}, 30_000);
