import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startTestBackend, type TestBackend } from '@grpc-resilience/testing';

let backend: TestBackend;
beforeEach(async () => (backend = await startTestBackend()));
afterEach(() => backend.kill());

/** Runs a TypeScript script in a child Node process; resolves with its exit code and output. */
function runScript(
  file: string,
  args: string[],
): Promise<{ code: number | null; lines: unknown[] }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', file, ...args],
      {
        timeout: 15_000,
        env: {
          ...process.env,
          TS_NODE_COMPILER_OPTIONS: JSON.stringify({
            module: 'commonjs',
            moduleResolution: 'node',
          }),
        },
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        const lines = stdout
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as unknown);
        if (lines.length === 0 && stderr) return reject(new Error(stderr));
        resolve({ code: error ? (error.code as number) : 0, lines });
      },
    );
  });
}

it('a process whose only work is a call in its retry backoff exits after the callback, with the code it chose', async () => {
  const script = path.join(__dirname, 'one-retried-call.test.script.ts');
  const { code, lines } = await runScript(script, [backend.address]);
  expect(lines).toEqual([{ retryAfterMs: 399 }, { code: Status.OK, id: 'only' }]);
  expect(code).toBe(7);
  expect(backend.counters.attemptsOf('only')).toBe(2);
});
