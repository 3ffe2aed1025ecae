import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@grpc-resilience/status';
import { waitUntil } from '@grpc-resilience/testing';
import { dnsSource, fileSource, parseAddressList } from './index';

describe('parseAddressList', () => {
  it('parses JSON arrays and line lists with comments', () => {
    expect(parseAddressList('["a:1","b:2"]')).toEqual(['a:1', 'b:2']);
    expect(parseAddressList('a:1\n# b:2\n\n c:3 # primary\n[::1]:4\n')).toEqual([
      'a:1',
      'c:3',
      '[::1]:4',
    ]);
  });

  it('refuses a half-written file, a bad line and an empty list, naming the entry', () => {
    expect(() => parseAddressList('["a:1", "b:')).toThrow('not a complete JSON array');
    expect(() => parseAddressList('{"a": 1}')).toThrow('entry 1 is not host:port');
    expect(() => parseAddressList('a:1\nb:2\n10.0.0')).toThrow(
      'entry 3 is not host:port: "10.0.0"',
    );
    expect(() => parseAddressList('a:1\nb:99999')).toThrow('entry 2 is not host:port');
    expect(() => parseAddressList('  \n# nothing\n')).toThrow('no addresses');
  });
});

describe('fileSource', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lb-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('pushes the list and every change', async () => {
    const file = join(dir, 'backends.txt');
    writeFileSync(file, 'a:1\n');
    const seen: string[][] = [];
    const stop = fileSource(file, { pollMs: 50 }).subscribe((list) => seen.push(list));
    try {
      await waitUntil(() => seen.length === 1);
      writeFileSync(file, 'a:1\nb:2\n');
      await waitUntil(() => seen.length === 2);
      expect(seen).toEqual([['a:1'], ['a:1', 'b:2']]);
    } finally {
      stop();
    }
  });

  it('a corrupted file or a bad line keeps the last good list and reports the error once', async () => {
    const file = join(dir, 'backends.json');
    // Each broken content replaces the file whole (written aside, then renamed), so no read lands
    // in writeFileSync's window between truncation and write: that read would see an empty file,
    // one more distinct error, and shift the counts this test waits on.
    const replace = (text: string) => {
      writeFileSync(`${file}.next`, text);
      renameSync(`${file}.next`, file);
    };
    writeFileSync(file, '["a:1","b:2"]');
    const seen: string[][] = [];
    const errors: string[] = [];
    const stop = fileSource(file, { pollMs: 20 }).subscribe(
      (list) => seen.push(list),
      (error) => errors.push(error.message),
    );
    try {
      await waitUntil(() => seen.length === 1);
      replace('["a:1","b:'); // a writer caught half-way
      await waitUntil(() => errors.length === 1);
      replace('a:1\nnot an address\n');
      await waitUntil(() => errors.length === 2);
      replace(''); // truncated before the write
      await waitUntil(() => errors.length === 3);
      // Several polls of the same broken file: still one report per distinct error.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(errors).toEqual([
        expect.stringContaining('not a complete JSON array'),
        expect.stringContaining('entry 2 is not host:port: "not an address"'),
        expect.stringContaining('no addresses'),
      ]);
      expect(seen).toEqual([['a:1', 'b:2']]);
      replace('c:3\n');
      await waitUntil(() => seen.length === 2);
      expect(seen[1]).toEqual(['c:3']);
    } finally {
      stop();
    }
  });

  it('a missing file is an error, not a crash', async () => {
    const errors: Error[] = [];
    const stop = fileSource(join(dir, 'none.txt'), { pollMs: 20 }).subscribe(
      () => undefined,
      (error) => errors.push(error),
    );
    try {
      await waitUntil(() => errors.length === 1);
      expect(errors[0].message).toMatch(/ENOENT/);
    } finally {
      stop();
    }
  });

  it('validates its options', () => {
    expect(() => fileSource('x', { pollMs: 0 })).toThrow(ConfigError);
    expect(() => fileSource('x', { pollMs: 0 })).toThrow(
      'fileSource.pollMs must be an integer from 10 to 3600000, received 0',
    );
  });
});

