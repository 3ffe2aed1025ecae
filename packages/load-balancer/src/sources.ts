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
