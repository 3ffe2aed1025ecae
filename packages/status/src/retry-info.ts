import type { Metadata } from '@grpc/grpc-js';

/**
 * A server's retry hint in the rich error model: `google.rpc.Status` (code = 1, message = 2,
 * repeated `google.protobuf.Any` details = 3) serialized into the `grpc-status-details-bin`
 * trailer, with one detail `google.rpc.RetryInfo` (retry_delay = 1, a `google.protobuf.Duration`:
 * int64 seconds = 1, int32 nanos = 2). Field numbers from googleapis' `google/rpc/status.proto`,
 * `google/rpc/error_details.proto` and protobuf's `any.proto` / `duration.proto`. The wire format
 * is written by hand: four tiny messages do not justify a protobuf runtime in every client.
 */

/** Trailer that carries a serialized `google.rpc.Status` (the gRPC rich error model). */
export const STATUS_DETAILS_METADATA_KEY = 'grpc-status-details-bin';

/** gRFC A6's server pushback trailer: milliseconds to wait before a retry; negative means none. */
export const PUSHBACK_METADATA_KEY = 'grpc-retry-pushback-ms';

/** `google.protobuf.Any.type_url` of a `google.rpc.RetryInfo`. */
export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/** The longest delay a hint may ask for, in ms: what one Node timer can wait. */
const MAX_DELAY_MS = 2 ** 31 - 1;
const MAX_NANOS = 999_999_999;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/**
 * The `grpc-status-details-bin` value of a status that asks the client to wait `delayMs` before
 * retrying. A server sets it on the trailers of its error, beside the same `code` and `message`:
 * `metadata.set(STATUS_DETAILS_METADATA_KEY, retryInfoStatusDetails(code, message, 300))`.
 * `delayMs` must be a finite number from 0 to 2^31-1; sub-millisecond parts are kept as nanos.
 */
export function retryInfoStatusDetails(code: number, message: string, delayMs: number): Buffer {
  if (!Number.isInteger(code) || code < 0 || code > 16) {
    throw new RangeError(`code must be a gRPC status code from 0 to 16, received ${code}`);
  }
  if (!Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
    throw new RangeError(
      `delayMs must be a finite number from 0 to ${MAX_DELAY_MS}, received ${delayMs}`,
    );
  }
  const seconds = Math.floor(delayMs / 1000);
  const nanos = Math.round((delayMs - seconds * 1000) * 1e6);
  const duration = concat(varintField(1, seconds), varintField(2, nanos));
  const retryInfo = lenField(1, duration);
  const any = concat(lenField(1, Buffer.from(RETRY_INFO_TYPE_URL)), lenField(2, retryInfo));
  return concat(varintField(1, code), lenField(2, Buffer.from(message)), lenField(3, any));
}

/**
 * The server's `google.rpc.RetryInfo` delay in whole ms (rounded up: "at least"), read from the
 * `grpc-status-details-bin` trailer. `undefined` when there is no such trailer, no RetryInfo among
 * its details, or a RetryInfo without `retry_delay`. `'malformed'` when the trailer cannot be
 * decoded, or the delay is negative, has nanos out of range, or exceeds 2^31-1 ms: the server
 * said something about retrying that cannot be trusted, so the caller should not retry.
 * Only the first RetryInfo counts.
 */
export function readRetryInfoMs(metadata: Metadata | undefined): number | 'malformed' | undefined {
  const value = metadata?.get(STATUS_DETAILS_METADATA_KEY)[0];
  if (value === undefined) return undefined;
  if (!Buffer.isBuffer(value)) return 'malformed';
  try {
    return findRetryInfo(value);
  } catch {
    return 'malformed';
  }
}

/** Raised inside the decoder on bytes that are not valid protobuf; never leaves this module. */
class WireError extends Error {}

function findRetryInfo(status: Buffer): number | 'malformed' | undefined {
  let found: Buffer | undefined;
  forEachField(status, (field, wire, reader) => {
    if (field !== 3 || wire !== WIRE_LEN) return reader.skip(wire);
    const any = reader.bytes();
    if (found !== undefined) return;
    let typeUrl: string | undefined;
    let payload: Buffer = Buffer.alloc(0);
    forEachField(any, (f, w, r) => {
      if (f === 1 && w === WIRE_LEN) typeUrl = r.bytes().toString();
      else if (f === 2 && w === WIRE_LEN) payload = r.bytes();
      else r.skip(w);
    });
    if (typeUrl === RETRY_INFO_TYPE_URL) found = payload;
  });
  if (found === undefined) return undefined;
  let duration: Buffer | undefined;
  forEachField(found, (field, wire, reader) => {
    if (field === 1 && wire === WIRE_LEN) duration = reader.bytes();
    else reader.skip(wire);
  });
  if (duration === undefined) return undefined;
  let seconds = 0;
  let nanos = 0;
  forEachField(duration, (field, wire, reader) => {
    if (field === 1 && wire === WIRE_VARINT) seconds = reader.varint();
    else if (field === 2 && wire === WIRE_VARINT) nanos = reader.varint();
    else reader.skip(wire);
  });
  // Negative int64/int32 values arrive as 10-byte varints, far above any bound below.
  if (nanos > MAX_NANOS) return 'malformed';
  const ms = Math.ceil(seconds * 1000 + nanos / 1e6);
  return ms > MAX_DELAY_MS ? 'malformed' : ms;
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** An unsigned varint as a number (exact up to 2^53, which is all the bounds above need). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new WireError('truncated varint');
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new WireError('varint too long');
  }

  bytes(): Buffer {
    const length = this.varint();
    if (this.pos + length > this.buf.length) throw new WireError('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_LEN) this.bytes();
    else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      this.pos += wire === WIRE_FIXED64 ? 8 : 4;
      if (this.pos > this.buf.length) throw new WireError('truncated fixed field');
    } else throw new WireError(`unsupported wire type ${wire}`);
  }
}

function forEachField(
  buf: Buffer,
  visit: (field: number, wire: number, reader: Reader) => void,
): void {
  const reader = new Reader(buf);
  while (!reader.done) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    if (field === 0) throw new WireError('field number 0');
    visit(field, tag % 8, reader);
  }
}

function encodeVarint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A varint field; proto3 leaves zero values out. */
function varintField(field: number, value: number): Buffer {
  return value === 0
    ? Buffer.alloc(0)
    : concat(encodeVarint(field * 8 + WIRE_VARINT), encodeVarint(value));
}

function lenField(field: number, payload: Buffer): Buffer {
  return concat(encodeVarint(field * 8 + WIRE_LEN), encodeVarint(payload.length), payload);
}

function concat(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}
