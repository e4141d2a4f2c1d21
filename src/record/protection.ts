/**
 * AEAD record protection for DTLS 1.2: AES-GCM (RFC 5288), AES-CCM and AES-CCM-8 (RFC 6655),
 * ChaCha20-Poly1305 (RFC 7905), with the DTLS sequence number of RFC 6347 §4.1.2.1.
 *
 * RFC 5246 §6.2.3.3:
 *
 *   struct {
 *      opaque nonce_explicit[SecurityParameters.record_iv_length];
 *      aead-ciphered struct {
 *          opaque content[TLSCompressed.length];
 *      };
 *   } GenericAEADCipher;
 *
 *   additional_data = seq_num + TLSCompressed.type +
 *                     TLSCompressed.version + TLSCompressed.length;
 *
 * where for DTLS seq_num is "the 64-bit value formed by concatenating the epoch and the sequence number in the
 * order they appear on the wire" (RFC 6347 §4.1.2.1), i.e. epoch(2) ‖ sequence_number(6), and length is the
 * plaintext length.
 *
 * Nonces. RFC 5288 §3 (GCM) and RFC 6655 §3 (CCM):
 *
 *   struct {
 *      opaque salt[4];
 *      opaque nonce_explicit[8];
 *   } GCMNonce;
 *
 * The salt is the 4-byte fixed IV from the key block; nonce_explicit is sent in the clear at the start of the
 * fragment. We always send epoch ‖ sequence_number there (never random bytes; REFERENCES §7), and on receive we
 * use the 8 bytes as they are on the wire, since a peer may choose any unique value.
 *
 * RFC 7905 §2 (ChaCha20-Poly1305): the 64-bit record sequence number (for DTLS, epoch ‖ sequence_number) is
 * left-padded with four zero bytes and XORed with the 12-byte fixed IV; record_iv_length is 0, nothing explicit
 * is sent.
 *
 * Hot path: each instance owns one 12-byte nonce buffer and one 13-byte additional-data buffer that are
 * rewritten per record, so a seal costs the AEAD's own output plus the record (or none when using `sealInto`
 * with a caller's datagram buffer), and an open costs the AEAD's plaintext only. This relies on the `Aead`
 * using nonce and aad synchronously and not keeping references to them (node:crypto ciphers do not).
 */
import { InternalError } from '../errors.js';
import type { Aead } from '../crypto/provider.js';
import type { CipherSuite } from '../crypto/suites.js';
import {
  MAX_EPOCH,
  MAX_PLAINTEXT_LENGTH,
  MAX_SEQUENCE_NUMBER,
  RECORD_HEADER_LENGTH,
  writeHeaderFields,
  type RecordHeader,
} from './header12.js';

const NONCE_LENGTH = 12;
const AAD_LENGTH = 13;
/** ContentType.application_data (RFC 5246 §6.2.1). */
const APPLICATION_DATA = 23;

export class RecordProtection12 {
  readonly suite: CipherSuite;
  /** Bytes added to the plaintext inside the fragment: recordIvLength + tagLength. */
  readonly overhead: number;
  private readonly aead: Aead;
  private readonly recordIvLength: number;
  private readonly tagLength: number;
  /** fixed_iv ‖ (explicit nonce) for GCM/CCM; fixed_iv XOR padded seq for ChaCha20. Rewritten per record. */
  private readonly nonce: Uint8Array;
  /** The 12-byte ChaCha20 IV, or the 4-byte GCM/CCM salt. */
  private readonly fixedIv: Uint8Array;
  private readonly aad: Uint8Array;
  /** Plaintext length (-1: none yet) and version of the last application_data record sealed, and opened. */
  private sealedDataLength = -1;
  private sealedDataVersion = 0;
  private openedDataLength = -1;
  private openedDataVersion = 0;

