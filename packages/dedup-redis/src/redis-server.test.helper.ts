import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { Redis } from 'ioredis';

/** A `redis-server` child process on a free loopback port, for tests. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** A client for the test itself (closed by `stop`). */
  readonly client: Redis;
  /** Quits the client and stops the server; resolves once the process has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on 127.0.0.1 with persistence off. There is no `--port 0` in Redis, so a
 * free port is found by binding a socket to port 0 first. Throws, with what to do, when
 * `redis-server` is not installed: a suite that needs Redis fails loudly, never skips.
 */
export async function startTestRedis(command = 'redis-server'): Promise<TestRedis> {
  if (spawnSync(command, ['--version']).error) {
    throw new Error(
      `${command} is not installed or not on PATH; these tests need it. ` +
        'Install it with `apt-get update && apt-get install -y redis-server` (.ci/run does).',
    );
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      command,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    try {
      await ready(child);
    } catch (error) {
      lastError = error; // most likely the port was taken in between: try another
      await stopChild(child);
      continue;
    }
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    await client.connect();
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      client,
      async stop() {
        client.disconnect();
        await stopChild(child);
      },
    };
  }
  throw new Error(`redis-server did not start: ${String(lastError)}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves when the server logs that it accepts connections; rejects if it exits first (5 s). */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => done(new Error(`not ready after 5 s: ${output}`)), 5_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) done();
    };
    const onExit = (code: number | null) => done(new Error(`exited with ${code}: ${output}`));
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      child.stdout!.resume(); // keep draining its log, so the server never blocks on a full pipe
      if (error) reject(error);
      else resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
