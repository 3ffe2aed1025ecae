import type { InterceptorOptions } from '@grpc/grpc-js';

/**
 * Message sizes as grpc-js serializes them. Interceptors see messages as objects; the bytes
 * exist only inside grpc-js's bottom call, which serializes with the `method_definition` object
 * the interceptors also receive (grpc-js makes one per call). Wrapping its two functions once
 * lets the attempt that is sending (or has just received) count the bytes without serializing
 * twice. Serialization runs synchronously inside the innermost interceptor's send, so one
 * module-level slot says which attempt is sending.
 */

/** What an attempt counts into. */
export interface ByteCounter {
  sentBytes: number;
}

let sending: ByteCounter | undefined;
let lastReceivedBytes = 0;

const WRAPPED = Symbol('grpc-resilience.metrics.sizes');

type Definition = InterceptorOptions['method_definition'] & { [WRAPPED]?: true };

type Serialize = Definition['requestSerialize'];
type Deserialize = Definition['responseDeserialize'];

/**
 * The counting versions of a method's functions, made once per function: grpc-js builds a new
 * definition for every call but hands it the same (de)serializer, so a call allocates nothing.
 */
const countingSerializers = new WeakMap<Serialize, Serialize>();
const countingDeserializers = new WeakMap<Deserialize, Deserialize>();

/** Wraps the call's (de)serializer once, so sizes can be counted; false if it cannot be. */
export function countSizesOf(definition: Definition): boolean {
  if (definition[WRAPPED]) return true;
  if (Object.isFrozen(definition)) return false;
  const deserialize = definition.responseDeserialize;
  let measuring = countingDeserializers.get(deserialize);
  if (!measuring) {
    measuring = (bytes: Buffer) => {
      lastReceivedBytes = bytes.length;
      return deserialize(bytes);
    };
    countingDeserializers.set(deserialize, measuring);
  }
  definition.requestSerialize = countingSerializer(definition.requestSerialize);
  definition.responseDeserialize = measuring;
  definition[WRAPPED] = true;
  return true;
}

/**
 * The counting version of a serializer (one per function, shared by client and server): the
 * bytes it returns count toward the counter between {@link beginCounting} and
 * {@link endCounting}.
 */
export function countingSerializer(serialize: Serialize): Serialize {
  let counting = countingSerializers.get(serialize);
  if (!counting) {
    counting = (message: unknown) => {
      const bytes = serialize(message);
      if (sending !== undefined) sending.sentBytes += bytes.length;
      return bytes;
    };
    countingSerializers.set(serialize, counting);
  }
  return counting;
}

/** From here until {@link endCounting}, serialized bytes count toward `counter`. */
export function beginCounting(counter: ByteCounter): ByteCounter | undefined {
  const previous = sending;
  sending = counter;
  return previous;
}

/** Ends what {@link beginCounting} began; pass what it returned. */
export function endCounting(previous: ByteCounter | undefined): void {
  sending = previous;
}

/**
 * The size of the message grpc-js just deserialized: grpc-js hands it to the listeners right
 * after, synchronously, so the innermost listener reads its own message's size.
 */
export function takeReceivedBytes(): number {
  const bytes = lastReceivedBytes;
  lastReceivedBytes = 0;
  return bytes;
}
