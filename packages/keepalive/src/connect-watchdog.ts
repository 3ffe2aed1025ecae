import {
  Channel,
  connectivityState as ConnectivityState,
  type ChannelCredentials,
  type ChannelInterface,
  type ChannelOptions,
} from '@grpc/grpc-js';

type Deadline = Parameters<Channel['createCall']>[1];
type ParentCall = Parameters<Channel['createCall']>[3];

/**
 * A channel that gives up on a connection stuck in CONNECTING (a peer that accepts TCP but never
 * speaks HTTP/2: grpc-js has no connect timeout, grpc-node#2785): after `connectTimeoutMs` it
 * closes its inner grpc-js channel, which fails the calls waiting on it with UNAVAILABLE
 * `Channel closed before call started` (never sent, so retryable), and opens a fresh one.
 * Built only on grpc-js's public API: give it to a client as `channelOverride`.
 */
export class WatchdogChannel implements ChannelInterface {
  private inner!: Channel;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** How many times a stuck connection was abandoned. */
  restarts = 0;

  constructor(
    private readonly target: string,
    private readonly credentials: ChannelCredentials,
    private readonly options: ChannelOptions,
    private readonly connectTimeoutMs: number,
  ) {
    this.open();
  }

  private open(): void {
    // A private subchannel pool: otherwise a fresh channel would share the stuck subchannel.
    const channel = new Channel(this.target, this.credentials, {
      ...this.options,
      'grpc.use_local_subchannel_pool': 1,
    });
    this.inner = channel;
    this.watch(channel);
  }

  private watch(channel: Channel): void {
    if (this.closed || channel !== this.inner) return;
    const state = channel.getConnectivityState(false);
    if (state === ConnectivityState.SHUTDOWN) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (state === ConnectivityState.CONNECTING) {
      this.timer = setTimeout(() => this.abandon(channel), this.connectTimeoutMs);
      this.timer.unref();
    }
    channel.watchConnectivityState(state, Infinity, () => this.watch(channel));
  }

  private abandon(channel: Channel): void {
    if (this.closed || channel !== this.inner) return;
    if (channel.getConnectivityState(false) !== ConnectivityState.CONNECTING) return;
    this.restarts++;
    this.open();
    channel.close();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.inner.close();
  }
  getTarget(): string {
    return this.inner.getTarget();
  }
  getConnectivityState(tryToConnect: boolean) {
    return this.inner.getConnectivityState(tryToConnect);
  }
  watchConnectivityState(...args: Parameters<Channel['watchConnectivityState']>): void {
    this.inner.watchConnectivityState(...args);
  }
  getChannelzRef() {
    return this.inner.getChannelzRef();
  }
  // Every call passes here: named parameters, not a rest array spread again per call.
  createCall(
    method: string,
    deadline: Deadline,
    host: string | null | undefined,
    parentCall: ParentCall,
    propagateFlags: number | null | undefined,
  ) {
    return this.inner.createCall(method, deadline, host, parentCall, propagateFlags);
  }
}

/** A `channelFactoryOverride` for client options that builds {@link WatchdogChannel}s. */
export function connectWatchdog(connectTimeoutMs: number) {
  return (
    target: string,
    credentials: ChannelCredentials,
    options: ChannelOptions,
  ): ChannelInterface => new WatchdogChannel(target, credentials, options, connectTimeoutMs);
}
