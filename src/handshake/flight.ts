/**
 * Our current outgoing flight (RFC 6347 §4.2.4): the unit of retransmission. Messages are stored whole and are
 * fragmented to the MTU each time the flight is (re)sent, with fresh record sequence numbers every time.
 */
import { ContentType } from '../msgs/enums.js';
import { HANDSHAKE_HEADER_LENGTH, encodeHandshakeFragment } from '../msgs/handshake.js';
import { CHANGE_CIPHER_SPEC_PAYLOAD } from '../msgs/change-cipher-spec.js';

export type FlightEntry =
  | { readonly kind: 'handshake'; readonly msgType: number; readonly messageSeq: number; readonly body: Uint8Array; readonly epoch: number }
  | { readonly kind: 'ccs'; readonly epoch: number };

/** One record to send: content type, epoch and plaintext payload. */
export interface OutgoingRecord {
  readonly contentType: ContentType;
  readonly epoch: number;
  readonly payload: Uint8Array;
}

export class Flight {
  readonly entries: FlightEntry[] = [];
  /** Whether the peer answers this flight (false for the final flight of a handshake). */
  expectsReply = true;

  addHandshake(msgType: number, messageSeq: number, body: Uint8Array, epoch: number): void {
    this.entries.push({ kind: 'handshake', msgType, messageSeq, body, epoch });
  }

  addChangeCipherSpec(epoch: number): void {
    this.entries.push({ kind: 'ccs', epoch });
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  /**
   * The flight as records, planned so that packing them in order into datagrams of at most `mtu` bytes fills
   * each datagram: a message that does not fit the room left in the current datagram is fragmented to fill it
   * (unless less than MIN_FRAGMENT bytes of it would fit), the rest going on in the next datagrams.
   * `recordOverhead(epoch)` is the record header plus protection overhead of that epoch.
   */
  toRecords(mtu: number, recordOverhead: (epoch: number) => number): OutgoingRecord[] {
    const out: OutgoingRecord[] = [];
    let used = 0;
    for (const e of this.entries) {
      const overhead = recordOverhead(e.epoch);
      if (e.kind === 'ccs') {
        const size = overhead + CHANGE_CIPHER_SPEC_PAYLOAD.length;
        if (used + size > mtu) used = 0;
        out.push({ contentType: ContentType.change_cipher_spec, epoch: e.epoch, payload: CHANGE_CIPHER_SPEC_PAYLOAD });
        used += size;
        continue;
      }
      const length = e.body.length;
      const fixed = overhead + HANDSHAKE_HEADER_LENGTH;
      let offset = 0;
      do {
        let room = mtu - used - fixed;
        if (room < Math.min(length - offset, MIN_FRAGMENT)) {
          used = 0;
          room = mtu - fixed;
        }
        const remaining = length - offset;
        const n = remaining === 0 ? 0 : Math.max(1, Math.min(room, remaining));
        out.push({
          contentType: ContentType.handshake,
          epoch: e.epoch,
          payload: encodeHandshakeFragment(e.msgType, length, e.messageSeq, offset, e.body.subarray(offset, offset + n)),
        });
        used += fixed + n;
        offset += n;
      } while (offset < length);
    }
    return out;
  }
}

/** Smallest fragment worth starting at the end of a partly filled datagram. */
const MIN_FRAGMENT = 32;