  /**
   * `aead` is keyed with the write key (for sealing) or the peer's write key (for opening); `fixedIv` is the
   * matching client/server write IV from the key block (RFC 5246 §6.3), 4 or 12 bytes as the suite says.
   * Throws InternalError when the three do not fit together.
   */
  constructor(suite: CipherSuite, aead: Aead, fixedIv: Uint8Array) {
    if (aead.algorithm !== suite.aead) {
      throw new InternalError(`AEAD ${aead.algorithm} does not match suite ${suite.name} (${suite.aead})`);
    }
    if (aead.tagLength !== suite.tagLength) {
      throw new InternalError(`AEAD tag length ${aead.tagLength} does not match suite ${suite.name} (${suite.tagLength})`);
    }
    if (fixedIv.length !== suite.fixedIvLength) {
      throw new InternalError(`fixed IV of ${fixedIv.length} bytes for ${suite.name}, which needs ${suite.fixedIvLength}`);
    }
    if (suite.recordIvLength !== 0 && suite.recordIvLength + suite.fixedIvLength !== NONCE_LENGTH) {
      throw new InternalError(`${suite.name}: fixed IV + explicit nonce is not 12 bytes`);
    }
    if (suite.recordIvLength === 0 && suite.fixedIvLength !== NONCE_LENGTH) {
      throw new InternalError(`${suite.name}: implicit nonce is not 12 bytes`);
    }
    this.suite = suite;
    this.aead = aead;
    this.recordIvLength = suite.recordIvLength;
    this.tagLength = suite.tagLength;
    this.overhead = suite.recordIvLength + suite.tagLength;
    // One buffer for the three (a connection keeps two of these for its lifetime: one allocation each, not three).
    const bytes = new Uint8Array(NONCE_LENGTH + AAD_LENGTH + fixedIv.length);
    this.nonce = bytes.subarray(0, NONCE_LENGTH);
    this.aad = bytes.subarray(NONCE_LENGTH, NONCE_LENGTH + AAD_LENGTH);
    this.fixedIv = bytes.subarray(NONCE_LENGTH + AAD_LENGTH);
    this.fixedIv.set(fixedIv);
    this.nonce.set(this.fixedIv, 0);
  }

  /** Size of the whole record (header included) that protects `plaintextLength` bytes. */
  recordLength(plaintextLength: number): number {
    return RECORD_HEADER_LENGTH + this.overhead + plaintextLength;
  }

  /** The most plaintext that fits in a record of at most `recordBytes` bytes (header included); may be ≤ 0. */
  maxPlaintext(recordBytes: number): number {
    return Math.min(MAX_PLAINTEXT_LENGTH, recordBytes - RECORD_HEADER_LENGTH - this.overhead);
  }

  /**
   * Protects `plaintext` and returns the complete record (13-byte header ‖ explicit nonce ‖ ciphertext ‖ tag)
   * as a new Uint8Array of exactly `recordLength(plaintext.length)` bytes (for small records a view into node's
   * Buffer pool: honour byteOffset/byteLength if you touch `.buffer`). To build a datagram of several records
   * without the extra buffer, use `sealInto`. Throws InternalError for arguments out of range (a caller bug).
   */
  seal(contentType: number, version: number, epoch: number, seq: number, plaintext: Uint8Array): Uint8Array {
    const out = allocRecord(this.recordLength(plaintext.length));
    this.sealInto(out, 0, contentType, version, epoch, seq, plaintext);
    return out;
  }

  /**
   * Writes the complete protected record into `out` at `offset` (for instance the datagram being assembled)
   * and returns the bytes written, `recordLength(plaintext.length)`. The AEAD writes ciphertext and tag straight
   * into `out` (node:crypto's own output buffers are the only allocations). Throws InternalError when `out` is
   * too small or an argument is out of range.
   */
  sealInto(
    out: Uint8Array,
    offset: number,
    contentType: number,
    version: number,
    epoch: number,
    seq: number,
    plaintext: Uint8Array,
  ): number {
    checkRecordArgs(epoch, seq, plaintext.length);
    const total = RECORD_HEADER_LENGTH + this.overhead + plaintext.length;
    if (!(offset >= 0) || offset + total > out.length) {
      throw new InternalError(`no room for a ${total}-byte record at offset ${offset} of ${out.length}`);
    }
    const hi = Math.floor(seq / 0x1_0000_0000);
    const lo = seq >>> 0;
    this.fillNonceAndAad(contentType, version, epoch, hi, lo, plaintext.length);
    const ivLen = this.recordIvLength;
    const body = offset + RECORD_HEADER_LENGTH;
    const sealedLength = this.aead.sealInto(this.nonce, this.aad, plaintext, out, body + ivLen);
    if (RECORD_HEADER_LENGTH + ivLen + sealedLength !== total) {
      throw new InternalError(`AEAD wrote ${sealedLength} bytes for ${plaintext.length} bytes of plaintext`);
    }
    writeHeaderFields(out, offset, contentType, version, epoch, seq, ivLen + sealedLength);
    if (contentType === APPLICATION_DATA) {
      this.sealedDataLength = plaintext.length;
      this.sealedDataVersion = version;
    }
    if (ivLen !== 0) {
      // nonce_explicit = epoch ‖ sequence_number, the last 8 bytes of the GCM/CCM nonce.
      const n = this.nonce;
      for (let i = 0; i < 8; i++) out[body + i] = n[4 + i]!;
    }
    return total;
  }

