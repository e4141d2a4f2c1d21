/**
 * Anti-replay window (RFC 6347 §4.1.2.6), one per receive epoch.
 *
 *   "A bitmap window is used to accept only packets with sequence numbers within the window [...]. The
 *    'right' edge of the window represents the highest validated sequence number value received on this
 *    session. Records that contain sequence numbers lower than the 'left' edge of the window are rejected.
 *    Packets falling within the window are checked against a list of received packets within the window.
 *    [...] If the received record falls within the window and is new, or if the packet is to the right of the
 *    window, then the receiver proceeds to MAC verification. If the MAC validation fails, the receiver MUST
 *    discard the received record as invalid. The receive window is updated only if the MAC verification
 *    succeeds."
 *
 * Hence the two calls: `check(seq)` before decrypting, `mark(seq)` only after the record authenticated.
 *
 * The bitmap is circular: sequence number s lives at bit (s mod size). Moving the right edge forward by d
 * clears the d bits that enter the window (word by word), so an in-order record costs O(1) and a jump costs
 * O(min(d, size) / 32). Sequence numbers are JS numbers up to 2^48 - 1, all exact.
 */
import { ApiMisuseError } from '../errors.js';
import { MAX_SEQUENCE_NUMBER } from './header12.js';

export const DEFAULT_REPLAY_WINDOW = 64;
export const MIN_REPLAY_WINDOW = 32;
export const MAX_REPLAY_WINDOW = 4096;

export class ReplayWindow {
  /** Window width in sequence numbers (a multiple of 32 in 32..4096). */
  readonly size: number;
  private readonly bits: Uint32Array;
  /** The right edge: highest sequence number marked so far, or -1 before the first. */
  private top = -1;

  constructor(size = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < MIN_REPLAY_WINDOW || size > MAX_REPLAY_WINDOW || size % 32 !== 0) {
      throw new ApiMisuseError(
        'ERR_DTLS_INVALID_OPTION',
        `replay window size must be a multiple of 32 from ${MIN_REPLAY_WINDOW} to ${MAX_REPLAY_WINDOW}, got ${String(size)}`,
      );
    }
    this.size = size;
    this.bits = new Uint32Array(size >>> 5);
  }

  /** The highest authenticated sequence number seen, or undefined before the first. */
  get highest(): number | undefined {
    return this.top < 0 ? undefined : this.top;
  }

  /**
   * True if a record with this sequence number may be processed: it is right of the window, or inside it and
   * not yet marked. False for duplicates, for records left of the window, and for values that are not a
   * 48-bit unsigned integer. Does not change the window.
   */
  check(seq: number): boolean {
    if (!(seq >= 0 && seq <= MAX_SEQUENCE_NUMBER) || !Number.isInteger(seq)) return false;
    const top = this.top;
    if (seq > top) return true;
    if (top - seq >= this.size) return false;
    const idx = seq % this.size;
    return (this.bits[idx >>> 5]! & (1 << (idx & 31))) === 0;
  }

  /**
   * Records that `seq` was received and authenticated. Call only after the AEAD tag verified. Marking a number
   * left of the window, or an invalid one, does nothing.
   */
  mark(seq: number): void {
    if (!(seq >= 0 && seq <= MAX_SEQUENCE_NUMBER) || !Number.isInteger(seq)) return;
    const top = this.top;
    const size = this.size;
    if (seq > top) {
      const advance = seq - top;
      if (advance >= size) this.bits.fill(0);
      else this.clear((top + 1) % size, advance);
      this.top = seq;
    } else if (top - seq >= size) {
      return;
    }
    const idx = seq % size;
    this.bits[idx >>> 5] |= 1 << (idx & 31);
  }

  /** Clears `count` (< size) consecutive bits starting at bit index `idx`, wrapping around the ring. */
  private clear(idx: number, count: number): void {
    const bits = this.bits;
    const size = this.size;
    while (count > 0) {
      const bit = idx & 31;
      const n = Math.min(32 - bit, count);
      // n bits starting at `bit`; n === 32 only when bit === 0.
      const mask = n === 32 ? 0xffffffff : ((1 << n) - 1) << bit;
      bits[idx >>> 5] &= ~mask;
      count -= n;
      idx += n;
      if (idx >= size) idx -= size;
    }
  }
}
