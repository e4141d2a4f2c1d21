/**
 * Cipher suites as frozen data (RFC 5289, RFC 7251, RFC 7905 for DTLS 1.2; RFC 8446 §B.4 for DTLS 1.3).
 * Names are the IANA names.
 */
import type { AeadAlgorithm, HashAlgorithm } from './provider.js';

export type KeyExchange = 'ecdhe' | 'tls13';
export type Authentication = 'ecdsa' | 'rsa' | 'tls13';

export interface CipherSuite {
  readonly id: number;
  readonly name: string;
  readonly versions: readonly ('dtls1.2' | 'dtls1.3')[];
  readonly aead: AeadAlgorithm;
  readonly keyLength: number;
  /** DTLS 1.2 implicit IV from the key block: 4 for GCM/CCM, 12 for ChaCha20-Poly1305. */
  readonly fixedIvLength: number;
  /** DTLS 1.2 explicit nonce carried at the start of each record: 8 for GCM/CCM, 0 for ChaCha20-Poly1305. */
  readonly recordIvLength: number;
  readonly tagLength: number;
  /** PRF / transcript hash. */
  readonly hash: HashAlgorithm;
  readonly keyExchange: KeyExchange;
  readonly auth: Authentication;
}

function suite(s: CipherSuite): CipherSuite {
  return Object.freeze(s);
}

const v12 = Object.freeze(['dtls1.2'] as const);

export const TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = suite({
  id: 0xc02b, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', versions: v12, aead: 'aes-128-gcm', keyLength: 16,
  fixedIvLength: 4, recordIvLength: 8, tagLength: 16, hash: 'sha256', keyExchange: 'ecdhe', auth: 'ecdsa',
});
export const TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = suite({
  id: 0xc02c, name: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', versions: v12, aead: 'aes-256-gcm', keyLength: 32,
  fixedIvLength: 4, recordIvLength: 8, tagLength: 16, hash: 'sha384', keyExchange: 'ecdhe', auth: 'ecdsa',
});
export const TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = suite({
  id: 0xcca9, name: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', versions: v12, aead: 'chacha20-poly1305',
  keyLength: 32, fixedIvLength: 12, recordIvLength: 0, tagLength: 16, hash: 'sha256', keyExchange: 'ecdhe', auth: 'ecdsa',
});
export const TLS_ECDHE_ECDSA_WITH_AES_128_CCM = suite({
  id: 0xc0ac, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM', versions: v12, aead: 'aes-128-ccm', keyLength: 16,
  fixedIvLength: 4, recordIvLength: 8, tagLength: 16, hash: 'sha256', keyExchange: 'ecdhe', auth: 'ecdsa',
});
export const TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 = suite({
  id: 0xc0ae, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', versions: v12, aead: 'aes-128-ccm8', keyLength: 16,
  fixedIvLength: 4, recordIvLength: 8, tagLength: 8, hash: 'sha256', keyExchange: 'ecdhe', auth: 'ecdsa',
});
export const TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = suite({
  id: 0xc02f, name: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', versions: v12, aead: 'aes-128-gcm', keyLength: 16,
  fixedIvLength: 4, recordIvLength: 8, tagLength: 16, hash: 'sha256', keyExchange: 'ecdhe', auth: 'rsa',
});
export const TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = suite({
  id: 0xc030, name: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', versions: v12, aead: 'aes-256-gcm', keyLength: 32,
  fixedIvLength: 4, recordIvLength: 8, tagLength: 16, hash: 'sha384', keyExchange: 'ecdhe', auth: 'rsa',
});
export const TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = suite({
  id: 0xcca8, name: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', versions: v12, aead: 'chacha20-poly1305',
  keyLength: 32, fixedIvLength: 12, recordIvLength: 0, tagLength: 16, hash: 'sha256', keyExchange: 'ecdhe', auth: 'rsa',
});

/** Every DTLS 1.2 suite we implement, in our default preference order. */
export const DTLS12_SUITES: readonly CipherSuite[] = Object.freeze([
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
]);

const byId = new Map(DTLS12_SUITES.map((s) => [s.id, s]));
const byName = new Map(DTLS12_SUITES.map((s) => [s.name, s]));

export function suiteById(id: number): CipherSuite | undefined {
  return byId.get(id);
}

export function suiteByName(name: string): CipherSuite | undefined {
  return byName.get(name);
}
