/** Characters outside Latin-1 make V8 store a string with two bytes a character. */
const TWO_BYTE_CHAR = /[\u0100-\uffff]/;
/** Decoded messages are trees; deeper than this is not a message worth walking further. */
const MAX_DEPTH = 64;

/**
 * What a decoded message holds on the V8 heap, estimated by walking it with 64-bit V8 sizes
 * rounded to 8: a string its header and characters, an array or object its slots and what they
 * point to, a byte field its buffer. A message of many short strings or small numbers holds
 * several times its serialized size as JS values, and the dedup store keeps the objects (the
 * server has no response deserializer to rebuild them from bytes), so its byte bound has to count
 * this, not only the wire size. Own enumerable properties only: a generated class's methods live
 * on its prototype, shared by every message.
 */
export function retainedBytes(value: unknown, depth = 0): number {
  if (typeof value === 'string') {
    const perChar = TWO_BYTE_CHAR.test(value) ? 2 : 1;
    return 16 + ((value.length * perChar + 7) & ~7);
  }
  if (typeof value !== 'object' || value === null) return 8;
  if (ArrayBuffer.isView(value)) return 96 + value.byteLength;
  if (depth >= MAX_DEPTH) return 0;
  if (Array.isArray(value)) {
    let bytes = 16 + 8 * value.length;
    for (const item of value) {
      if (typeof item === 'string' || (typeof item === 'object' && item !== null)) {
        bytes += retainedBytes(item, depth + 1);
      }
    }
    return bytes;
  }
  let bytes = 24;
  for (const key of Object.keys(value)) {
    bytes += 8 + retainedBytes((value as Record<string, unknown>)[key], depth + 1);
  }
  return bytes;
}
