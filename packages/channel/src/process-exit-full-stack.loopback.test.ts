import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { loopbackFixture } from '@grpc-resilience/testing';

/*
 * Done-when 3 through the factory users call: with every default layer on (deadline, keys,
 * breaker, adaptive budget, p2c, keepalive), a process whose only work is one call in its
 * 400 ms retry backoff neither exits before the callback nor lingers once the client is
 * closed: it ends with the outcome printed and the exit code it chose.
 */

const loop = loopbackFixture(afterEach);

it('a script whose only call, made with createResilientClient, backs off 400 ms: exits after the callback with its own code', async () => {
  const backend = await loop.backend();
  const script = path.join(__dirname, 'one-resilient-call.test.script.ts');
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', script, backend.address],
    {
      env: {
        ...process.env,
        TS_NODE_COMPILER_OPTIONS: JSON.stringify({ module: 'commonjs', moduleResolution: 'node' }),
      },
    },
  );
  loop.onClose(() => child.kill());
  // Each printed line with when it came; the child compiles the stack from source first.
  const lines: { at: number; line: unknown }[] = [];
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter((l) => l.startsWith('{')))
      lines.push({ at: performance.now(), line: JSON.parse(line) as unknown });
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const exitedAt = performance.now();

  expect({ lines: lines.map((l) => l.line), code, stderr }).toEqual({
    lines: [{ retryAfterMs: 399 }, { code: Status.OK, id: 'only' }],
    code: 7,
    stderr: '',
  });
  expect(backend.counters.attemptsOf('only')).toBe(2);
  // Nothing the layer left behind (a timer, a socket, a poller) held the process after close.
  const lingeredMs = exitedAt - lines[1].at;
  process.stdout.write(
    `full-stack process exit: code ${code}, ${lingeredMs.toFixed(0)} ms after the callback\n`,
  );
  expect(lingeredMs).toBeLessThan(5_000);
}, 120_000);