describe('dnsSource', () => {
  it('looks up again on its interval and pushes only changes', async () => {
    let answer = ['10.0.0.2', '10.0.0.1'];
    const seen: string[][] = [];
    const stop = dnsSource('svc.ns.svc.cluster.local', 50051, {
      intervalMs: 100,
      resolve: async () => answer,
    }).subscribe((list) => seen.push(list));
    try {
      await waitUntil(() => seen.length === 1);
      const changedAt = Date.now();
      answer = ['10.0.0.1', '10.0.0.2', 'fd00::3'];
      await waitUntil(() => seen.length === 2);
      // A new pod is seen within one interval (plus the timer's lateness on a loaded machine).
      expect(Date.now() - changedAt).toBeLessThan(100 * 10);
      expect(seen).toEqual([
        ['10.0.0.1:50051', '10.0.0.2:50051'],
        ['10.0.0.1:50051', '10.0.0.2:50051', '[fd00::3]:50051'],
      ]);
    } finally {
      stop();
    }
  });

  it('never overlaps lookups, however slow DNS is', async () => {
    let inFlight = 0;
    let most = 0;
    let lookups = 0;
    const pending: Array<() => void> = [];
    const source = dnsSource('slow.example', 1, {
      intervalMs: 100,
      minIntervalMs: 100,
      resolve: () => {
        lookups++;
        most = Math.max(most, ++inFlight);
        return new Promise((resolve) =>
          pending.push(() => {
            inFlight--;
            resolve(['10.0.0.1']);
          }),
        );
      },
    });
    const stop = source.subscribe(() => undefined);
    try {
      await waitUntil(() => lookups === 1);
      // Five intervals and several re-resolution requests pass while the lookup hangs.
      for (let i = 0; i < 5; i++) {
        source.refresh();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(lookups).toBe(1);
      pending.shift()!();
      await waitUntil(() => lookups === 2, { timeoutMs: 3000 });
      pending.shift()!();
      expect(most).toBe(1);
    } finally {
      stop();
    }
  });

  it('a re-resolution request looks up early, but never before the minimum interval', async () => {
    const { starts, source, stop } = subscribedWithMinimum(300);
    try {
      await waitUntil(() => starts.length === 1);
      source.refresh();
      source.refresh();
      await waitUntil(() => starts.length === 2, { timeoutMs: 5000 });
      expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(300);
      source.refresh();
      await waitUntil(() => starts.length === 3, { timeoutMs: 5000 });
      expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(300);
    } finally {
      stop();
    }
  });

  it('a re-resolution never looks up before the minimum by the clock, even when the timer fires early by it', async () => {
    // Timers run on the event loop's own millisecond clock, not on Date.now(): a 300 ms timer
    // was seen firing 297 ms after by Date.now(). Here Date.now() is set back 5 ms while the
    // timer waits.
    jest.useFakeTimers({ now: 1_000_000 });
    const { starts, source, stop } = subscribedWithMinimum(300);
    try {
      await jest.advanceTimersByTimeAsync(0); // the first lookup settles
      source.refresh();
      jest.setSystemTime(Date.now() - 5);
      await jest.advanceTimersByTimeAsync(300);
      await jest.advanceTimersByTimeAsync(10);
      expect(starts).toHaveLength(2);
      expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(300);
    } finally {
      stop();
      jest.useRealTimers();
    }
  });

  it('validates its options', () => {
    expect(() => dnsSource('h', 1, { intervalMs: 10 })).toThrow(
      'dnsSource.intervalMs must be an integer from 100 to 3600000, received 10',
    );
    expect(() => dnsSource('h', 1, { intervalMs: 1000, minIntervalMs: 2000 })).toThrow(
      'dnsSource.minIntervalMs must be an integer from 100 to 1000, received 2000',
    );
    expect(() => dnsSource('h', 1, { family: 5 as never })).toThrow('dnsSource.family');
  });

  it('resolves a real name', async () => {
    const seen: string[][] = [];
    const stop = dnsSource('localhost', 1234, { family: 4 }).subscribe((list) => seen.push(list));
    try {
      await waitUntil(() => seen.length === 1);
      expect(seen[0]).toContain('127.0.0.1:1234');
    } finally {
      stop();
    }
  });
});

/** A subscribed DNS source polling every minute, whose lookups record when they start. */
function subscribedWithMinimum(minIntervalMs: number) {
  const starts: number[] = [];
  const source = dnsSource('svc.example', 1, {
    intervalMs: 60_000,
    minIntervalMs,
    resolve: async () => (starts.push(Date.now()), ['10.0.0.1']),
  });
  const stop = source.subscribe(() => undefined);
  return { starts, source, stop };
}
