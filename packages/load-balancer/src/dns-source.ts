import { lookup } from 'node:dns/promises';
import { ConfigError, functionOption, integerOption, objectOption } from '@grpc-resilience/status';
import type { AddressSource } from './registry';

/** Options of {@link dnsSource}. */
export interface DnsSourceOptions {
  /** Look up again this long after the previous lookup started, ms (100 to 3,600,000). Default 5000. */
  intervalMs?: number;
  /**
   * When grpc-js asks for re-resolution (an endpoint left READY), look up at once, but never
   * sooner than this after the previous lookup started, ms (100 to `intervalMs`). Default 1000.
   */
  minIntervalMs?: number;
  /** 4 or 6 to keep one family. Default 0 (both). */
  family?: 0 | 4 | 6;
  /** The lookup, injectable for tests. Default `dns.promises.lookup` with `all: true`. */
  resolve?: (hostname: string, family: 0 | 4 | 6) => Promise<string[]>;
}

const defaultResolve = async (host: string, family: 0 | 4 | 6) =>
  (await lookup(host, { all: true, family })).map((entry) => entry.address);

/**
 * DNS with periodic re-resolution: every address of `hostname` on `port`, looked up every
 * `intervalMs`. For Kubernetes headless services, whose A records list the ready pods: grpc-js's
 * own dns resolver looks up again only after a connection fails, and at most every 30 s.
 * Lookups never overlap: the next is scheduled when the previous one has settled, so a slow DNS
 * server cannot pile lookups up.
 */
export function dnsSource(
  hostname: string,
  port: number,
  options: DnsSourceOptions = {},
): AddressSource & { refresh(): void } {
  const input = objectOption('dnsSource', options, [
    'intervalMs',
    'minIntervalMs',
    'family',
    'resolve',
  ]);
  const intervalMs = integerOption('dnsSource.intervalMs', input.intervalMs, 5000, {
    min: 100,
    max: 3_600_000,
  });
  const minIntervalMs = integerOption(
    'dnsSource.minIntervalMs',
    input.minIntervalMs,
    Math.min(1000, intervalMs),
    { min: 100, max: intervalMs },
  );
  const family = input.family ?? 0;
  if (family !== 0 && family !== 4 && family !== 6)
    throw new ConfigError('dnsSource.family', 'must be 0, 4 or 6', family);
  const resolve = functionOption('dnsSource.resolve', input.resolve, defaultResolve);
  const subscribers = new Set<{ refresh(): void }>();
  return {
    refresh() {
      for (const subscriber of subscribers) subscriber.refresh();
    },
    subscribe(onAddresses, onError) {
      let last: string | undefined;
      let stopped = false;
      let inFlight = false;
      let startedAt = -Infinity;
      let timer: NodeJS.Timeout | undefined;
      const schedule = (delayMs: number) => {
        clearTimeout(timer);
        timer = setTimeout(lookUp, Math.max(0, delayMs));
        timer.unref();
      };
      const lookUp = () => {
        if (stopped || inFlight) return;
        // Timers run on the event loop's own millisecond clock (monotonic, read once per turn),
        // not on Date.now(): the two disagree by a few ms, so the minimum is checked here.
        const earlyMs = startedAt + minIntervalMs - Date.now();
        if (earlyMs > 0) return schedule(earlyMs);
        inFlight = true;
        startedAt = Date.now();
        resolve(hostname, family).then(
          (ips) => {
            inFlight = false;
            if (stopped) return;
            schedule(startedAt + intervalMs - Date.now());
            const addresses = [...new Set(ips)]
              .sort()
              .map((ip) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`));
            const key = addresses.join(',');
            if (key === last) return;
            last = key;
            onAddresses(addresses);
          },
          (error: unknown) => {
            inFlight = false;
            if (stopped) return;
            schedule(startedAt + intervalMs - Date.now());
            onError?.(error instanceof Error ? error : new Error(String(error)));
          },
        );
      };
      const subscriber = {
        refresh() {
          // A lookup in flight already answers the request; otherwise, as soon as allowed.
          if (!inFlight) schedule(startedAt + minIntervalMs - Date.now());
        },
      };
      subscribers.add(subscriber);
      lookUp();
      return () => {
        stopped = true;
        clearTimeout(timer);
        subscribers.delete(subscriber);
      };
    },
  };
}
