import { ConfigError } from '@grpc-resilience/status';
import { isHostPort } from './address-list';
import { registerAddressSource, unregisterAddressSource } from './registry';
import { staticSource } from './sources';

/** A target for a list of addresses, held until `release()`. */
export interface AddressTargetLease {
  /** The grpc-js target: `ipv4:a,b` or `grpc-resilience:///static-N`. */
  readonly target: string;
  /** Gives the lease back; the last holder of a list unregisters its source. Idempotent. */
  release(): void;
}

const IPV4_ADDRESS = /^\d{1,3}(\.\d{1,3}){3}:\d+$/;

/** One registered static source per distinct list, counted by its holders. */
const leases = new Map<string, { name: string; holders: number }>();
let lastId = 0;

/**
 * A grpc-js target for a list of addresses: `ipv4:a,b,c` when all are IPv4 literals (grpc-js's
 * own resolver), else a static source registered under one name per distinct list, shared by
 * every holder and unregistered when the last one releases it, so that clients created and
 * closed in a loop leave nothing behind.
 */
export function leaseTargetForAddresses(
  addresses: readonly string[],
  path = 'addresses',
): AddressTargetLease {
  if (!Array.isArray(addresses) || addresses.length === 0)
    throw new ConfigError(path, 'must hold at least one address', addresses);
  for (const address of addresses)
    if (!isHostPort(address)) throw new ConfigError(path, 'must hold host:port strings', address);
  if (addresses.every((address) => IPV4_ADDRESS.test(address)))
    return { target: `ipv4:${addresses.join(',')}`, release: () => undefined };
  const key = addresses.join(',');
  let entry = leases.get(key);
  if (!entry) {
    entry = { name: `static-${++lastId}`, holders: 0 };
    registerAddressSource(entry.name, staticSource(addresses));
    leases.set(key, entry);
  }
  entry.holders++;
  const held = entry;
  let released = false;
  return {
    target: `grpc-resilience:///${held.name}`,
    release() {
      if (released) return;
      released = true;
      if (--held.holders > 0) return;
      // Channels already following the source keep their list; new ones get a fresh source.
      unregisterAddressSource(held.name);
      if (leases.get(key) === held) leases.delete(key);
    },
  };
}

/**
 * {@link leaseTargetForAddresses} for a target held for the life of the process: each distinct
 * list is registered once, however often it is asked for.
 */
export function targetForAddresses(addresses: readonly string[], path = 'addresses'): string {
  return leaseTargetForAddresses(addresses, path).target;
}
