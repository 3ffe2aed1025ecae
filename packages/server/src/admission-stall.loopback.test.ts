import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { callUnary, createTestClient, type TestServiceClient } from '@grpc-resilience/testing';
import type { AdmissionStats } from './index';

let child: ChildProcess | undefined;
let client: TestServiceClient | undefined;
afterEach(async () => {
  client?.close();
  const running = child;
  child = client = undefined;
  if (running === undefined || running.exitCode !== null) return;
  running.kill('SIGCONT');
  await new Promise<void>((resolve) => {
    running.once('exit', () => resolve());
    if (running.connected) running.disconnect();
    else running.kill();
  });
});

/** The server of admission-stall.test.script.ts in a process of its own; its port. */
function startServerProcess(): Promise<number> {
  child = fork(path.join(__dirname, 'admission-stall.test.script.ts'), [], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    env: {
      ...process.env,
      TS_NODE_COMPILER_OPTIONS: JSON.stringify({ module: 'commonjs', target: 'ES2022' }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const started = child;
  return new Promise((resolve, reject) => {
    started.once('exit', (code) => reject(new Error(`server process exited (${code})`)));
    started.once('message', (message: { port: number }) => resolve(message.port));
  });
}

function serverStats(): Promise<AdmissionStats> {
  const running = child!;
  return new Promise((resolve) => {
    running.once('message', (message: { stats: AdmissionStats }) => resolve(message.stats));
    running.send('stats');
  });
}

it('a server process the machine stops for 200 ms at a load far below capacity refuses none of the calls that arrived meanwhile', async () => {
  const port = await startServerProcess();
  const c = (client = createTestClient(`127.0.0.1:${port}`));
  // A rate to know: two callers of 20 ms calls for 1 s (2 of 8 in flight: far from full).
  const until = performance.now() + 1000;
  let calls = 0;
  await Promise.all(
    [0, 1].map(async () => {
      for (let i = 0; i < 200 && performance.now() < until; i++) {
        const outcome = await callUnary(c, 'GetItem', { value: 'w20' }, { timeoutMs: 5000 });
        expect(outcome.status.code).toBe(grpc.status.OK);
        calls++;
      }
    }),
  );
  // The machine stops the server (SIGSTOP: it sleeps between event-loop turns, and on waking
  // its stall detector hears of it before the calls are read); meanwhile 16 calls arrive,
  // twice its limit. The pause is the stall itself, not a wait for something to happen.
  child!.kill('SIGSTOP');
  const burst = Array.from({ length: 16 }, () =>
    callUnary(c, 'GetItem', { value: 'w20' }, { timeoutMs: 10_000 }),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  child!.kill('SIGCONT');
  const outcomes = await Promise.all(burst);
  expect(outcomes.filter((outcome) => outcome.status.code !== grpc.status.OK)).toEqual([]);
  // Counted on the server: every call admitted, none refused.
  expect(await serverStats()).toMatchObject({ shed: 0, tooLate: 0, admitted: calls + 16 });
});
