import { fork, type ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { createResilientClient, createResilientServer } from '@grpc-resilience/channel';
import {
  callUnary,
  testServiceClient,
  testServiceDefinition,
  type CallOutcome,
  type TestServiceClient,
} from '@grpc-resilience/testing';
import { closedLoop, openLoop } from './load-loops';
import { percentile } from './measure';

/**
 * Issue 15, done-when 1 and 2: a server whose capacity is its CPU (each call burns `workMs` on
 * the event loop), in its own process, driven by the layer's clients (createResilientClient,
 * default config: RESOURCE_EXHAUSTED is retried after the server's pushback, within the budget).
 * 1. At 3x its measured capacity for `overloadMs`, with the adaptive limit and without: goodput
 *    (OK calls/s, as a share of capacity), p99 latency of accepted calls against unloaded, and
 *    accepted calls that missed their deadline.
 * 2. At half its capacity, `normalCalls` calls with the limit on: how many it refused.
 */
export interface ServerLoadResult {
  workMs: number;
  deadlineMs: number;
  capacityPerSecond: number;
  unloadedP99Ms: number;
  overload: {
    limiter: boolean;
    offeredPerSecond: number;
    goodputPerSecond: number;
    goodputShare: number;
    acceptedP99Ms: number;
    p99VsUnloaded: number;
    missedDeadlines: number;
    otherFailures: number;
    /** Failures by code and the first words of their details. */
    failures: Record<string, number>;
    shedByServer: number;
    finalLimit: number | undefined;
  }[];
  normal: { calls: number; ratePerSecond: number; refused: number; failed: number };
}

interface ServerStats {
  admitted: number;
  shed: number;
  tooLate: number;
  limit: number;
}

/** The child: a server built with createResilientServer; GetItem burns `workMs` of CPU. */
async function serve(limiter: boolean, workMs: number, admission: object): Promise<void> {
  const server = createResilientServer({ admission: limiter ? admission : false, health: false });
  server.addService(testServiceDefinition(), {
    GetItem(_call: unknown, done: grpc.sendUnaryData<unknown>) {
      const until = performance.now() + workMs;
      while (performance.now() < until);
      done(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  process.on('message', () =>
    process.send?.({
      stats: server.admission?.stats ?? { admitted: 0, shed: 0, tooLate: 0, limit: 0 },
    }),
  );
  process.send?.({ address: `127.0.0.1:${port}` });
  process.on('disconnect', () => {
    server.forceShutdown();
    process.exit(0);
  });
}

interface Child {
  address: string;
  stats(): Promise<ServerStats>;
  stop(): void;
}

function startChild(limiter: boolean, workMs: number, admission: object = {}): Promise<Child> {
  const child: ChildProcess = fork(
    __filename,
    ['serve', limiter ? 'limiter' : 'none', String(workMs), JSON.stringify(admission)],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (message: { address: string }) =>
      resolve({
        address: message.address,
        stats: () =>
          new Promise((done) => {
            child.once('message', (reply: { stats: ServerStats }) => done(reply.stats));
            child.send('stats');
          }),
        stop: () => child.connected && child.disconnect(),
      }),
    );
  });
}

function countFailures(outcomes: readonly CallOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status } of outcomes) {
    if (status.code === grpc.status.OK) continue;
    const key = `${grpc.status[status.code]} ${status.details.split(/[:(]/)[0].slice(0, 40)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Which client drives the load: the layer's (default config) or plain grpc-js. */
export type LoadClient = 'layer' | 'plain';

function makeClient(kind: LoadClient, address: string): TestServiceClient {
  if (kind === 'plain') {
    const Client = testServiceClient();
    return new Client(address, grpc.credentials.createInsecure());
  }
  return createResilientClient(testServiceClient(), address) as TestServiceClient;
}

/** Runs both parts; `quick` shortens every phase (a smoke run, not figures to quote). */
export async function runServerLoad(
  quick = false,
  kind: LoadClient = 'layer',
  options: { workMs?: number; admission?: object } = {},
): Promise<ServerLoadResult> {
  const client = (address: string) => makeClient(kind, address);
  // 10 ms: the handler's work must outweigh what grpc-js spends on a call (about 1 to 2 ms of
  // server CPU here), or refusing a call costs nearly what serving it does.
  const workMs = options.workMs ?? 10;
  const admission = options.admission ?? {};
  const deadlineMs = 1000;
  const overloadMs = quick ? 3000 : 15_000;
  const normalCalls = quick ? 3000 : 100_000;
  const call = (c: TestServiceClient) => () =>
    callUnary(c, 'GetItem', {}, { timeoutMs: deadlineMs });

  // Capacity and unloaded latency, on a server without the limiter.
  const probe = await startChild(false, workMs);
  const probeClient = client(probe.address);
  await closedLoop(200, 8, call(probeClient));
  const unloaded = await closedLoop(quick ? 200 : 1000, 1, call(probeClient));
  const unloadedP99Ms = percentile(
    unloaded.map((o) => o.durationMs),
    99,
  );
  const t0 = performance.now();
  const saturated = await closedLoop(quick ? 1000 : 4000, 16, call(probeClient));
  const capacityPerSecond =
    saturated.filter((o) => o.status.code === grpc.status.OK).length /
    ((performance.now() - t0) / 1000);
  probeClient.close();
  probe.stop();

  const overload: ServerLoadResult['overload'] = [];
  for (const limiter of [true, false]) {
    const server = await startChild(limiter, workMs, admission);
    const c = client(server.address);
    await closedLoop(200, 4, call(c));
    const before = await server.stats();
    const offered = 3 * capacityPerSecond;
    const calls = Math.round((offered * overloadMs) / 1000);
    const began = performance.now();
    const timed = await openLoop(offered, calls, call(c));
    const seconds = (performance.now() - began) / 1000;
    const after = await server.stats();
    const outcomes: CallOutcome[] = timed.map((t) => t.outcome);
    const ok = outcomes.filter((o) => o.status.code === grpc.status.OK);
    const missed = outcomes.filter((o) => o.status.code === grpc.status.DEADLINE_EXCEEDED);
    const acceptedP99Ms = percentile(
      ok.map((o) => o.durationMs),
      99,
    );
    overload.push({
      limiter,
      offeredPerSecond: Math.round(offered),
      goodputPerSecond: Math.round(ok.length / seconds),
      goodputShare: ok.length / seconds / capacityPerSecond,
      acceptedP99Ms,
      p99VsUnloaded: acceptedP99Ms / unloadedP99Ms,
      missedDeadlines: missed.length,
      otherFailures: outcomes.length - ok.length - missed.length,
      failures: countFailures(outcomes),
      shedByServer: after.shed - before.shed,
      finalLimit: limiter ? after.limit : undefined,
    });
    c.close();
    server.stop();
  }

  const server = await startChild(true, workMs, admission);
  const c = client(server.address);
  const ratePerSecond = Math.round(capacityPerSecond / 2);
  const normal = await openLoop(ratePerSecond, normalCalls, call(c));
  const stats = await server.stats();
  c.close();
  server.stop();
  return {
    workMs,
    deadlineMs,
    capacityPerSecond: Math.round(capacityPerSecond),
    unloadedP99Ms,
    overload,
    normal: {
      calls: normalCalls,
      ratePerSecond,
      refused: stats.shed + stats.tooLate,
      failed: normal.filter((t) => t.outcome.status.code !== grpc.status.OK).length,
    },
  };
}

if (require.main === module) {
  if (process.argv[2] === 'serve') {
    void serve(process.argv[3] === 'limiter', Number(process.argv[4]), JSON.parse(process.argv[5]));
  } else {
    // node server-load.js [--quick] [--plain] [--work-ms N] [--admission '{"initialLimit":20}']
    const kind = process.argv.includes('--plain') ? 'plain' : 'layer';
    const arg = (name: string) => {
      const at = process.argv.indexOf(name);
      return at === -1 ? undefined : process.argv[at + 1];
    };
    const workMs = arg('--work-ms');
    const admission = arg('--admission');
    void runServerLoad(process.argv.includes('--quick'), kind, {
      workMs: workMs === undefined ? undefined : Number(workMs),
      admission: admission === undefined ? undefined : (JSON.parse(admission) as object),
    }).then((result) => console.log(JSON.stringify(result, null, 2)));
  }
}
