/** Growable big-endian writer. */
import { InvalidMessageError } from '../errors.js';

export class Writer {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf[this.pos++] = (v >>> 24) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  /** 48-bit unsigned integer. */
  u48(v: number): this {
    const hi = Math.floor(v / 0x100000000);
    this.u16(hi);
    return this.u32(v >>> 0);
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Writes a length prefix of `width` bytes, then whatever `fn` writes; checks the length fits. */
  lengthPrefixed(width: 1 | 2 | 3, fn: (w: this) => void): this {
    this.ensure(width);
    const at = this.pos;
    this.pos += width;
    fn(this);
    const n = this.pos - at - width;
    const max = width === 1 ? 0xff : width === 2 ? 0xffff : 0xffffff;
    if (n > max) throw new InvalidMessageError(`vector of ${n} bytes does not fit a ${width}-byte length`);
    for (let i = width - 1; i >= 0; i--) this.buf[at + (width - 1 - i)] = (n >>> (8 * i)) & 0xff;
    return this;
  }

  vec8(b: Uint8Array): this {
    return this.lengthPrefixed(1, (w) => w.bytes(b));
  }

  vec16(b: Uint8Array): this {
    return this.lengthPrefixed(2, (w) => w.bytes(b));
  }

  vec24(b: Uint8Array): this {
    return this.lengthPrefixed(3, (w) => w.bytes(b));
  }

  /** A copy of what has been written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
