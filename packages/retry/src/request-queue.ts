/**
 * The request messages of one call that an attempt may still need, by position in the call (0
 * for the first message the caller wrote). Before a commit it holds every message, for replay;
 * after, only those not yet handed to the committed attempt. Counts their serialized bytes.
 */
export class RequestQueue {
  private messages: unknown[] = [];
  private sizes: number[] = [];
  /** Position of messages[0]. */
  private base = 0;
  /** Serialized bytes of the messages held. */
  bytes = 0;

  /** Position after the last message written by the caller. */
  get end(): number {
    return this.base + this.messages.length;
  }

  /** Keeps a message; returns its position. */
  push(message: unknown, size: number): number {
    this.messages.push(message);
    this.sizes.push(size);
    this.bytes += size;
    return this.end - 1;
  }

  /** The message at `position`, which must still be held. */
  at(position: number): unknown {
    return this.messages[position - this.base];
  }

  /** Forgets the messages before `position` (handed to the only attempt that will need them). */
  dropBefore(position: number): void {
    const count = Math.min(position - this.base, this.messages.length);
    if (count <= 0) return;
    if (count === this.messages.length) {
      // The common case (every message handed over, or the call over): no new arrays.
      this.messages.length = 0;
      this.sizes.length = 0;
      this.bytes = 0;
      this.base += count;
      return;
    }
    for (let i = 0; i < count; i++) this.bytes -= this.sizes[i];
    this.messages.splice(0, count);
    this.sizes.splice(0, count);
    this.base += count;
  }

  /** Forgets everything (the call ended or was cancelled); later positions continue after it. */
  clear(): void {
    this.dropBefore(this.end);
  }
}
