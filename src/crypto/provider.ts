/**
 * Everything cryptographic, and all randomness and wall-clock time, reach the protocol core through this
 * interface. The default implementation is `NodeCryptoProvider` (node:crypto); tests can pass one with a fixed
 * RNG and clock so that handshakes are reproducible byte for byte.
 */
import type { NamedGroup, SignatureScheme } from '../msgs/enums.js';

export type HashAlgorithm = 'sha256' | 'sha384';

/** The record-protection algorithms of the supported suites. `aes-128-ccm8` is AES-128-CCM with an 8-byte tag. */
export type AeadAlgorithm = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305' | 'aes-128-ccm' | 'aes-128-ccm8';

/** One AEAD key, ready for many records. Nonces are always 12 bytes. */
export interface Aead {
  readonly algorithm: AeadAlgorithm;
  readonly tagLength: number;
  /** Returns ciphertext ‖ tag. */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * Writes ciphertext ‖ tag into `out` at `offset` (the record being built, so the record layer needs no
   * intermediate buffer) and returns the bytes written. Throws InternalError when `out` is too small.
   */
  sealInto(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number): number;
  /** Returns the plaintext, or undefined when the tag does not verify (never throws for bad input). */
  open(nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Uint8Array | undefined;
  /**
   * Optional: do ahead of time, for this nonce, the per-record setup that the next seal or open with it would do
   * (node: creating the cipher object), so that it is off that record's path. A hint only; results are the same.
   * With `aad` (a guess of the next record's DTLS 1.2 additional data, 13 bytes ending in the plaintext length),
   * it may take that in too; the preparation then serves only a seal or open with this nonce and this data.
   */
  prepare?(nonce: Uint8Array, direction: 'seal' | 'open', aad?: Uint8Array): void;
}

/** An ephemeral key-agreement key pair for one handshake. */
export interface KeyShare {
  readonly group: NamedGroup;
  /** Our public value as it goes on the wire (X25519: 32 bytes; P-256/P-384: uncompressed point 0x04‖X‖Y). */
  readonly publicKey: Uint8Array;
  /**
   * The shared secret with the peer's public value (for NIST curves the X coordinate, RFC 8422 §5.10).
   * Throws PeerMisbehavedError (illegal_parameter) for an invalid or low-order peer value.
   */
  deriveSecret(peerPublicKey: Uint8Array): Uint8Array;
}

/** Our private key, able to sign with the schemes it supports. */
export interface SigningKey {
  readonly keyType: 'ec-p256' | 'ec-p384' | 'rsa' | 'ed25519';
  /** Schemes this key can produce, most preferred first. */
  readonly schemes: readonly SignatureScheme[];
  /** Signs `data` (the whole message; the scheme's hash is applied inside). ECDSA output is DER. */
  sign(scheme: SignatureScheme, data: Uint8Array): Uint8Array;
}

/** Incremental hash that can be forked (for transcript hashes at several points). */
export interface IncrementalHash {
  update(data: Uint8Array): void;
  /** Digest of everything so far; the hash can keep being updated afterwards. */
  digest(): Uint8Array;
}

/**
 * One HMAC key (RFC 2104), prepared once for several MACs: the TLS 1.2 PRF makes up to a dozen under one secret
 * (RFC 5246 §5), the cookie jar thousands under one cookie secret.
 */
export interface HmacKey {
  /** HMAC(key, data ‖ more). */
  mac(data: Uint8Array, more?: Uint8Array): Uint8Array;
}

export interface CryptoProvider {
  randomBytes(length: number): Uint8Array;
  /** Wall-clock time in ms since the epoch (for certificate validity and cookie timestamps). */
  wallClock(): number;
  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array;
  createHash(algorithm: HashAlgorithm): IncrementalHash;
  hmac(algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array;
  /**
   * Optional: an HMAC key for several MACs, cheaper than `hmac()` per MAC. Without it the PRF and the cookie jar
   * call `hmac()` for each MAC. The key bytes are copied, so the caller may change its array afterwards.
   */
  createHmacKey?(algorithm: HashAlgorithm, key: Uint8Array): HmacKey;
  createAead(algorithm: AeadAlgorithm, key: Uint8Array): Aead;
  /** Throws IncompatibleError for a group this provider cannot do. */
  generateKeyShare(group: NamedGroup): KeyShare;
  /**
   * Optional: generate ahead, while the caller is idle, the key pair that the next generateKeyShare() of the
   * group used last will return (once), so that key generation is off the next handshake's path.
   */
  prepareKeyShare?(): void;
  /**
   * Verifies `signature` over `data` with the public key in SubjectPublicKeyInfo DER form. Returns false for a bad
   * signature, a key that does not fit the scheme, or malformed input; never throws.
   */
  verify(scheme: SignatureScheme, spki: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
}
