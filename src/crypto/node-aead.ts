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

export class NodeAead implements Aead {
  readonly tagLength: 16 | 8;
  /** CCM and ChaCha20-Poly1305 need the plaintext length with the AAD. */
  private readonly lengthWithAad: boolean;
  /** At most one cipher object made ahead of time, for one direction and one nonce (words w0 ‖ w1 ‖ w2). */
  private prepared: { readonly direction: 'seal' | 'open'; readonly object: AeadCipher | AeadDecipher; readonly w0: number; readonly w1: number; readonly w2: number } | undefined;

  constructor(
    readonly algorithm: AeadAlgorithm,
    private readonly key: KeyObject,
  ) {
    this.tagLength = algorithm === 'aes-128-ccm8' ? 8 : 16;
    this.lengthWithAad = algorithm !== 'aes-128-gcm' && algorithm !== 'aes-256-gcm';
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

  prepare(nonce: Uint8Array, direction: 'seal' | 'open'): void {
    checkNonce(nonce);
    const p = this.prepared;
    const w0 = word(nonce, 0);
    const w1 = word(nonce, 4);
    const w2 = word(nonce, 8);
    if (p !== undefined && p.direction === direction && p.w0 === w0 && p.w1 === w1 && p.w2 === w2) return;
    let object: AeadCipher | AeadDecipher;
    try {
      object = direction === 'seal' ? this.newCipher(nonce) : this.newDecipher(nonce);
    } catch {
      // A hint only (it runs from the socket driver, where a throw would be uncaught): the record's own seal or
      // open makes the object again and reports any failure where it belongs.
      this.prepared = undefined;
      return;
    }
    this.prepared = { direction, object, w0, w1, w2 };
  }

  /** The object prepared for exactly this direction and nonce, which is forgotten (used once), or undefined. */
  private take(nonce: Uint8Array, direction: 'seal' | 'open'): AeadCipher | AeadDecipher | undefined {
    const p = this.prepared;
    if (p === undefined || p.direction !== direction || p.w0 !== word(nonce, 0) || p.w1 !== word(nonce, 4) || p.w2 !== word(nonce, 8)) {
      return undefined;
    }
    this.prepared = undefined;
    return p.object;
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
    const c = (this.take(nonce, 'seal') as AeadCipher | undefined) ?? this.newCipher(nonce);
    if (this.lengthWithAad) c.setAAD(aad, { plaintextLength: plaintext.length });
    else (c as CipherGCM).setAAD(aad);
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
      const d = (this.take(nonce, 'open') as AeadDecipher | undefined) ?? this.newDecipher(nonce);
      d.setAuthTag(ciphertextAndTag.subarray(n));
      if (this.lengthWithAad) d.setAAD(aad, { plaintextLength: n });
      else (d as DecipherGCM).setAAD(aad);
      const body = d.update(ciphertextAndTag.subarray(0, n));
      d.final(); // throws on a bad tag (CCM: update() found it, final() reports it)
      return view(body);
    } catch {
      return undefined;
    }
  }
}
