import * as grpc from '@grpc/grpc-js';
import { createResilientClient } from '@grpc-resilience/channel';
import {
  callUnary,
  testServiceClient,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { closedLoop, openLoop } from './load-loops';
import { startChild, type ServerStats } from './server-load-backend';
import { percentile } from './measure';

/**
 * Issue 15, done-when 1 and 2. A server in its own process whose capacity is `slots` calls at a
 * time, each holding its slot for `workMs` (a pool: worker threads, database connections, a
 * downstream's concurrency); calls over the slots wait in a FIFO queue, and a handler finishes
 * its work even when its caller has given up, as most do. This is the faithful model for a Node
 * service, whose event loop is not where its work happens; it keeps the server's own CPU (what
 * grpc-js spends per call, refusals included) far below its capacity, as in a real service, and
 * with a shorter `normalWorkMs` it lets 100,000 calls at half capacity run in about two minutes. `model: 'cpu'` burns `workMs`
 * of CPU on the event loop instead (one slot, the event loop): there, what grpc-js spends refusing
 * a call competes with the work, and queueing happens before admission, in the socket buffers.
 * 1. At 3x the measured capacity for `overloadMs`, driven by the layer's clients
 *    (createResilientClient, default config) and by plain grpc-js, each with the limiter on and
 *    off: goodput (OK calls completed within the window, as a share of capacity), p99 of accepted
 *    calls (measured in the server, admission to response) against unloaded, and accepted calls
 *    that ended past their deadline (counted in the server).
 * 2. At half the capacity of the same server with `normalWorkMs` per call (same slots, so the
 *    same calls in flight at half load), `normalCalls` calls through the layer's client with the
 *    limiter on, after the same 100 warm-up calls as the overload rows: refused and failed
 *    calls, and the limit it ended at.
 */
export interface ServerLoadOptions {
  model?: 'slots' | 'cpu';
  slots?: number;
  workMs?: number;
  /** Work per call in the half-capacity row, ms. Default 5 (10x the rate of the 3x row). */
  normalWorkMs?: number;
  admission?: object;
}

interface OverloadRow {
  client: LoadClient;
  limiter: boolean;
  offeredPerSecond: number;
  goodputPerSecond: number;
  goodputShare: number;
  /** p99 in the server of the calls it admitted, ms, and against the unloaded p99 there. */
  acceptedP99Ms: number;
  p99VsUnloaded: number;
  /** p99 of OK calls as the client saw them (retries and their waits included), ms. */
  clientOkP99Ms: number;
  acceptedPastDeadline: number;
  /** Every call's outcome, by code and the first words of its details. */
  outcomes: Record<string, number>;
  /**
   * Attempts that reached the server (admitted or refused) per call started: 1 for plain
   * grpc-js; the layer's retries add to it and its client throttle takes from it.
   */
  attemptsPerCall: number;
  shedByServer: number;
  finalLimit: number | undefined;
  /**
   * The server process's CPU time over the phase's wall time. Near 1 (or near what the machine
   * leaves it), the server is bound by its CPU (grpc-js's cost per call, refusals included)
   * rather than by its slots, and every figure above measures that instead.
   */
  serverCpuShare: number;
}

export interface ServerLoadResult {
  model: 'slots' | 'cpu';
  slots: number;
  workMs: number;
  deadlineMs: number;
  capacityPerSecond: number;
  unloadedP99Ms: number;
  overload: OverloadRow[];
  /** Absent with `only: 'overload'`. */
  normal?: {
    workMs: number;
    capacityPerSecond: number;
    ratePerSecond: number;
    calls: number;
    seconds: number;
    refused: number;
    /** The limiter's limit when the run ended. */
    finalLimit: number;
    outcomes: Record<string, number>;
  };
}

/** Outcomes by code and the first words of their details: every call is accounted for. */
function tally(outcomes: readonly CallOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status } of outcomes) {
    const words = status.details
      .split(/[:(,\d]/)[0]
      .trim()
      .slice(0, 40);
    const key = status.code === grpc.status.OK ? 'OK' : `${grpc.status[status.code]} ${words}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Attempts the server refused unrun so far (`arrived` counts the others, since the last stats). */
const refused = (stats: ServerStats) => stats.shed + stats.tooLate;

/** Which client drives the load: the layer's (default config) or plain grpc-js. */
export type LoadClient = 'layer' | 'plain';

function makeClient(kind: LoadClient, address: string): TestServiceClient {
  if (kind === 'plain') {
    const Client = testServiceClient();
    return new Client(address, grpc.credentials.createInsecure());
  }
  return createResilientClient(testServiceClient(), address) as TestServiceClient;
}

/** Calls/s a server without the limiter completes with twice its slots of callers. */
async function measureCapacity(options: Required<ServerLoadOptions>, calls: number) {
  const probe = await startChild(false, options);
  const client = makeClient('plain', probe.address);
  const call = () => callUnary(client, 'GetItem', {}, { timeoutMs: 10_000 });
  await closedLoop(100, 4, call);
  await probe.stats();
  const unloaded = await closedLoop(calls / 5, 1, call);
  const { handledP99Ms } = await probe.stats();
  const t0 = performance.now();
  const concurrency = options.model === 'cpu' ? 16 : 2 * options.slots;
  const saturated = await closedLoop(calls, concurrency, call);
  const seconds = (performance.now() - t0) / 1000;
  client.close();
  probe.stop();
  const failed = [...unloaded, ...saturated].filter((o) => o.status.code !== grpc.status.OK);
  if (failed.length > 0) throw new Error(`capacity probe: ${JSON.stringify(tally(failed))}`);
  return { capacityPerSecond: calls / seconds, unloadedP99Ms: handledP99Ms };
}

/** Runs both parts; `quick` shortens every phase (a smoke run, not figures to quote). */
export async function runServerLoad(
  quick = false,
  input: ServerLoadOptions = {},
  only?: 'overload' | 'normal',
): Promise<ServerLoadResult> {
  const slots = input.slots ?? 8;
  const options: Required<ServerLoadOptions> = {
    model: input.model ?? 'slots',
    slots,
    // 50 ms: a capacity of 160 calls/s, so 3x is 480 calls/s, which one client process sends
    // with CPU to spare on a shared 2-core machine; at 20 ms the client could not keep up.
    workMs: input.workMs ?? 50,
    normalWorkMs: input.normalWorkMs ?? 5,
    admission: input.admission ?? {},
  };
  const deadlineMs = 1000;
  const overloadMs = quick ? 3000 : 10_000;
  const normalCalls = quick ? 3000 : 100_000;
  const { capacityPerSecond, unloadedP99Ms } =
    only === 'normal'
      ? { capacityPerSecond: 0, unloadedP99Ms: 0 }
      : await measureCapacity(options, quick ? 500 : 2000);

  const overload: OverloadRow[] = [];
  for (const kind of only === 'normal' ? [] : (['layer', 'plain'] as const))
    for (const limiter of [true, false]) {
      const server = await startChild(limiter, options);
      const client = makeClient(kind, server.address);
      const call = () => callUnary(client, 'GetItem', {}, { timeoutMs: deadlineMs });
      await closedLoop(100, 4, call);
      const before = await server.stats();
      const offered = 3 * capacityPerSecond;
      const began = Date.now();
      const timed = await openLoop(offered, Math.round((offered * overloadMs) / 1000), call);
      const after = await server.stats();
      const inWindow = (t: (typeof timed)[number]) =>
        t.outcome.status.code === grpc.status.OK &&
        t.at + t.outcome.durationMs <= began + overloadMs;
      const goodput = timed.filter(inWindow).length / (overloadMs / 1000);
      const ok = timed.filter((t) => t.outcome.status.code === grpc.status.OK);
      overload.push({
        client: kind,
        limiter,
        offeredPerSecond: Math.round(offered),
        goodputPerSecond: Math.round(goodput),
        goodputShare: Math.round((goodput / capacityPerSecond) * 100) / 100,
        acceptedP99Ms: after.handledP99Ms,
        p99VsUnloaded: Math.round((after.handledP99Ms / unloadedP99Ms) * 100) / 100,
        clientOkP99Ms: percentile(
          ok.map((t) => t.outcome.durationMs),
          99,
        ),
        acceptedPastDeadline: after.pastDeadline,
        outcomes: tally(timed.map((t) => t.outcome)),
        attemptsPerCall:
          Math.round(((after.arrived + refused(after) - refused(before)) / timed.length) * 100) /
          100,
        shedByServer: after.shed - before.shed,
        finalLimit: limiter ? after.limit : undefined,
        serverCpuShare: Math.round(after.cpuShare * 100) / 100,
      });
      client.close();
      server.stop();
    }

  const result = {
    model: options.model,
    slots,
    workMs: options.workMs,
    deadlineMs,
    capacityPerSecond: Math.round(capacityPerSecond),
    unloadedP99Ms,
    overload,
  };
  if (only === 'overload') return result;
  const normalOptions = { ...options, workMs: options.normalWorkMs };
  const normalCapacity = await measureCapacity(normalOptions, quick ? 1000 : 4000);
  const server = await startChild(true, normalOptions);
  const client = makeClient('layer', server.address);
  const call = () => callUnary(client, 'GetItem', {}, { timeoutMs: deadlineMs });
  // Warmed like the overload rows (a service behind a readiness check takes a few calls before
  // real traffic): a fresh process's first calls wait on its JIT, a queue the limiter would read.
  await closedLoop(100, 4, call);
  const warm = await server.stats();
  const ratePerSecond = Math.round(normalCapacity.capacityPerSecond / 2);
  const began = performance.now();
  const normal = await openLoop(ratePerSecond, normalCalls, call);
  const seconds = Math.round((performance.now() - began) / 100) / 10;
  const stats = await server.stats();
  client.close();
  server.stop();
  return {
    ...result,
    normal: {
      workMs: options.normalWorkMs,
      capacityPerSecond: Math.round(normalCapacity.capacityPerSecond),
      ratePerSecond,
      calls: normalCalls,
      seconds,
      refused: refused(stats) - refused(warm),
      finalLimit: stats.limit,
      outcomes: tally(normal.map((t) => t.outcome)),
    },
  };
}

if (require.main === module) {
  {
    // node server-load.js [--quick] [--model slots|cpu] [--slots N] [--work-ms N]
    //   [--normal-work-ms N] [--admission '{"initialLimit":20}'] [--only overload|normal]
    const arg = (name: string) => {
      const at = process.argv.indexOf(name);
      return at === -1 ? undefined : process.argv[at + 1];
    };
    const number = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));
    const admission = arg('--admission');
    const only = arg('--only');
    void runServerLoad(
      process.argv.includes('--quick'),
      {
        model: arg('--model') === 'cpu' ? 'cpu' : 'slots',
        slots: number('--slots'),
        workMs: number('--work-ms'),
        normalWorkMs: number('--normal-work-ms'),
        admission: admission === undefined ? undefined : (JSON.parse(admission) as object),
      },
      only === 'overload' || only === 'normal' ? only : undefined,
    ).then((result) => console.log(JSON.stringify(result, null, 2)));
  }
}
