import { startTestBackend } from '@grpc-resilience/testing';
import { FAULT_CLIENT_KINDS, makeFaultClient } from './fault-clients';
import { closedLoop } from './load-loops';
import { faultNotes, table } from './report';
import { RETRY_SCENARIOS, failuresOf } from './retry-scenarios';
import { statusesDelivered } from './status-count';

/** One client through one of issue 13's retry rows. */
export interface RetryFaultRow {
  scenario: string;
  client: string;
  config: string;
  calls: number;
  succeeded: number;
  /** Attempts the servers received, per call. */
  attemptsPerCall: number;
  /** Calls whose outcome the fault does not explain (wrong code, OK without its reply, ...). */
  unexpected: number;
  /** The row's own figure (recovery time, repeated messages, early attempts). */
  extra: string;
  /** Failed calls by code, with the layer's reason or why it stopped retrying. */
  failures: Record<string, number>;
  target: string;
  met: boolean;
}

/**
 * Issue 13's retry rows, each through raw grpc-js, grpc-js's own retries with its retry
 * throttling, nice-grpc's retry middleware and the layer's real default stack; every call's
 * outcome is checked and each client says what it ran.
 */
export async function runRetryFaults(quick: boolean): Promise<RetryFaultRow[]> {
  const rows: RetryFaultRow[] = [];
  for (const scenario of RETRY_SCENARIOS) {
    for (const kind of FAULT_CLIENT_KINDS) {
      const backends = await Promise.all(
        Array.from({ length: scenario.backends }, (_, i) =>
          startTestBackend({
            name: `b${i}`,
            serverOptions: { interceptors: scenario.serverInterceptors ?? [] },
          }),
        ),
      );
      const client = makeFaultClient(
        kind,
        backends.map((b) => b.address),
      );
      try {
        await closedLoop(30, 3, () => client.unary({}, 2000)); // connect to every backend
        for (const b of backends) b.counters.reset();
        const before = statusesDelivered();
        const measured = await scenario.run(client, backends, quick);
        const delivered = statusesDelivered() - before;
        // nice-grpc's client has no interceptor to count with; its promises settle once.
        const lost = kind === 'nice-grpc retry' ? 0 : Math.abs(measured.calls - delivered);
        const attemptsPerCall = backends.reduce((n, b) => n + b.counters.calls, 0) / measured.calls;
        rows.push({
          scenario: scenario.name,
          client: kind,
          config: client.config,
          calls: measured.calls,
          succeeded: measured.succeeded,
          attemptsPerCall,
          unexpected: measured.unexpected + lost,
          extra: measured.extra ?? '',
          failures: failuresOf(measured.outcomes),
          target: scenario.target,
          met: measured.unexpected + lost === 0 && measured.met(attemptsPerCall),
        });
      } finally {
        client.close();
        for (const b of backends) b.kill();
      }
    }
  }
  return rows;
}

/** The rows as a table, then each client's config in words. */
export function retryFaultsTable(rows: RetryFaultRow[]): string {
  const body = table(
    [
      'retry faults',
      'client',
      'calls',
      'goodput %',
      'attempts/call',
      'unexpected',
      'figure',
      'target',
      'met',
    ],
    rows.map((r) => [
      r.scenario,
      r.client,
      r.calls,
      ((100 * r.succeeded) / r.calls).toFixed(2),
      r.attemptsPerCall.toFixed(3),
      r.unexpected,
      r.extra,
      r.target,
      r.met ? 'yes' : 'NO',
    ]),
  );
  return `${body}\n${faultNotes(rows)}`;
}
