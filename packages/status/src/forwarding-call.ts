import type {
  InterceptingCall,
  InterceptingListener,
  Metadata,
  StatusObject,
  status as Status,
} from '@grpc/grpc-js';

/** The listener of a call not started yet: shared, so a call allocates none of its own. */
const NO_LISTENER: Partial<InterceptingListener> = Object.freeze({});

/** What an interceptor returns and wraps; grpc-js does not export the interface by name. */
export type InterceptingCallInterface = ConstructorParameters<typeof InterceptingCall>[0];
type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];

/**
 * A call that passes everything through to `next` and is its own listener: an interceptor
 * subclasses it and overrides only the hooks it needs. grpc-js's `InterceptingCall` with a
 * requester and a listener builds listener wrappers and closures per call and per event; this is
 * one object per call (docs/performance.md: listener hooks cost ~2.5 µs per interceptor).
 * Return it from an interceptor cast to `InterceptingCall`: grpc-js uses only its interface.
 */
export class ForwardingCall implements InterceptingCallInterface, InterceptingListener {
  protected listener: Partial<InterceptingListener> = NO_LISTENER;

  constructor(protected readonly next: InterceptingCallInterface) {}

  start(metadata: Metadata, listener?: Partial<InterceptingListener>): void {
    if (listener) this.listener = listener;
    this.next.start(metadata, this);
  }
  onReceiveMetadata(metadata: Metadata): void {
    this.listener.onReceiveMetadata?.(metadata);
  }
  onReceiveMessage(message: unknown): void {
    this.listener.onReceiveMessage?.(message);
  }
  onReceiveStatus(status: StatusObject): void {
    this.listener.onReceiveStatus?.(status);
  }
  sendMessageWithContext(context: MessageContext, message: unknown): void {
    this.next.sendMessageWithContext(context, message);
  }
  sendMessage(message: unknown): void {
    this.next.sendMessage(message);
  }
  startRead(): void {
    this.next.startRead();
  }
  halfClose(): void {
    this.next.halfClose();
  }
  cancelWithStatus(code: Status, details: string): void {
    this.next.cancelWithStatus(code, details);
  }
  getPeer(): string {
    return this.next.getPeer();
  }
  getAuthContext(): ReturnType<InterceptingCallInterface['getAuthContext']> {
    return this.next.getAuthContext();
  }
}
