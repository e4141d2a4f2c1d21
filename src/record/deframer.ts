/**
 * Splits one UDP datagram into DTLS 1.2 records (RFC 6347 §4.1.1: "Multiple DTLS records may be placed in a
 * single datagram. They are simply encoded consecutively. The DTLS record framing is sufficient to determine
 * the boundaries.").
 *
 *   struct {
 *        ContentType type;
 *        ProtocolVersion version;
 *        uint16 epoch;
 *        uint48 sequence_number;
 *        uint16 length;
 *        opaque fragment[DTLSPlaintext.length];
 *      } DTLSPlaintext;
 *
 * Nothing here authenticates anything: the caller checks epoch, replay and the AEAD tag. Framing problems are
 * reported through `malformed`, never thrown, because a bad datagram must be discarded silently and counted
 * (RFC 6347 §4.1.2.7).
 */
import { MAX_CIPHERTEXT_LENGTH, RECORD_HEADER_LENGTH, readSequenceNumber, type RawRecord } from './header12.js';

/** Lowest and highest content type accepted: change_cipher_spec (20) .. ack (26). */
const MIN_CONTENT_TYPE = 20;
const MAX_CONTENT_TYPE = 26;

export interface SplitResult {
  /** Every well-framed record before the first problem, in datagram order. Views into the datagram. */
  records: RawRecord[];
  /**
   * True when framing stopped early: a truncated header, a length running past the datagram, a content type
   * outside 20..26, or a length above 2^14 + 2048. Records after that point are not returned.
   */
  malformed: boolean;
}

/**
 * Frames the records of one datagram. Views only: fragments and raw records share the datagram's memory, so
 * the caller must not reuse the datagram buffer while records are still in use. Never throws.
 */
export function splitDatagram(datagram: Uint8Array): SplitResult {
  const records: RawRecord[] = [];
  const b = datagram;
  const end = b.length;
  let o = 0;
  while (o < end) {
    if (end - o < RECORD_HEADER_LENGTH) return { records, malformed: true };
    const contentType = b[o]!;
    if (contentType < MIN_CONTENT_TYPE || contentType > MAX_CONTENT_TYPE) return { records, malformed: true };
    const length = (b[o + 11]! << 8) | b[o + 12]!;
    if (length > MAX_CIPHERTEXT_LENGTH) return { records, malformed: true };
    const fragmentStart = o + RECORD_HEADER_LENGTH;
    const recordEnd = fragmentStart + length;
    if (recordEnd > end) return { records, malformed: true };
    records.push({
      header: {
        contentType,
        version: (b[o + 1]! << 8) | b[o + 2]!,
        epoch: (b[o + 3]! << 8) | b[o + 4]!,
        sequenceNumber: readSequenceNumber(b, o),
        length,
      },
      fragment: b.subarray(fragmentStart, recordEnd),
      raw: b.subarray(o, recordEnd),
    });
    o = recordEnd;
  }
  return { records, malformed: false };
}
