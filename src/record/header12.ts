/**
 * The DTLS 1.2 record header (RFC 6347 §4.1). Also the header of DTLS 1.0 records and of the plaintext
 * (epoch 0) records a DTLS 1.3 peer sends before its keys are ready. RFC 9146 connection-ID records
 * (content type tls12_cid) carry a CID between sequence_number and length and are not framed here.
 *
 *   struct {
 *        ContentType type;
 *        ProtocolVersion version;
 *        uint16 epoch;                                    // New field
 *        uint48 sequence_number;                          // New field
 *        uint16 length;
 *        opaque fragment[DTLSPlaintext.length];
 *      } DTLSPlaintext;
 *
 *   struct {
 *        ContentType type;
 *        ProtocolVersion version;
 *        uint16 epoch;                                    // New field
 *        uint48 sequence_number;                          // New field
 *        uint16 length;
 *        select (CipherSpec.cipher_type) {
 *          case block:  GenericBlockCipher;
 *          case aead:   GenericAEADCipher;                 // New field
 *        } fragment;
 *      } DTLSCiphertext;
 */

export const RECORD_HEADER_LENGTH = 13;

/** RFC 6347 §4.1 / RFC 5246 §6.2.1: the plaintext fragment of one record is at most 2^14 bytes. */
export const MAX_PLAINTEXT_LENGTH = 16384;
/** RFC 5246 §6.2.3: a protected fragment is at most 2^14 + 2048 bytes. */
export const MAX_CIPHERTEXT_LENGTH = 16384 + 2048;
/** The largest 48-bit sequence number, 2^48 - 1 (an exact JS number). */
export const MAX_SEQUENCE_NUMBER = 0xffff_ffff_ffff;
/** The largest DTLS 1.2 epoch (uint16). */
export const MAX_EPOCH = 0xffff;

export interface RecordHeader {
  contentType: number;
  version: number;
  epoch: number;
  /** 48-bit, exact as a JS number. */
  sequenceNumber: number;
  /** Length of the fragment that follows the header. */
  length: number;
}

export interface RawRecord {
  header: RecordHeader;
  /** The fragment (header.length bytes); a view into the datagram, not a copy. */
  fragment: Uint8Array;
  /** The whole record including its header; a view into the datagram, not a copy. */
  raw: Uint8Array;
}

/** Writes the 13-byte header at `offset` (the caller guarantees the room). Values are masked to their widths. */
export function writeRecordHeader(out: Uint8Array, offset: number, h: RecordHeader): void {
  writeHeaderFields(out, offset, h.contentType, h.version, h.epoch, h.sequenceNumber, h.length);
}

/** The same as `writeRecordHeader` without a header object (for the send path). */
export function writeHeaderFields(
  out: Uint8Array,
  offset: number,
  contentType: number,
  version: number,
  epoch: number,
  sequenceNumber: number,
  length: number,
): void {
  const hi = Math.floor(sequenceNumber / 0x1_0000_0000);
  const lo = sequenceNumber >>> 0;
  out[offset] = contentType;
  out[offset + 1] = version >>> 8;
  out[offset + 2] = version;
  out[offset + 3] = epoch >>> 8;
  out[offset + 4] = epoch;
  out[offset + 5] = hi >>> 8;
  out[offset + 6] = hi;
  out[offset + 7] = lo >>> 24;
  out[offset + 8] = lo >>> 16;
  out[offset + 9] = lo >>> 8;
  out[offset + 10] = lo;
  out[offset + 11] = length >>> 8;
  out[offset + 12] = length;
}

/** The uint48 sequence_number of the header at `o` (the caller guarantees the 13 bytes). */
export function readSequenceNumber(b: Uint8Array, o: number): number {
  return ((b[o + 5]! << 8) | b[o + 6]!) * 0x1_0000_0000 + ((b[o + 7]! << 24) >>> 0) + ((b[o + 8]! << 16) | (b[o + 9]! << 8) | b[o + 10]!);
}

/**
 * Reads a header at `offset`, or returns undefined when fewer than 13 bytes remain. It does not check
 * the fields (see `splitDatagram` for that).
 */
export function readRecordHeader(bytes: Uint8Array, offset = 0): RecordHeader | undefined {
  if (offset < 0 || bytes.length - offset < RECORD_HEADER_LENGTH) return undefined;
  const b = bytes;
  const o = offset;
  return {
    contentType: b[o]!,
    version: (b[o + 1]! << 8) | b[o + 2]!,
    epoch: (b[o + 3]! << 8) | b[o + 4]!,
    sequenceNumber: readSequenceNumber(b, o),
    length: (b[o + 11]! << 8) | b[o + 12]!,
  };
}

/** A fresh 13-byte encoding of `h`. */
export function encodeRecordHeader(h: RecordHeader): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_LENGTH);
  writeRecordHeader(out, 0, h);
  return out;
}