  /**
   * Has the AEAD prepare, off the record's path, the seal of record (epoch, seq) — the next one this side sends
   * (see Aead.prepare; a no-op for an AEAD without it). Call it when idle, e.g. right after a datagram went out.
   */
  prepareSeal(epoch: number, seq: number): void {
    this.prepare('seal', epoch, seq);
  }

  /**
   * The same for opening the peer's record (epoch, seq), assuming its explicit nonce is epoch ‖ seq, as RFC 5288
   * §3 suggests and OpenSSL, GnuTLS and this stack do; a peer that numbers otherwise only misses the preparation.
   */
  prepareOpen(epoch: number, seq: number): void {
    this.prepare('open', epoch, seq);
  }

  /**
   * The nonce of record (epoch, seq), handed to the AEAD's prepare; out-of-range numbers are ignored. Once an
   * application_data record went this way, the additional data too, guessing that the next one is application
   * data of the same length (echoes, requests and replies, media frames): a wrong guess only costs the
   * preparation.
   */
  private prepare(direction: 'seal' | 'open', epoch: number, seq: number): void {
    if (this.aead.prepare === undefined || !(seq >= 0 && seq <= MAX_SEQUENCE_NUMBER)) return;
    const seal = direction === 'seal';
    const length = seal ? this.sealedDataLength : this.openedDataLength;
    const version = seal ? this.sealedDataVersion : this.openedDataVersion;
    this.fillNonceAndAad(APPLICATION_DATA, version, epoch, Math.floor(seq / 0x1_0000_0000), seq >>> 0, Math.max(0, length));
    this.aead.prepare(this.nonce, direction, length >= 0 ? this.aad : undefined);
  }

  /**
   * Authenticates and decrypts one record's fragment. `header` is the header as received (its epoch, sequence
   * number, type and version are authenticated as additional data). Returns the plaintext, or undefined when
   * the fragment is too short, `header.length` does not match the fragment, the plaintext would exceed 2^14
   * bytes (RFC 6347 §4.1 / RFC 5246 §6.2.3), or the tag does not verify. Never throws.
   */
  open(header: RecordHeader, fragment: Uint8Array): Uint8Array | undefined {
    if (header.length !== fragment.length) return undefined;
    return this.openFragment(header.contentType, header.version, header.epoch, header.sequenceNumber, fragment);
  }

  /**
   * `open` with the header's fields given one by one (for a receive path that reads them straight from the
   * datagram, without a header object); the caller has checked that the header's length is the fragment's.
   */
  openFragment(contentType: number, version: number, epoch: number, seq: number, fragment: Uint8Array): Uint8Array | undefined {
    const ivLen = this.recordIvLength;
    const plaintextLength = fragment.length - ivLen - this.tagLength;
    if (plaintextLength < 0 || plaintextLength > MAX_PLAINTEXT_LENGTH) return undefined;
    if (!(seq >= 0 && seq <= MAX_SEQUENCE_NUMBER) || !(epoch >= 0 && epoch <= MAX_EPOCH)) return undefined;
    const hi = Math.floor(seq / 0x1_0000_0000);
    const lo = seq >>> 0;
    this.fillNonceAndAad(contentType, version, epoch, hi, lo, plaintextLength);
    if (ivLen !== 0) {
      // GCM/CCM: the explicit nonce is whatever the sender put on the wire.
      const n = this.nonce;
      for (let i = 0; i < 8; i++) n[4 + i] = fragment[i]!;
    }
    let plaintext: Uint8Array | undefined;
    try {
      plaintext = this.aead.open(this.nonce, this.aad, ivLen === 0 ? fragment : fragment.subarray(ivLen));
    } catch {
      return undefined;
    }
    if (plaintext !== undefined && contentType === APPLICATION_DATA) {
      this.openedDataLength = plaintextLength;
      this.openedDataVersion = version;
    }
    return plaintext;
  }

