/**
 * DTLS 1.2 handshake message header and fragments (RFC 6347 §4.2.2).
 *
 * A handshake record carries one or more fragments, each with the 12-byte DTLS header. The transcript hashes
 * every message in its unfragmented form (fragment_offset 0, fragment_length = length), whatever fragmentation
 * was used on the wire (RFC 6347 §4.2.6); `encodeHandshakeMessage` produces exactly that form.
 */
import { InvalidMessageError } from '../errors.js';
import { Reader } from './reader.js';

export const HANDSHAKE_HEADER_LENGTH = 12;

/** Largest value of a uint24 field. */
const MAX_U24 = 0xffffff;

/**
 * One fragment of a handshake message as it appears in a record.
 *
 * ```
 * struct {
 *   HandshakeType msg_type;
 *   uint24 length;
 *   uint16 message_seq;                               // New field
 *   uint24 fragment_offset;                           // New field
 *   uint24 fragment_length;                           // New field
 *   select (HandshakeType) { ... } body;
 * } Handshake;
 * ```
 */
export interface HandshakeFragment {
  msgType: number;
  /** Length of the whole message body (not of this fragment). */
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  fragmentLength: number;
  /** The fragment bytes: a view into the record payload, not a copy. */
  body: Uint8Array;
}

/**
 * Splits a handshake record's plaintext into its fragments. Every fragment must fit in the record and satisfy
 * fragment_offset + fragment_length <= length; an empty payload is malformed (RFC 5246 §6.2.1 forbids
 * zero-length handshake records). Throws InvalidMessageError naming the field.
 */
export function decodeHandshakeFragments(recordPayload: Uint8Array): HandshakeFragment[] {
  if (recordPayload.length === 0) throw new InvalidMessageError('empty handshake record');
  const r = new Reader(recordPayload);
  const out: HandshakeFragment[] = [];
  while (!r.atEnd()) {
    const msgType = r.u8('Handshake.msg_type');
    const length = r.u24('Handshake.length');
    const messageSeq = r.u16('Handshake.message_seq');
    const fragmentOffset = r.u24('Handshake.fragment_offset');
    const fragmentLength = r.u24('Handshake.fragment_length');
    if (fragmentOffset + fragmentLength > length) {
      throw new InvalidMessageError(
        `Handshake.fragment_offset ${fragmentOffset} + fragment_length ${fragmentLength} exceeds length ${length}`,
      );
    }
    const body = r.bytesN(fragmentLength, 'Handshake.body');
    out.push({ msgType, length, messageSeq, fragmentOffset, fragmentLength, body });
  }
  return out;
}

/** Writes one fragment (header + body). fragment_length is body.length. */
export function encodeHandshakeFragment(
  msgType: number,
  length: number,
  messageSeq: number,
  fragmentOffset: number,
  body: Uint8Array,
): Uint8Array {
  const fragmentLength = body.length;
  if (
    !isUint(msgType, 0xff) ||
    !isUint(length, MAX_U24) ||
    !isUint(messageSeq, 0xffff) ||
    !isUint(fragmentOffset, MAX_U24) ||
    fragmentOffset + fragmentLength > length
  ) {
    throw new InvalidMessageError(
      `bad handshake fragment header: type ${msgType} length ${length} seq ${messageSeq} offset ${fragmentOffset} fragment_length ${fragmentLength}`,
    );
  }
  const out = new Uint8Array(HANDSHAKE_HEADER_LENGTH + fragmentLength);
  out[0] = msgType;
  out[1] = length >>> 16;
  out[2] = (length >>> 8) & 0xff;
  out[3] = length & 0xff;
  out[4] = messageSeq >>> 8;
  out[5] = messageSeq & 0xff;
  out[6] = fragmentOffset >>> 16;
  out[7] = (fragmentOffset >>> 8) & 0xff;
  out[8] = fragmentOffset & 0xff;
  out[9] = fragmentLength >>> 16;
  out[10] = (fragmentLength >>> 8) & 0xff;
  out[11] = fragmentLength & 0xff;
  out.set(body, HANDSHAKE_HEADER_LENGTH);
  return out;
}

/** The unfragmented form of a message (offset 0, fragment_length = length): what the DTLS 1.2 transcript hashes. */
export function encodeHandshakeMessage(msgType: number, messageSeq: number, body: Uint8Array): Uint8Array {
  return encodeHandshakeFragment(msgType, body.length, messageSeq, 0, body);
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}
