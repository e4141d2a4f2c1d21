/**
 * Bounds-checked big-endian reader over a Uint8Array. Never throws RangeError: any overrun throws one
 * InvalidMessageError naming the field being read.
 */
import { InvalidMessageError } from '../errors.js';

export class Reader {
  private pos: number;
  private readonly end: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, field: string): number {
    const p = this.pos;
    if (n < 0 || p + n > this.end) throw new InvalidMessageError(`truncated ${field}: need ${n} bytes, have ${this.end - p}`);
    this.pos = p + n;
    return p;
  }

  u8(field: string): number {
    return this.bytes[this.need(1, field)]!;
  }

  u16(field: string): number {
    const p = this.need(2, field);
    return (this.bytes[p]! << 8) | this.bytes[p + 1]!;
  }

  u24(field: string): number {
    const p = this.need(3, field);
    return (this.bytes[p]! << 16) | (this.bytes[p + 1]! << 8) | this.bytes[p + 2]!;
  }

  u32(field: string): number {
    const p = this.need(4, field);
    return ((this.bytes[p]! << 24) >>> 0) + ((this.bytes[p + 1]! << 16) | (this.bytes[p + 2]! << 8) | this.bytes[p + 3]!);
  }

  /** 48-bit unsigned integer (exact in a JS number). */
  u48(field: string): number {
    const p = this.need(6, field);
    const b = this.bytes;
    return (
      ((b[p]! << 8) | b[p + 1]!) * 0x100000000 +
      ((b[p + 2]! << 24) >>> 0) +
      ((b[p + 3]! << 16) | (b[p + 4]! << 8) | b[p + 5]!)
    );
  }

  /** n raw bytes (a view, not a copy). */
  bytesN(n: number, field: string): Uint8Array {
    const p = this.need(n, field);
    return this.bytes.subarray(p, p + n);
  }

  /** All remaining bytes (a view). */
  rest(): Uint8Array {
    const p = this.pos;
    this.pos = this.end;
    return this.bytes.subarray(p, this.end);
  }

  /** opaque field<0..2^8-1> as a view */
  vec8(field: string): Uint8Array {
    return this.bytesN(this.u8(field), field);
  }

  vec16(field: string): Uint8Array {
    return this.bytesN(this.u16(field), field);
  }

  vec24(field: string): Uint8Array {
    return this.bytesN(this.u24(field), field);
  }

  /** A sub-reader over a length-prefixed vector (width 1, 2 or 3 bytes). */
  sub(width: 1 | 2 | 3, field: string): Reader {
    const n = width === 1 ? this.u8(field) : width === 2 ? this.u16(field) : this.u24(field);
    const p = this.need(n, field);
    return new Reader(this.bytes, p, p + n);
  }

  /** Throws unless every byte has been consumed. */
  expectEnd(field: string): void {
    if (this.pos !== this.end) throw new InvalidMessageError(`${this.end - this.pos} trailing bytes after ${field}`);
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }
}
