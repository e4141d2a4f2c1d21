/**
 * Loading our own private key (server certificate key or client-auth key) and signing with it.
 *
 * Accepted encodings: PEM "PRIVATE KEY" (PKCS#8, RFC 5208 / RFC 5958), "EC PRIVATE KEY" (SEC1, RFC 5915) and
 * "RSA PRIVATE KEY" (PKCS#1, RFC 8017 Appendix A.1.2); the same three as DER bytes. Encrypted keys are not
 * accepted (decrypt them first).
 */
import {
  constants,
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { ApiMisuseError } from '../errors.js';
import { SignatureScheme } from '../msgs/enums.js';
import type { SigningKey } from './provider.js';
import { schemeHash, schemeName } from './signature.js';

/** A SigningKey that also carries its public key (SubjectPublicKeyInfo DER), to match it against a certificate. */
export type LoadedSigningKey = SigningKey & { readonly spki: Uint8Array };

// In (D)TLS 1.2 an ECDSA code point names only the hash (RFC 5246 §7.4.1.4.1, RFC 8422 §5.1.3): a key on
// either curve may sign with either hash. The curve-matching scheme comes first.
const EC_P256_SCHEMES: readonly SignatureScheme[] = Object.freeze([
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.ecdsa_secp384r1_sha384,
]);
const EC_P384_SCHEMES: readonly SignatureScheme[] = Object.freeze([
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.ecdsa_secp256r1_sha256,
]);
const RSA_SCHEMES: readonly SignatureScheme[] = Object.freeze([
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pkcs1_sha256,
  SignatureScheme.rsa_pkcs1_sha384,
  SignatureScheme.rsa_pss_rsae_sha512,
  SignatureScheme.rsa_pkcs1_sha512,
]);
const ED25519_SCHEMES: readonly SignatureScheme[] = Object.freeze([SignatureScheme.ed25519]);

function parsePrivateKey(input: string | Uint8Array): KeyObject {
  if (typeof input === 'string' || looksLikePem(input)) {
    const pem = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(pem)) {
      throw new ApiMisuseError('ERR_DTLS_BAD_KEY', 'encrypted private keys are not supported; decrypt the key first');
    }
    try {
      return createPrivateKey({ key: pem, format: 'pem' });
    } catch (cause) {
      throw badKey(cause);
    }
  }
  // DER: try the three container types in turn.
  const der = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let lastError: unknown;
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      return createPrivateKey({ key: der, format: 'der', type });
    } catch (cause) {
      lastError = cause;
    }
  }
  throw badKey(lastError);
}

/** PEM text starts with "-----BEGIN" (possibly after whitespace or comments); DER always starts with 0x30. */
function looksLikePem(input: Uint8Array): boolean {
  return input.length > 0 && input[0] !== 0x30;
}

function badKey(cause: unknown): ApiMisuseError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  const error = new ApiMisuseError('ERR_DTLS_BAD_KEY', `cannot parse the private key${detail}`);
  error.cause = cause;
  return error;
}

function classify(key: KeyObject): { keyType: SigningKey['keyType']; schemes: readonly SignatureScheme[] } {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { keyType: 'ec-p256', schemes: EC_P256_SCHEMES };
    if (curve === 'secp384r1') return { keyType: 'ec-p384', schemes: EC_P384_SCHEMES };
    throw new ApiMisuseError('ERR_DTLS_UNSUPPORTED_KEY', `unsupported EC curve ${curve ?? 'unknown'} (use P-256 or P-384)`);
  }
  if (type === 'rsa') return { keyType: 'rsa', schemes: RSA_SCHEMES };
  if (type === 'ed25519') return { keyType: 'ed25519', schemes: ED25519_SCHEMES };
  throw new ApiMisuseError(
    'ERR_DTLS_UNSUPPORTED_KEY',
    `unsupported private key type ${type ?? 'unknown'} (use EC P-256/P-384, RSA or Ed25519)`,
  );
}

/**
 * Loads a private key and returns a SigningKey for it.
 *
 * Signature encodings follow RFC 8446 §4.2.3 (which TLS 1.2 shares for these code points): ECDSA signatures
 * are DER `Ecdsa-Sig-Value` (RFC 8422 §5.4), RSASSA-PSS uses MGF1 with the same hash and a salt as long as the
 * hash, RSASSA-PKCS1-v1_5 is RFC 8017 §8.2, Ed25519 is PureEdDSA (RFC 8032 §5.1).
 *
 * Throws ApiMisuseError ERR_DTLS_BAD_KEY for input that is not a readable private key, ERR_DTLS_UNSUPPORTED_KEY
 * for a key type or curve we cannot sign with.
 */
export function loadSigningKey(pem: string | Uint8Array): LoadedSigningKey {
  const key = parsePrivateKey(pem);
  const { keyType, schemes } = classify(key);
  const spkiBuf = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const spki = new Uint8Array(spkiBuf.buffer, spkiBuf.byteOffset, spkiBuf.byteLength);
  const allowed = new Set<number>(schemes);

  function sign(scheme: SignatureScheme, data: Uint8Array): Uint8Array {
    if (!allowed.has(scheme)) {
      throw new ApiMisuseError(
        'ERR_DTLS_UNSUPPORTED_SIGNATURE_SCHEME',
        `a ${keyType} key cannot sign with ${schemeName(scheme)}`,
      );
    }
    let out: Buffer;
    switch (keyType) {
      case 'ed25519':
        out = nodeSign(null, data, key);
        break;
      case 'ec-p256':
      case 'ec-p384':
        out = nodeSign(schemeHash(scheme) ?? 'sha256', data, { key, dsaEncoding: 'der' });
        break;
      case 'rsa': {
        const hash = schemeHash(scheme) ?? 'sha256';
        const pss = scheme === SignatureScheme.rsa_pss_rsae_sha256
          || scheme === SignatureScheme.rsa_pss_rsae_sha384
          || scheme === SignatureScheme.rsa_pss_rsae_sha512;
        out = pss
          ? nodeSign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hashLength(hash) })
          : nodeSign(hash, data, { key, padding: constants.RSA_PKCS1_PADDING });
        break;
      }
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  return Object.freeze({ keyType, schemes, spki, sign });
}

/** The SubjectPublicKeyInfo DER of a key returned by loadSigningKey. */
export function publicKeySpki(key: LoadedSigningKey): Uint8Array {
  return key.spki;
}

function hashLength(hash: 'sha256' | 'sha384' | 'sha512'): number {
  return hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64;
}
