import { deserialize, serialize } from 'node:v8';
import { Metadata, type MetadataValue } from '@grpc/grpc-js';
import type { StoredOutcome } from '@grpc-resilience/idempotency';

/**
 * Turns a stored outcome into bytes for Redis and back. The dedup interceptor stores the
 * handler's response objects (grpc-js gives servers no response deserializer, so replay hands
 * objects back to grpc-js to serialize), so the codec must rebuild objects that the method's
 * serializer accepts.
 */
export interface OutcomeCodec {
  encode(outcome: StoredOutcome): Buffer;
  decode(bytes: Buffer): StoredOutcome;
}

type MetadataJson = Record<string, MetadataValue[]>;

interface Encoded {
  v: 1;
  h?: MetadataJson;
  m: unknown[];
  c: number;
  d: string;
  t?: MetadataJson;
  b?: number;
}

/**
 * The default codec: V8's structured serialization (`node:v8`), which keeps plain objects,
 * arrays, strings, numbers, bigints, Buffers and typed arrays, Maps and Dates. That covers the
 * messages of @grpc/proto-loader and ts-proto. Messages that are class instances (google-protobuf
 * from grpc-tools) lose their prototype: give such a service a codec of its own (for example one
 * that stores `message.serializeBinary()` and rebuilds with `deserializeBinary`).
 */
export const v8OutcomeCodec: OutcomeCodec = Object.freeze({
  encode(outcome: StoredOutcome): Buffer {
    const encoded: Encoded = {
      v: 1,
      h: outcome.headers?.toJSON(),
      m: outcome.messages,
      c: outcome.status.code,
      d: outcome.status.details,
      t: outcome.status.metadata?.toJSON(),
      b: outcome.messageBytes,
    };
    return serialize(encoded);
  },
  decode(bytes: Buffer): StoredOutcome {
    const encoded = deserialize(bytes) as Encoded;
    if (encoded?.v !== 1) throw new TypeError('not an outcome this codec wrote');
    return {
      headers: encoded.h && toMetadata(encoded.h),
      messages: encoded.m,
      status: { code: encoded.c, details: encoded.d, metadata: toMetadata(encoded.t ?? {}) },
      messageBytes: encoded.b,
    };
  },
});

function toMetadata(json: MetadataJson): Metadata {
  const metadata = new Metadata();
  for (const [key, values] of Object.entries(json)) {
    for (const value of values) metadata.add(key, value);
  }
  return metadata;
}
