import type { ChannelOptions } from '@grpc/grpc-js';
import { Ejector } from './ejector';

/**
 * The channel option naming the memory a balancer shares with the balancers of the channels that
 * replace its own (never sent; grpc-js passes unknown options through to the policy).
 */
export const BALANCER_MEMORY_OPTION = 'grpc-resilience.balancer_memory';

/** What a balancer knows of its endpoints that must outlive one grpc-js channel. */
export interface BalancerMemory {
  readonly ejector: Ejector;
}

const memories = new Map<string, { memory: BalancerMemory; holders: number }>();

/**
 * Holds the memory named `name` until `release()`: the owner of a channel that may be replaced
 * (the connect watchdog opens a fresh grpc-js channel for a stuck connection) holds it, so that
 * the new channel's balancer keeps the old one's ejections instead of trusting a sick endpoint
 * again from zero.
 */
export function holdBalancerMemory(name: string): { release(): void } {
  let entry = memories.get(name);
  if (!entry) memories.set(name, (entry = { memory: { ejector: new Ejector() }, holders: 0 }));
  entry.holders++;
  const held = entry;
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      if (--held.holders === 0 && memories.get(name) === held) memories.delete(name);
    },
  };
}

/** The memory the channel's options name, if someone holds it; else undefined. */
export function balancerMemoryFor(options: ChannelOptions): BalancerMemory | undefined {
  const name = options[BALANCER_MEMORY_OPTION];
  return typeof name === 'string' ? memories.get(name)?.memory : undefined;
}

/** How many memories are held (for diagnostics, and tests that look for leaks). */
export function heldBalancerMemories(): number {
  return memories.size;
}
