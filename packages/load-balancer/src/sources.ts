import { lookup } from 'node:dns/promises';
import { readFile, watch } from 'node:fs';
import type { AddressSource } from './registry';

/** A fixed list, pushed once. */
export function staticSource(addresses: readonly string[]): AddressSource {
  const list = [...addresses];
  return {
    subscribe(onAddresses) {
      queueMicrotask(() => onAddresses(list));
      return () => undefined;
    },
  };
}

/** A source whose list the program sets (an in-process registry, or an adapter's output). */
export class MutableSource implements AddressSource {
  private readonly listeners = new Set<(addresses: string[]) => void>();
  constructor(private addresses: string[] = []) {}

  /** Replaces the list and tells every subscriber. */
  set(addresses: readonly string[]): void {
    this.addresses = [...addresses];
    for (const listener of this.listeners) listener(this.addresses);
  }

  subscribe(onAddresses: (addresses: string[]) => void): () => void {
    this.listeners.add(onAddresses);
    const initial = this.addresses;
    queueMicrotask(() => onAddresses(initial));
    return () => void this.listeners.delete(onAddresses);
  }
}

/**
 * Addresses from a file, one `host:port` per line or a JSON array, reread when it changes: the
 * built-in example of a registry source (a sidecar or config management writes the file).
 * Watches with `fs.watch` and, since some editors and volume mounts replace files in ways a
 * watch misses, also rereads every `pollMs` (default 2000).
 */
export function fileSource(path: string, options: { pollMs?: number } = {}): AddressSource {
  return {
    subscribe(onAddresses, onError) {
      let last = '';
      let stopped = false;
      const read = () =>
        readFile(path, 'utf8', (error, text) => {
          if (stopped) return;
          if (error) return onError?.(error);
          const addresses = parseAddressList(text);
          const key = addresses.join(',');
          if (key === last) return;
          last = key;
          onAddresses(addresses);
        });
      read();
      let watcher: ReturnType<typeof watch> | undefined;
      try {
        watcher = watch(path, { persistent: false }, read);
        watcher.on('error', () => undefined);
      } catch {
        // The poll below still follows the file.
      }
      const poll = setInterval(read, options.pollMs ?? 2000);
      poll.unref();
      return () => {
        stopped = true;
        clearInterval(poll);
        watcher?.close();
      };
    },
  };
}

/** Parses a JSON array of addresses, or one address per line (blank lines and # comments skipped). */
export function parseAddressList(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return (JSON.parse(trimmed) as unknown[]).map(String);
  return trimmed
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line.length > 0);
}

/** Options of {@link dnsSource}. */
export interface DnsSourceOptions {
  /** Look up again this often, ms. Default 5000. */
  intervalMs?: number;
  /** 4 or 6 to keep one family. Default both. */
  family?: 0 | 4 | 6;
  /** The lookup, injectable for tests. Default `dns.promises.lookup` with `all: true`. */
  resolve?: (hostname: string, family: 0 | 4 | 6) => Promise<string[]>;
}

/**
 * DNS with periodic re-resolution: every address of `hostname` on `port`, looked up every
 * `intervalMs`. For Kubernetes headless services, whose A records list the ready pods: grpc-js's
 * own dns resolver looks up again only after a connection fails, and at most every 30 s.
 */
export function dnsSource(
  hostname: string,
  port: number,
  options: DnsSourceOptions = {},
): AddressSource {
  const { intervalMs = 5000, family = 0 } = options;
  const resolve =
    options.resolve ??
    (async (host: string, fam: 0 | 4 | 6) =>
      (await lookup(host, { all: true, family: fam })).map((entry) => entry.address));
  return {
    subscribe(onAddresses, onError) {
      let last: string | undefined;
      let stopped = false;
      const refresh = async () => {
        try {
          const ips = [...new Set(await resolve(hostname, family))].sort();
          const addresses = ips.map((ip) =>
            ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`,
          );
          const key = addresses.join(',');
          if (!stopped && key !== last) {
            last = key;
            onAddresses(addresses);
          }
        } catch (error) {
          if (!stopped) onError?.(error as Error);
        }
      };
      void refresh();
      const timer = setInterval(() => void refresh(), intervalMs);
      timer.unref();
      return () => {
        stopped = true;
        clearInterval(timer);
      };
    },
  };
}
