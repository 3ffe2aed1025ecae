import type { ChannelCredentials, ChannelInterface, ChannelOptions, Deadline } from '@grpc/grpc-js';
import { WatchdogChannel } from '@grpc-resilience/keepalive';
import { BALANCER_MEMORY_OPTION, holdBalancerMemory } from '@grpc-resilience/load-balancer';
import { DetachingCall, type ChannelCall } from './detaching-call';

interface Entry {
  key: string;
  credentials: ChannelCredentials;
  channel: WatchdogChannel;
  refs: number;
  /** The balancer's memory of its endpoints, kept across the watchdog's channel replacements. */
  memory: { release(): void };
}

const entries = new Map<string, Entry[]>();
let lastChannelId = 0;

/** Only the options that make a channel different; interceptors and the like are per client. */
function optionsKey(target: string, options: ChannelOptions): string {
  const keys = Object.keys(options)
    .filter((key) => key.startsWith('grpc.') || key.startsWith('grpc-node.'))
    .sort();
  return `${target}\u0000${JSON.stringify(keys.map((key) => [key, options[key]]))}`;
}

/** A client's handle on a shared channel: closing it releases the client's share only. */
class ChannelHandle implements ChannelInterface {
  private released = false;
  constructor(private readonly entry: Entry) {}

  /** Every call passes here: named parameters, and a call that lets go of its listener at its end. */
  createCall(
    method: string,
    deadline: Deadline,
    host: string | null | undefined,
    parentCall: Parameters<ChannelInterface['createCall']>[3],
    propagateFlags: number | null | undefined,
  ): ChannelCall {
    return new DetachingCall(
      this.entry.channel.createCall(method, deadline, host, parentCall, propagateFlags),
    );
  }

  close(): void {
    if (this.released) return;
    this.released = true;
    if (--this.entry.refs > 0) return;
    const list = entries.get(this.entry.key) ?? [];
    list.splice(list.indexOf(this.entry), 1);
    if (list.length === 0) entries.delete(this.entry.key);
    this.entry.channel.close();
    this.entry.memory.release();
  }
  getTarget() {
    return this.entry.channel.getTarget();
  }
  getConnectivityState(tryToConnect: boolean) {
    return this.entry.channel.getConnectivityState(tryToConnect);
  }
  watchConnectivityState(...args: Parameters<ChannelInterface['watchConnectivityState']>) {
    this.entry.channel.watchConnectivityState(...args);
  }
  getChannelzRef() {
    return this.entry.channel.getChannelzRef();
  }
}

/**
 * A `channelFactoryOverride` that shares one channel (with a connect watchdog) between clients
 * of the same target, credentials and channel options, so that creating clients in a loop does
 * not open a channel each; the channel closes when its last client does.
 */
export function sharedChannelFactory(connectTimeoutMs: number) {
  return (
    target: string,
    credentials: ChannelCredentials,
    options: ChannelOptions,
  ): ChannelInterface => {
    const key = optionsKey(target, {
      ...options,
      'grpc-resilience.connect_timeout_ms': connectTimeoutMs,
    });
    const list = entries.get(key) ?? [];
    let entry = list.find((candidate) => candidate.credentials._equals(credentials));
    if (!entry) {
      const memoryName = `shared-channel-${++lastChannelId}`;
      entry = {
        key,
        credentials,
        channel: new WatchdogChannel(
          target,
          credentials,
          { ...options, [BALANCER_MEMORY_OPTION]: memoryName },
          connectTimeoutMs,
        ),
        refs: 0,
        memory: holdBalancerMemory(memoryName),
      };
      list.push(entry);
      entries.set(key, list);
    }
    entry.refs++;
    return new ChannelHandle(entry);
  };
}

/** How many shared channels are open (for tests and diagnostics). */
export function openSharedChannels(): number {
  let count = 0;
  for (const list of entries.values()) count += list.length;
  return count;
}
