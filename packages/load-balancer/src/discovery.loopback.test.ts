import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '@grpc-resilience/testing';
import { MutableSource, fileSource, registerAddressSource, unregisterAddressSource } from './index';
import { balancedClient, closeAll, load, startBackends, warmUp } from './lb-test.helper';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lb-'))));
afterEach(() => {
  closeAll();
  rmSync(dir, { recursive: true, force: true });
});

it('a corrupted discovery file and a bad line leave the process up, calling the last good list', async () => {
  const group = await startBackends(2);
  const file = join(dir, 'backends.txt');
  writeFileSync(file, group.map((b) => b.address).join('\n'));
  const errors: string[] = [];
  const source = fileSource(file, { pollMs: 20 });
  const target = registerAddressSource('lb-test-file', {
    subscribe: (onAddresses, onError) =>
      source.subscribe(onAddresses, (error) => {
        errors.push(error.message);
        onError?.(error);
      }),
  });
  try {
    const client = balancedClient(target);
    await warmUp(client, group);
    // Waits for each case's own error: a read that lands between writeFileSync's truncation and
    // its write sees an empty file and reports that too (a CI run never read exactly 2 errors).
    const reported = (pattern: RegExp) => () => errors.some((message) => pattern.test(message));
    writeFileSync(file, `${group[0].address}\n${group[1].address.slice(0, 6)}`); // cut mid-write
    await waitUntil(reported(/entry 2 is not host:port/), { timeoutMs: 10_000 });
    writeFileSync(file, '["127.0.0.1:1", "127.0.0.'); // half-written JSON
    await waitUntil(reported(/not a complete JSON array/), { timeoutMs: 10_000 });
    expect(await load(client, 200)).toEqual([]);
    // Both backends of the last good list still serve: the broken ones replaced nothing.
    for (const b of group) expect(b.counters.calls).toBeGreaterThan(20);
  } finally {
    unregisterAddressSource('lb-test-file');
  }
});

it('a source pushing a list with a bad entry is refused, not thrown into the process', async () => {
  const group = await startBackends(2);
  const source = new MutableSource(group.map((b) => b.address));
  const target = registerAddressSource('lb-test-bad-entry', source);
  try {
    const client = balancedClient(target);
    await warmUp(client, group);
    source.set([group[0].address, 'no-port-here']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await load(client, 100)).toEqual([]);
    for (const b of group) expect(b.counters.calls).toBeGreaterThan(10);
  } finally {
    unregisterAddressSource('lb-test-bad-entry');
  }
});
