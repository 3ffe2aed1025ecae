import { fork, type ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { createResilientServer } from '@grpc-resilience/channel';
import { testServiceDefinition } from '@grpc-resilience/testing';
import { percentile } from './measure';
import type { ServerLoadOptions } from './server-load';

/** What the server-load bench's backend reports when asked. */
export interface ServerStats {
  admitted: number;
  shed: number;
  tooLate: number;
  limit: number;
  /** Calls that reached the handler since the last stats (their work done or not). */
  arrived: number;
  /** Calls whose handler answered since the last stats, and their p99 in the server, ms. */
  handled: number;
  handledP99Ms: number;
  /** Calls whose handler answered after their deadline, since the last stats. */
  pastDeadline: number;
  /** The server process's CPU time over wall time since the last stats (1: one core busy). */
  cpuShare: number;
}

/** The child: a server built with createResilientServer, serving GetItem as the model says. */
async function serve(limiter: boolean, options: Required<ServerLoadOptions>): Promise<void> {
  const { model, slots, workMs } = options;
  const server = createResilientServer({
    admission: limiter ? options.admission : false,
    health: false,
  });
  let busy = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    const next = queue.shift();
    if (next) setTimeout(next, workMs);
    else busy--;
  };
  let arrived = 0;
  let latencies: number[] = [];
  let pastDeadline = 0;
  let cpuSince = process.cpuUsage();
  let wallSince = performance.now();
  server.addService(testServiceDefinition(), {
    GetItem(call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) {
      arrived++;
      const began = performance.now();
      const finish = () => {
        latencies.push(performance.now() - began);
        if (Date.now() > Number(call.getDeadline())) pastDeadline++;
        done(null, {});
      };
      if (model === 'cpu') {
        while (performance.now() - began < workMs);
        return finish();
      }
      const work = () => {
        finish();
        release();
      };
      if (busy < slots) {
        busy++;
        setTimeout(work, workMs);
      } else queue.push(work);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  process.on('message', () => {
    const admission = server.admission?.stats ?? { admitted: 0, shed: 0, tooLate: 0, limit: 0 };
    const cpu = process.cpuUsage(cpuSince);
    const stats: ServerStats = {
      ...admission,
      arrived,
      handled: latencies.length,
      handledP99Ms: percentile(latencies, 99),
      pastDeadline,
      cpuShare: (cpu.user + cpu.system) / 1000 / (performance.now() - wallSince),
    };
    arrived = 0;
    latencies = [];
    pastDeadline = 0;
    cpuSince = process.cpuUsage();
    wallSince = performance.now();
    process.send?.({ stats });
  });
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

export function startChild(limiter: boolean, options: Required<ServerLoadOptions>): Promise<Child> {
  const child: ChildProcess = fork(
    __filename,
    [limiter ? 'limiter' : 'none', JSON.stringify(options)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
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

if (require.main === module) {
  void serve(process.argv[2] === 'limiter', JSON.parse(process.argv[3]));
}
