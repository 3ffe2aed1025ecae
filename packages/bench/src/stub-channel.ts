import {
  Metadata,
  connectivityState as ConnectivityState,
  type ChannelInterface,
  type InterceptingListener,
  type StatusObject,
} from '@grpc/grpc-js';

type Call = ReturnType<ChannelInterface['createCall']>;
type MessageContext = Parameters<Call['sendMessageWithContext']>[0];

/**
 * A call that answers at once with a fixed serialized reply, on the next tick after the
 * half-close: what is left is the client-side JS of grpc-js and of the interceptors, without the
 * transport's noise (the in-process harness of docs/performance.md).
 */
class StubCall implements Call {
  private listener: InterceptingListener | undefined;
  private ended = false;
  constructor(
    private readonly reply: Buffer,
    private readonly number: number,
  ) {}
  start(_metadata: Metadata, listener: InterceptingListener): void {
    this.listener = listener;
  }
  sendMessageWithContext(context: MessageContext): void {
    context.callback?.();
  }
  halfClose(): void {
    process.nextTick(() => {
      if (this.ended || !this.listener) return;
      this.listener.onReceiveMetadata(new Metadata());
      this.listener.onReceiveMessage(this.reply);
      this.end({ code: 0, details: 'OK', metadata: new Metadata() });
    });
  }
  startRead(): void {}
  cancelWithStatus(code: number, details: string): void {
    process.nextTick(() => this.end({ code, details, metadata: new Metadata() }));
  }
  private end(status: StatusObject): void {
    if (this.ended) return;
    this.ended = true;
    this.listener?.onReceiveStatus(status);
  }
  getPeer(): string {
    return 'stub';
  }
  getCallNumber(): number {
    return this.number;
  }
  setCredentials(): void {}
  getAuthContext(): null {
    return null;
  }
}

/** A channel whose calls all answer `reply` (give it to a client as `channelOverride`). */
export class StubChannel implements ChannelInterface {
  private calls = 0;
  constructor(private readonly reply: Buffer) {}
  createCall(): Call {
    return new StubCall(this.reply, ++this.calls);
  }
  close(): void {}
  getTarget(): string {
    return 'stub';
  }
  getConnectivityState(): ConnectivityState {
    return ConnectivityState.READY;
  }
  watchConnectivityState(): void {}
  getChannelzRef(): ReturnType<ChannelInterface['getChannelzRef']> {
    return { kind: 'channel', id: 0, name: 'stub' } as ReturnType<
      ChannelInterface['getChannelzRef']
    >;
  }
}
