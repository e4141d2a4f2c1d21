/**
 * The record AEADs on node:crypto (RFC 5116 interface): AES-GCM (RFC 5288 §3, NIST SP 800-38D), AES-128-CCM and
 * CCM_8 (RFC 6655 §3–4, RFC 7251; NIST SP 800-38C with a 12-byte nonce, so L = 3) and ChaCha20-Poly1305
 * (RFC 8439 §2.8, RFC 7905). Output is ciphertext ‖ tag; nonces are always 12 bytes (RFC 5116 §3.2).
 *
 * node binds a cipher object to its key and nonce when it is created, so every record needs a new one
 * (createCipheriv / createDecipheriv): that creation is most of the per-record cost node forces on us. `prepare`
 * lets the record layer create the object for the next record's nonce ahead of time, while the connection is
 * idle (right after a datagram went out), so it is not on the path of the next record. A prepared object is
 * used only for the direction and nonce it was made with, at most once; one is kept per AEAD (the record layer
 * has one AEAD per epoch and direction).
 */
import {
  createCipheriv,
  createDecipheriv,
  type CipherCCM,
  type CipherChaCha20Poly1305,
  type CipherGCM,
  type DecipherCCM,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
  type KeyObject,
} from 'node:crypto';
import { InternalError } from '../errors.js';
import type { Aead, AeadAlgorithm } from './provider.js';

const NONCE_LENGTH = 12;

type AeadCipher = CipherGCM | CipherCCM | CipherChaCha20Poly1305;
type AeadDecipher = DecipherGCM | DecipherCCM | DecipherChaCha20Poly1305;

/**
 * OpenSSL's CCM takes an update() with a NULL input (an empty array without backing memory) as "set the length
 * only" and then fails at final(): an empty input is given as an empty view of real memory instead.
 */
const EMPTY_INPUT = Buffer.alloc(1).subarray(0, 0);

function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function checkNonce(nonce: Uint8Array): void {
  if (nonce.length !== NONCE_LENGTH) {
    throw new InternalError(`AEAD nonce must be ${NONCE_LENGTH} bytes, got ${nonce.length}`);
  }
}

/** The 12-byte nonce as three 32-bit words (no array kept per AEAD: there is one per epoch and direction). */
function word(n: Uint8Array, i: number): number {
  return ((n[i]! << 24) | (n[i + 1]! << 16) | (n[i + 2]! << 8) | n[i + 3]!) >>> 0;
}

/** The 13-byte DTLS 1.2 additional data as four words (the last one byte); -1 in all four for none. */
interface AadWords {
  readonly a0: number;
  readonly a1: number;
  readonly a2: number;
  readonly a3: number;
}

function aadMatches(p: AadWords, aad: Uint8Array): boolean {
  return aad.length === 13 && p.a0 === word(aad, 0) && p.a1 === word(aad, 4) && p.a2 === word(aad, 8) && p.a3 === aad[12];
}

interface Prepared extends AadWords {
  readonly direction: 'seal' | 'open';
  readonly object: AeadCipher | AeadDecipher;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  /** The object has taken in the additional data a0..a3 (setAAD done). */
  readonly aadSet: boolean;
}

export class NodeAead implements Aead {
  readonly tagLength: 16 | 8;
  /** CCM and ChaCha20-Poly1305 need the plaintext length with the AAD. */
  private readonly lengthWithAad: boolean;
  /** CCM: node takes the tag before the additional data when opening. */
  private readonly isCcm: boolean;
  /** At most one cipher object made ahead of time, for one direction and one nonce (words w0 ‖ w1 ‖ w2). */
  private prepared: Prepared | undefined;

  constructor(
    readonly algorithm: AeadAlgorithm,
    private readonly key: KeyObject,
  ) {
    this.tagLength = algorithm === 'aes-128-ccm8' ? 8 : 16;
    this.lengthWithAad = algorithm !== 'aes-128-gcm' && algorithm !== 'aes-256-gcm';
    this.isCcm = algorithm === 'aes-128-ccm' || algorithm === 'aes-128-ccm8';
  }

  private newCipher(nonce: Uint8Array): AeadCipher {
    const a = this.algorithm;
    if (a === 'aes-128-gcm' || a === 'aes-256-gcm') return createCipheriv(a, this.key, nonce, { authTagLength: 16 });
    if (a === 'chacha20-poly1305') return createCipheriv(a, this.key, nonce, { authTagLength: 16 });
    return createCipheriv('aes-128-ccm', this.key, nonce, { authTagLength: this.tagLength });
  }

