import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface ServerHandle {
  address: string;
  stop(): void;
}

/** Starts the bench server in a child process. */
export function startServerProcess(kind: 'bare' | 'kit'): Promise<ServerHandle> {
  const child: ChildProcess = fork(join(__dirname, 'server-process.js'), [kind], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (message: { address: string }) =>
      resolve({ address: message.address, stop: () => child.connected && child.disconnect() }),
    );
  });
}
