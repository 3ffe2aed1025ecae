import type { InterceptingListener, Metadata, StatusObject } from '@grpc/grpc-js';
import type { InterceptingCallInterface } from '@grpc-resilience/status';

/** What an attempt reports to the logical call it belongs to. */
export interface AttemptOwner {
  onMetadata(attempt: InterceptingCallInterface, metadata: Metadata): void;
  onMessage(attempt: InterceptingCallInterface, message: unknown): void;
  onStatus(attempt: InterceptingCallInterface, status: StatusObject): void;
}

/** Listener of one attempt: forwards only while that attempt is the current one. */
export class AttemptListener implements InterceptingListener {
  constructor(
    private readonly owner: AttemptOwner,
    private readonly attempt: InterceptingCallInterface,
  ) {}
  onReceiveMetadata(metadata: Metadata): void {
    this.owner.onMetadata(this.attempt, metadata);
  }
  onReceiveMessage(message: unknown): void {
    this.owner.onMessage(this.attempt, message);
  }
  onReceiveStatus(status: StatusObject): void {
    this.owner.onStatus(this.attempt, status);
  }
}