  private newDecipher(nonce: Uint8Array): AeadDecipher {
    const a = this.algorithm;
    if (a === 'aes-128-gcm' || a === 'aes-256-gcm') return createDecipheriv(a, this.key, nonce, { authTagLength: 16 });
    if (a === 'chacha20-poly1305') return createDecipheriv(a, this.key, nonce, { authTagLength: 16 });
    return createDecipheriv('aes-128-ccm', this.key, nonce, { authTagLength: this.tagLength });
  }

  /**
   * Makes the cipher object for this nonce now. With `aad` (13 bytes), also gives it that additional data, except
   * for opening with CCM, where node needs the tag first (then the guess is ignored).
   */
  prepare(nonce: Uint8Array, direction: 'seal' | 'open', aad?: Uint8Array): void {
    checkNonce(nonce);
    const p = this.prepared;
    const w0 = word(nonce, 0);
    const w1 = word(nonce, 4);
    const w2 = word(nonce, 8);
    const withAad = aad !== undefined && aad.length === 13 && (direction === 'seal' || !this.isCcm);
    if (p !== undefined && p.direction === direction && p.w0 === w0 && p.w1 === w1 && p.w2 === w2) {
      if (!p.aadSet || (withAad && aadMatches(p, aad))) return;
    }
    let object: AeadCipher | AeadDecipher;
    try {
      object = direction === 'seal' ? this.newCipher(nonce) : this.newDecipher(nonce);
      if (withAad) this.setAad(object, aad, (aad[11]! << 8) | aad[12]!);
    } catch {
      // A hint only (it runs from the socket driver, where a throw would be uncaught): the record's own seal or
      // open makes the object again and reports any failure where it belongs.
      this.prepared = undefined;
      return;
    }
    this.prepared = withAad
      ? { direction, object, w0, w1, w2, aadSet: true, a0: word(aad, 0), a1: word(aad, 4), a2: word(aad, 8), a3: aad[12]! }
      : { direction, object, w0, w1, w2, aadSet: false, a0: -1, a1: -1, a2: -1, a3: -1 };
  }

  /**
   * What was prepared for exactly this direction and nonce (and additional data, if it took some in), which is
   * forgotten (used once), or undefined. An object that took in other additional data is of no use: dropped.
   */
  private take(nonce: Uint8Array, direction: 'seal' | 'open', aad: Uint8Array): Prepared | undefined {
    const p = this.prepared;
    if (p === undefined || p.direction !== direction || p.w0 !== word(nonce, 0) || p.w1 !== word(nonce, 4) || p.w2 !== word(nonce, 8)) {
      return undefined;
    }
    this.prepared = undefined;
    return p.aadSet && !aadMatches(p, aad) ? undefined : p;
  }

  private setAad(object: AeadCipher | AeadDecipher, aad: Uint8Array, plaintextLength: number): void {
    if (this.lengthWithAad) object.setAAD(aad, { plaintextLength });
    else (object as CipherGCM).setAAD(aad);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + this.tagLength);
    this.sealInto(nonce, aad, plaintext, out, 0);
    return out;
  }

  sealInto(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number): number {
    checkNonce(nonce);
    const sealedLength = plaintext.length + this.tagLength;
    if (!(offset >= 0) || offset + sealedLength > out.length) {
      throw new InternalError(`no room for ${sealedLength} sealed bytes at offset ${offset} of ${out.length}`);
    }
    const p = this.take(nonce, 'seal', aad);
    const c = p !== undefined ? (p.object as AeadCipher) : this.newCipher(nonce);
    if (p === undefined || !p.aadSet) this.setAad(c, aad, plaintext.length);
    const body = c.update(plaintext.length === 0 ? EMPTY_INPUT : plaintext);
    c.final();
    out.set(body, offset);
    out.set(c.getAuthTag(), offset + body.length);
    return sealedLength;
  }

  open(nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Uint8Array | undefined {
    const n = ciphertextAndTag.length - this.tagLength;
    if (n < 0 || nonce.length !== NONCE_LENGTH) return undefined;
    try {
      const p = this.take(nonce, 'open', aad);
      const d = p !== undefined ? (p.object as AeadDecipher) : this.newDecipher(nonce);
      d.setAuthTag(ciphertextAndTag.subarray(n));
      if (p === undefined || !p.aadSet) this.setAad(d, aad, n);
      const body = d.update(ciphertextAndTag.subarray(0, n));
      d.final(); // throws on a bad tag (CCM: update() found it, final() reports it)
      return view(body);
    } catch {
      return undefined;
    }
  }
}
