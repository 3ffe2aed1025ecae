import * as grpc from '@grpc/grpc-js';
import { REASON_METADATA_KEY, statusName } from '@grpc-resilience/status';
import {
  behaviourMetadata,
  callUnary,
  startTestBackend,
  type Behaviour,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { RAW_CONFIG, describeLayer, makeClient, type ClientKind } from './breaker-fault-clients';
import { openLoopUntil, recoveryAfter, type Timed as LoopTimed } from './load-loops';
import { median } from './measure';
import { faultNotes, table } from './report';
import { statusesDelivered } from './status-count';

/** One client through one of issue 13's two breaker rows. */
export interface BreakerFaultRow {
  scenario: string;
  client: string;
  /** What the client really ran. */
  config: string;
  /** Calls made in the measured part (faulty and valid ones). */
  calls: number;
  /** Of them, calls asked to fail (the 12 application errors). */
  askedToFail: number;
  succeeded: number;
  /** Failures by code (`UNAVAILABLE (circuit-open)` for the layer's refusals). */
  failures: Record<string, number>;
  /**
   * Calls whose outcome nothing explains: a status delivered twice or never, an OK without its
   * reply, an injected failure that came back as anything else, a code the fault cannot cause.
   */
  unexpected: number;
  /**
   * From the fault's end (the last application error answered; the replicas' return) to the start
   * of the first call from which every call succeeded, ms; per run (1 run quick, 3 full).
   */
  recoveryMs: (number | undefined)[];
  /** Times the layer's circuit opened (undefined for raw grpc-js, which has none). */
  breakerOpens?: number;
  target: string;
  met: boolean;
}

const RECOVERY_TARGET_MS = 2000;
const CALL_DEADLINE_MS = 1000;
/** Open-loop traffic: one call every 10 ms (100 calls/s). */
const CALL_INTERVAL_MS = 10;

type Timed = LoopTimed<CallOutcome>;

/** Calls every CALL_INTERVAL_MS until `until()` holds; resolves when all of them have ended. */
function openLoop(
  client: TestServiceClient,
  method: 'GetItem' | 'Charge',
  until: () => boolean,
): Promise<Timed[]> {
  return openLoopUntil(CALL_INTERVAL_MS, until, () =>
    callUnary(client, method, { id: 'x' }, { timeoutMs: CALL_DEADLINE_MS }),
  );
}

function failureName(status: grpc.StatusObject): string {
  const reason = status.metadata.get(REASON_METADATA_KEY)[0];
  return reason === undefined ? statusName(status.code) : `${statusName(status.code)} (${reason})`;
}

/**
 * Tallies outcomes into the row: `isExpectedFailure` says which failures the fault explains;
 * `successExpected` false for calls that were asked to fail.
 */
function tally(
  row: BreakerFaultRow,
  calls: Timed[],
  isExpectedFailure: (t: Timed) => boolean,
  successExpected = true,
): void {
  for (const t of calls) {
    row.calls++;
    if (!successExpected) row.askedToFail++;
    const { status, response } = t.outcome;
    if (status.code === grpc.status.OK) {
      row.succeeded++;
      if (!successExpected || typeof response?.backend !== 'string') row.unexpected++;
      continue;
    }
    const name = failureName(status);
    row.failures[name] = (row.failures[name] ?? 0) + 1;
    if (!isExpectedFailure(t)) row.unexpected++;
  }
}

const DECLINED: Behaviour = { failCode: grpc.status.UNKNOWN, failDetails: 'card declined' };
const OFF_TABLE: Behaviour = { failCode: 402 as grpc.status, failDetails: 'payment required' };
const isInjected = (s: grpc.StatusObject) =>
  (s.code === DECLINED.failCode && s.details === DECLINED.failDetails) ||
  (s.code === OFF_TABLE.failCode && s.details === OFF_TABLE.failDetails);

/** 12 charges fail (UNKNOWN, as a thrown Error becomes, and code 402), then valid ones for 2 s. */
async function applicationErrors(kind: ClientKind, row: BreakerFaultRow): Promise<void> {
  const backends = [await startTestBackend({ name: 'p0' }), await startTestBackend({ name: 'p1' })];
  const client = makeClient(kind, backends, row);
  try {
    const warmEnd = Date.now() + 200; // warm-up: both connections up
    await openLoop(client, 'Charge', () => Date.now() >= warmEnd);
    const failing: Timed[] = [];
    for (let i = 0; i < 12; i++) {
      const behaviour = i % 2 ? OFF_TABLE : DECLINED;
      const at = Date.now();
      const outcome = await callUnary(
        client,
        'Charge',
        { id: `bad${i}` },
        { timeoutMs: CALL_DEADLINE_MS, metadata: behaviourMetadata(behaviour) },
      );
      failing.push({ at, outcome });
    }
    const faultEnd = Date.now();
    // The 12 were asked to fail: a success among them is as wrong as a wrong code.
    tally(row, failing, ({ outcome: { status } }) => isInjected(status), false);
    const valid = await openLoop(client, 'Charge', () => Date.now() - faultEnd >= 2000);
    tally(row, valid, () => false); // nothing explains a failed valid charge
    row.recoveryMs.push(recoveryAfter(valid, faultEnd));
  } finally {
    client.close();
    for (const b of backends) b.kill();
  }
}

/** Both replicas killed for 1.5 s under 100 calls/s, then back on their ports, for 3 s more. */
async function bothReplicasDown(kind: ClientKind, row: BreakerFaultRow): Promise<void> {
  let backends = [await startTestBackend({ name: 'r0' }), await startTestBackend({ name: 'r1' })];
  const ports = backends.map((b) => b.port);
  const client = makeClient(kind, backends, row);
  try {
    const warmEnd = Date.now() + 200;
    await openLoop(client, 'GetItem', () => Date.now() >= warmEnd);
    let backAt = Number.POSITIVE_INFINITY;
    let downAt = Number.POSITIVE_INFINITY;
    const fault = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      downAt = Date.now();
      for (const b of backends) b.kill();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      backends = [
        await startTestBackend({ name: 'r0', port: ports[0] }),
        await startTestBackend({ name: 'r1', port: ports[1] }),
      ];
      backAt = Date.now();
    })();
    const calls = await openLoop(client, 'GetItem', () => Date.now() - backAt >= 3000);
    await fault;
    // What an outage explains: refused or reset connections, the circuit's refusals, calls that
    // ran out of time while it lasted (started before the return, or within a deadline of it).
    const outageCodes = new Set([
      grpc.status.UNAVAILABLE,
      grpc.status.DEADLINE_EXCEEDED,
      grpc.status.CANCELLED,
      grpc.status.INTERNAL,
    ]);
    tally(
      row,
      calls,
      ({ at, outcome }) =>
        outageCodes.has(outcome.status.code) &&
        at + CALL_DEADLINE_MS >= downAt &&
        at <= backAt + RECOVERY_TARGET_MS,
    );
    row.recoveryMs.push(recoveryAfter(calls, backAt));
  } finally {
    client.close();
    for (const b of backends) b.kill();
  }
}

