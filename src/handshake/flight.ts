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
   * The flight as records whose payload fits `maxPayload(epoch)` bytes (the room left in one datagram for a
   * record of that epoch after its header and protection overhead).
   */
  toRecords(maxPayload: (epoch: number) => number): OutgoingRecord[] {
    const out: OutgoingRecord[] = [];
    for (const e of this.entries) {
      if (e.kind === 'ccs') {
        out.push({ contentType: ContentType.change_cipher_spec, epoch: e.epoch, payload: CHANGE_CIPHER_SPEC_PAYLOAD });
        continue;
      }
      const room = Math.max(1, maxPayload(e.epoch) - HANDSHAKE_HEADER_LENGTH);
      const length = e.body.length;
      let offset = 0;
      do {
        const n = Math.min(room, length - offset);
        out.push({
          contentType: ContentType.handshake,
          epoch: e.epoch,
          payload: encodeHandshakeFragment(e.msgType, length, e.messageSeq, offset, e.body.subarray(offset, offset + n)),
        });
        offset += n;
      } while (offset < length);
    }
    return out;
  }
}