  /**
   * additional_data = epoch(2) ‖ sequence_number(6) ‖ type(1) ‖ version(2) ‖ length(2), and the nonce:
   * GCM/CCM salt ‖ epoch ‖ seq (open overwrites the explicit part afterwards), or ChaCha20 IV XOR 0^4 ‖ epoch ‖ seq.
   */
  private fillNonceAndAad(
    contentType: number,
    version: number,
    epoch: number,
    hi: number,
    lo: number,
    plaintextLength: number,
  ): void {
    const a = this.aad;
    a[0] = epoch >>> 8;
    a[1] = epoch;
    a[2] = hi >>> 8;
    a[3] = hi;
    a[4] = lo >>> 24;
    a[5] = lo >>> 16;
    a[6] = lo >>> 8;
    a[7] = lo;
    a[8] = contentType;
    a[9] = version >>> 8;
    a[10] = version;
    a[11] = plaintextLength >>> 8;
    a[12] = plaintextLength;
    const n = this.nonce;
    if (this.recordIvLength !== 0) {
      for (let i = 0; i < 8; i++) n[4 + i] = a[i]!;
    } else {
      const iv = this.fixedIv;
      for (let i = 0; i < 8; i++) n[4 + i] = iv[4 + i]! ^ a[i]!;
    }
  }
}

/**
 * An uninitialised buffer for a record that the caller overwrites completely (sealInto and writePlaintextRecord
 * write every byte of `length`, or throw and the buffer is dropped). Small ones come from node's Buffer pool,
 * which is several times cheaper than a zero-filled Uint8Array; returned as a plain Uint8Array view.
 */
function allocRecord(length: number): Uint8Array {
  const b = Buffer.allocUnsafe(length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}

function checkRecordArgs(epoch: number, seq: number, plaintextLength: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) throw new InternalError(`epoch ${epoch} out of range`);
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQUENCE_NUMBER) {
    throw new InternalError(`sequence number ${seq} out of range`);
  }
  if (plaintextLength > MAX_PLAINTEXT_LENGTH) {
    throw new InternalError(`record plaintext of ${plaintextLength} bytes exceeds 2^14`);
  }
}

/**
 * An unprotected record (DTLSPlaintext, RFC 6347 §4.1) — the epoch-0 handshake, HelloVerifyRequest, alerts
 * before keys exist. Returns header ‖ payload in a new buffer. Throws InternalError for out-of-range arguments.
 */
export function sealPlaintextRecord(
  contentType: number,
  version: number,
  epoch: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array {
  const out = allocRecord(RECORD_HEADER_LENGTH + payload.length);
  writePlaintextRecord(out, 0, contentType, version, epoch, seq, payload);
  return out;
}

/** Like `sealPlaintextRecord`, writing into `out` at `offset`; returns the bytes written. */
export function writePlaintextRecord(
  out: Uint8Array,
  offset: number,
  contentType: number,
  version: number,
  epoch: number,
  seq: number,
  payload: Uint8Array,
): number {
  checkRecordArgs(epoch, seq, payload.length);
  const total = RECORD_HEADER_LENGTH + payload.length;
  if (!(offset >= 0) || offset + total > out.length) {
    throw new InternalError(`no room for a ${total}-byte record at offset ${offset} of ${out.length}`);
  }
  writeHeaderFields(out, offset, contentType, version, epoch, seq, payload.length);
  out.set(payload, offset + RECORD_HEADER_LENGTH);
  return total;
}
