import { readFile, watch } from 'node:fs';
import { integerOption, objectOption } from '@grpc-resilience/status';
import { parseAddressList } from './address-list';
import type { AddressSource } from './registry';

/** Options of {@link fileSource}. */
export interface FileSourceOptions {
  /** Reread at least this often, ms (10 to 3,600,000). Default 2000. */
  pollMs?: number;
}

/**
 * Addresses from a file, one `host:port` per line or a JSON array, reread when it changes: the
 * built-in example of a registry source (a sidecar or config management writes the file).
 * Watches with `fs.watch` and, since some editors and volume mounts replace files in ways a
 * watch misses, also rereads every `pollMs`. A file that cannot be read or parsed (half-written,
 * a bad line, empty) is reported to `onError` and the last good list stays in force.
 */
export function fileSource(path: string, options: FileSourceOptions = {}): AddressSource {
  const input = objectOption('fileSource', options, ['pollMs']);
  const pollMs = integerOption('fileSource.pollMs', input.pollMs, 2000, {
    min: 10,
    max: 3_600_000,
  });
  return {
    subscribe(onAddresses, onError) {
      let last = '';
      let lastError = '';
      let stopped = false;
      const fail = (error: Error) => {
        // Reported once per distinct error, not on every poll of the same broken file.
        if (error.message === lastError) return;
        lastError = error.message;
        onError?.(new Error(`${path}: ${error.message}`));
      };
      const read = () =>
        readFile(path, 'utf8', (error, text) => {
          if (stopped) return;
          if (error) return fail(error);
          let addresses: string[];
          try {
            addresses = parseAddressList(text);
          } catch (parseError) {
            return fail(parseError as Error);
          }
          lastError = '';
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
      const poll = setInterval(read, pollMs);
      poll.unref();
      return () => {
        stopped = true;
        clearInterval(poll);
        watcher?.close();
      };
    },
  };
}
