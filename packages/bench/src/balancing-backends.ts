import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { BalancingBackendCommand, BalancingBackendReport } from './balancing-backend-process';

/** A test backend in its own process (see `balancing-backend-process.ts`). */
export interface BalancingBackend {
  /** The name its replies carry in `backend`. */
  readonly name: string;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  readonly port: number;
  /** Sets its grpc-health-check status for the bench's service; resolves once it is set. */
  setHealth(status: BalancingBackendCommand['health']): Promise<void>;
  /** Ends the process (its server with it, like a crash); resolves when it has exited. */
  stop(): Promise<void>;
}

/** Starts a backend process answering every call after a `delayMs` timer. */
export function startBalancingBackend(
  name: string,
  delayMs: number,
  healthService: string,
  port = 0,
): Promise<BalancingBackend> {
  const child: ChildProcess = fork(
    join(__dirname, 'balancing-backend-process.js'),
    [name, String(delayMs), healthService, String(port)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = () =>
    new Promise<BalancingBackendReport>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`backend ${name} exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (report: BalancingBackendReport) => {
        child.off('exit', onExit);
        resolve(report);
      });
    });
  return next().then((report) => {
    if (!('address' in report)) throw new Error(`backend ${name} did not start`);
    const address = report.address;
    return {
      name,
      address,
      port: Number(address.slice(address.lastIndexOf(':') + 1)),
      async setHealth(health) {
        const acked = next();
        child.send({ health } satisfies BalancingBackendCommand);
        await acked;
      },
      async stop() {
        if (child.connected) child.disconnect();
        await exited;
      },
    };
  });
}
