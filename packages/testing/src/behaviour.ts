import { Metadata, type status as Status } from '@grpc/grpc-js';

/**
 * What the test backend should do with one call, sent as request metadata so that every attempt
 * of a retried call carries the same instructions. Counting "attempts" needs a `callId`.
 */
export interface Behaviour {
  /** Identifies one logical call; the backend counts attempts per id. */
  callId?: string;
  /** Fail with this status code. */
  failCode?: Status;
  /** Fail only the first K attempts of `callId` (default: every attempt). */
  failAttempts?: number;
  /** Fail each attempt with this probability (0..1) instead of always (a flaky backend). */
  failRatio?: number;
  /** Details of the failure status (default: `injected <CODE>`). */
  failDetails?: string;
  /** Apply the method's side effect first, then fail (a lost response after a side effect). */
  failAfterEffect?: boolean;
  /** Streams: send this many messages, then fail. */
  failAfterMessages?: number;
  /** Wait this long before doing anything (cut short by cancellation). */
  delayMs?: number;
  /** Never answer; end only when the call is cancelled or its deadline passes. */
  hang?: boolean;
  /** Server streams: how many messages to send (default: the request's `count`, else 3). */
  messages?: number;
  /** Server and bidi streams: wait between messages. */
  messageIntervalMs?: number;
  /** On failure, send the trailer `grpc-retry-pushback-ms` with this value (as given). */
  pushbackMs?: number | string;
  /** Size of the reply's `payload` field in bytes (for message size limits). */
  responseBytes?: number;
}

/** The request metadata keys the test backend reads. */
export const BEHAVIOUR_HEADERS = Object.freeze({
  callId: 'x-test-call-id',
  failCode: 'x-test-fail-code',
  failAttempts: 'x-test-fail-attempts',
  failRatio: 'x-test-fail-ratio',
  failDetails: 'x-test-fail-details',
  failAfterEffect: 'x-test-fail-after-effect',
  failAfterMessages: 'x-test-fail-after-messages',
  delayMs: 'x-test-delay-ms',
  hang: 'x-test-hang',
  messages: 'x-test-messages',
  messageIntervalMs: 'x-test-message-interval-ms',
  pushbackMs: 'x-test-pushback-ms',
  responseBytes: 'x-test-response-bytes',
} satisfies Record<keyof Behaviour, string>);

/** Writes a behaviour into request metadata (a new `Metadata`, or the one given). */
export function behaviourMetadata(behaviour: Behaviour, metadata = new Metadata()): Metadata {
  for (const key of Object.keys(behaviour) as (keyof Behaviour)[]) {
    const value = behaviour[key];
    if (value === undefined || value === false) continue;
    metadata.set(BEHAVIOUR_HEADERS[key], String(value));
  }
  return metadata;
}

/** Reads a behaviour back from request metadata (what the backend does). */
export function readBehaviour(metadata: Metadata): Behaviour {
  const text = (key: keyof Behaviour): string | undefined => {
    const value = metadata.get(BEHAVIOUR_HEADERS[key])[0];
    return value === undefined ? undefined : String(value);
  };
  const int = (key: keyof Behaviour): number | undefined => {
    const value = text(key);
    return value === undefined ? undefined : Number.parseInt(value, 10);
  };
  return {
    callId: text('callId'),
    failCode: int('failCode'),
    failAttempts: int('failAttempts'),
    failRatio: text('failRatio') === undefined ? undefined : Number(text('failRatio')),
    failDetails: text('failDetails'),
    failAfterEffect: text('failAfterEffect') === 'true',
    failAfterMessages: int('failAfterMessages'),
    delayMs: int('delayMs'),
    hang: text('hang') === 'true',
    messages: int('messages'),
    messageIntervalMs: int('messageIntervalMs'),
    pushbackMs: text('pushbackMs'),
    responseBytes: int('responseBytes'),
  };
}
