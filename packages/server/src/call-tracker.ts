import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';

type NextCall = ConstructorParameters<typeof ServerInterceptingCall>[0];
// grpc-js exports neither type by name.
type InterceptingServerListener = Parameters<ServerInterceptingCall['start']>[0];
/** A status as a server sends it: code, details, optional trailers. */
export type ServerStatus = Parameters<ServerInterceptingCall['sendStatus']>[0];

/**
 * A call the tracker can end from outside, as its client would by cancelling: the status goes
 * to the client, and the handler hears `cancelled` (its stream is destroyed) so it stops.
 */
class TrackedCall extends ServerInterceptingCall {
  private handlerListener: InterceptingServerListener | undefined;
  /** Set on a stream that arrived after the streams were ended: it is ended as it starts. */
  endOnStart: ServerStatus | undefined;

  override start(listener: InterceptingServerListener): void {
    this.handlerListener = listener;
    super.start(listener);
    if (this.endOnStart !== undefined) this.endWith(this.endOnStart);
  }

  endWith(status: ServerStatus): void {
    this.sendStatus(status);
    this.handlerListener?.onCancel();
  }
}

/**
 * Counts the calls in flight and keeps the ones with a response stream, the long-lived calls a
 * drain must end itself: `tryShutdown` waits for every call, and a stream that never ends would
 * hold the server up until the grace runs out and `forceShutdown` resets it (the client then
 * sees a reset, not a status it can act on). Its `interceptor` goes first in the server's list.
 */
export class CallTracker {
  private count = 0;
  private readonly streams = new Set<TrackedCall>();
  private endStatus: ServerStatus | undefined;

  /** Calls started and not yet ended. */
  get inFlight(): number {
    return this.count;
  }

  /** Open calls with a response stream (server-streaming and bidi). */
  get openStreams(): number {
    return this.streams.size;
  }

  readonly interceptor: ServerInterceptor = (method, next: NextCall) => {
    const isStream = method.responseStream;
    let ended = false;
    this.count++;
    const end = () => {
      if (ended) return;
      ended = true;
      this.count--;
      if (isStream) this.streams.delete(call);
    };
    const call: TrackedCall = new TrackedCall(next, {
      start(nextStart) {
        nextStart({ onCancel: end });
      },
      sendStatus(status, nextStatus) {
        end();
        nextStatus(status);
      },
    });
    if (isStream) {
      this.streams.add(call);
      call.endOnStart = this.endStatus;
    }
    return call;
  };

  /**
   * Ends every open response stream with `status`, and every one that starts from now on (a
   * stream can still arrive on a connection whose client has not yet read the GOAWAY); returns
   * how many were open.
   */
  endStreams(status: ServerStatus): number {
    this.endStatus = status;
    const open = [...this.streams];
    for (const call of open) call.endWith(status);
    return open.length;
  }
}