const SCENARIOS = [
  {
    name: '12 calls fail with a thrown Error or an off-table code, then valid calls',
    target: 'valid calls succeed again within 2 s',
    run: applicationErrors,
  },
  {
    name: 'both replicas down for 1.5 s, then back',
    target: 'calls succeed again within 2 s of their return',
    run: bothReplicasDown,
  },
];

/**
 * Issue 13's two breaker rows, through raw grpc-js and the layer's real default stack: every
 * call's outcome is checked, and each row says the config it ran. `quick`: one run per row and
 * client (about 15 s in all); else three, whose recovery times are all reported.
 */
export async function runBreakerFaults(quick: boolean): Promise<BreakerFaultRow[]> {
  const rows: BreakerFaultRow[] = [];
  const runs = quick ? 1 : 3;
  for (const scenario of SCENARIOS) {
    for (const kind of ['raw grpc-js', 'grpc-resilience'] as const) {
      const row: BreakerFaultRow = {
        scenario: scenario.name,
        client: kind,
        config: kind === 'raw grpc-js' ? RAW_CONFIG : describeLayer(),
        calls: 0,
        askedToFail: 0,
        succeeded: 0,
        failures: {},
        unexpected: 0,
        recoveryMs: [],
        target: scenario.target,
        met: false,
      };
      const before = statusesDelivered();
      for (let run = 0; run < runs; run++) await scenario.run(kind, row);
      // Warm-up calls are not in `calls`, so compare only what this row's runs delivered.
      const delivered = statusesDelivered() - before;
      if (delivered < row.calls) row.unexpected += row.calls - delivered;
      row.met =
        row.unexpected === 0 &&
        row.recoveryMs.every((ms) => ms !== undefined && ms <= RECOVERY_TARGET_MS);
      rows.push(row);
    }
  }
  return rows;
}

/** The rows as a table, then each client's config in words. */
export function breakerFaultsTable(rows: BreakerFaultRow[]): string {
  const ms = (values: (number | undefined)[]) =>
    values.map((v) => (v === undefined ? 'never' : String(Math.round(v)))).join(', ');
  const body = table(
    [
      'breaker faults',
      'client',
      'calls',
      'asked to fail',
      'ok % of the others',
      'unexpected',
      'circuit opened',
      'recovery ms',
      'target',
      'met',
    ],
    rows.map((r) => [
      r.scenario,
      r.client,
      r.calls,
      r.askedToFail,
      ((100 * r.succeeded) / (r.calls - r.askedToFail)).toFixed(1),
      r.unexpected,
      r.breakerOpens ?? '-',
      `${ms(r.recoveryMs)}${r.recoveryMs.length > 1 ? ` (median ${ms([median(r.recoveryMs.map((v) => v ?? Infinity))])})` : ''}`,
      r.target,
      r.met ? 'yes' : 'NO',
    ]),
  );
  return `${body}\n${faultNotes(rows)}`;
}
