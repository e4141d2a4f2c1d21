/**
 * Signature schemes as pure data (RFC 8446 §4.2.3 SignatureScheme; for TLS 1.2 the same code points are the
 * SignatureAndHashAlgorithm pairs of RFC 5246 §7.4.1.4.1, with RSA-PSS from RFC 8446 §4.2.3 and Ed25519 from
 * RFC 8422 §5.1.3).
 */
import { SignatureScheme } from '../msgs/enums.js';
import type { SigningKey } from './provider.js';

/** Schemes we can verify and produce, in our preference order (for the signature_algorithms extension). */
export const SUPPORTED_SIGNATURE_SCHEMES: readonly SignatureScheme[] = Object.freeze([
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.ed25519,
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pkcs1_sha256,
  SignatureScheme.rsa_pkcs1_sha384,
  SignatureScheme.rsa_pss_rsae_sha512,
  SignatureScheme.rsa_pkcs1_sha512,
]);

const supported = new Set<number>(SUPPORTED_SIGNATURE_SCHEMES);

const names = new Map<number, string>([
  [SignatureScheme.rsa_pkcs1_sha256, 'rsa_pkcs1_sha256'],
  [SignatureScheme.rsa_pkcs1_sha384, 'rsa_pkcs1_sha384'],
  [SignatureScheme.rsa_pkcs1_sha512, 'rsa_pkcs1_sha512'],
  [SignatureScheme.ecdsa_secp256r1_sha256, 'ecdsa_secp256r1_sha256'],
  [SignatureScheme.ecdsa_secp384r1_sha384, 'ecdsa_secp384r1_sha384'],
  [SignatureScheme.ecdsa_secp521r1_sha512, 'ecdsa_secp521r1_sha512'],
  [SignatureScheme.rsa_pss_rsae_sha256, 'rsa_pss_rsae_sha256'],
  [SignatureScheme.rsa_pss_rsae_sha384, 'rsa_pss_rsae_sha384'],
  [SignatureScheme.rsa_pss_rsae_sha512, 'rsa_pss_rsae_sha512'],
  [SignatureScheme.ed25519, 'ed25519'],
  [SignatureScheme.ed448, 'ed448'],
  [SignatureScheme.rsa_pss_pss_sha256, 'rsa_pss_pss_sha256'],
  [0x080a, 'rsa_pss_pss_sha384'],
  [0x080b, 'rsa_pss_pss_sha512'],
  [0x0201, 'rsa_pkcs1_sha1'],
  [0x0203, 'ecdsa_sha1'],
]);

/**
 * The hash a scheme applies to the signed content (RFC 8446 §4.2.3); undefined for the EdDSA schemes (which
 * hash internally, RFC 8032) and for unknown or SHA-1 code points.
 */
export function schemeHash(scheme: number): 'sha256' | 'sha384' | 'sha512' | undefined {
  switch (scheme) {
    case SignatureScheme.rsa_pkcs1_sha256:
    case SignatureScheme.ecdsa_secp256r1_sha256:
    case SignatureScheme.rsa_pss_rsae_sha256:
    case SignatureScheme.rsa_pss_pss_sha256:
      return 'sha256';
    case SignatureScheme.rsa_pkcs1_sha384:
    case SignatureScheme.ecdsa_secp384r1_sha384:
    case SignatureScheme.rsa_pss_rsae_sha384:
    case 0x080a:
      return 'sha384';
    case SignatureScheme.rsa_pkcs1_sha512:
    case SignatureScheme.ecdsa_secp521r1_sha512:
    case SignatureScheme.rsa_pss_rsae_sha512:
    case 0x080b:
      return 'sha512';
    default:
      return undefined;
  }
}

/** The IANA name of a scheme, or `scheme_0xNNNN` for a code point we do not know (RFC 8446 §4.2.3). */
export function schemeName(scheme: number): string {
  return names.get(scheme) ?? `scheme_0x${scheme.toString(16).padStart(4, '0')}`;
}

/** Whether we can verify (and, with a fitting key, produce) this scheme. */
export function isSchemeSupported(scheme: number): scheme is SignatureScheme {
  return supported.has(scheme);
}

/**
 * Picks the scheme to sign with: the first of the key's own schemes (its preference order) that the peer
 * offered in signature_algorithms (RFC 5246 §7.4.1.4.1, RFC 8446 §4.2.3).
 *
 * When the peer offered nothing (no signature_algorithms extension), RFC 5246 §7.4.1.4.1 says to assume
 * {sha1, rsa} for RSA keys and {sha1, ecdsa} for ECDSA keys. We do not sign with SHA-1, so there is no
 * acceptable scheme and this returns undefined; the caller fails the handshake.
 */
export function chooseSignatureScheme(
  key: SigningKey,
  peerOffered: readonly number[],
): SignatureScheme | undefined {
  if (peerOffered.length === 0) return undefined;
  for (const scheme of key.schemes) {
    if (isSchemeSupported(scheme) && peerOffered.includes(scheme)) return scheme;
  }
  return undefined;
}
