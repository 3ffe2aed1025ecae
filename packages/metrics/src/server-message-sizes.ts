import type { ServerInterceptingCallInterface, ServerMethodDefinition } from '@grpc/grpc-js';
import { countingSerializer } from './message-sizes';

/**
 * Message sizes on the server, as grpc-js (de)serializes them. A server interceptor sees messages
 * as objects; the bytes exist only in grpc-js's base call, which serializes and deserializes with
 * the functions of the handler the server registered (`handler.serialize`, `handler.deserialize`,
 * read at every message; one handler per registered method, shared by its calls). The interceptor
 * first in the server's list receives that base call and reaches its handler: the functions are
 * wrapped once per handler, so a call allocates nothing for it and nothing is serialized twice.
 *
 * Sent: grpc-js serializes synchronously inside the base call's `sendMessage`, so the client's
 * counting serializer and its slot serve (`beginCounting` around the send). Received: grpc-js may queue a
 * deserialized message until the handler reads it, while other calls' messages are deserialized,
 * so the size is kept beside the message object itself (a WeakMap) until the call's listener
 * takes it. A deserializer that returns a primitive has no object to key: its bytes are not seen.
 */

/** The fields of grpc-js's (internal) server handler the base call (de)serializes with. */
interface HandlerFunctions {
  serialize: (value: unknown) => Buffer;
  deserialize: (bytes: Buffer) => unknown;
  [WRAPPED]?: true;
}

const WRAPPED = Symbol('grpc-resilience.metrics.server-sizes');

const receivedBytes = new WeakMap<object, number>();

type Deserialize = HandlerFunctions['deserialize'];

/** One counting version per function: servers registering one service share them. */
const countingDeserializers = new WeakMap<Deserialize, Deserialize>();

/**
 * Wraps the (de)serializer of the handler behind `call` once, so sizes can be counted; false
 * when `call` is not grpc-js's base call (another interceptor comes first) or its handler is not
 * the one `method` was made from: then the call's sizes are not recorded at all, rather than
 * recorded as zero.
 */
export function countServerSizesOf(
  method: ServerMethodDefinition<unknown, unknown>,
  call: ServerInterceptingCallInterface,
): boolean {
  const handler = (call as unknown as { handler?: unknown }).handler as
    HandlerFunctions | undefined;
  if (typeof handler !== 'object' || handler === null) return false;
  if (handler[WRAPPED]) return true;
  const { serialize, deserialize } = handler;
  if (serialize !== method.responseSerialize || deserialize !== method.requestDeserialize) {
    return false;
  }
  let measuring = countingDeserializers.get(deserialize);
  if (!measuring) {
    measuring = (bytes: Buffer) => {
      const message = deserialize(bytes);
      if (typeof message === 'object' && message !== null) {
        receivedBytes.set(message, bytes.length);
      }
      return message;
    };
    countingDeserializers.set(deserialize, measuring);
  }
  handler.serialize = countingSerializer(serialize);
  handler.deserialize = measuring;
  handler[WRAPPED] = true;
  return true;
}

/** The serialized size of a message grpc-js deserialized with a wrapped handler; 0 if unknown. */
export function receivedBytesOf(message: unknown): number {
  if (typeof message !== 'object' || message === null) return 0;
  return receivedBytes.get(message) ?? 0;
}
