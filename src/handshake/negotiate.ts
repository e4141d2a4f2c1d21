/** Negotiation as pure functions over data (RFC 5246 §7.4.1, RFC 8422 §5, RFC 7301 §3.2). */
import type { CipherSuite } from '../crypto/suites.js';
import type { SigningKey } from '../crypto/provider.js';
import { AlertDescription, type NamedGroup } from '../msgs/enums.js';
import { IncompatibleError } from '../errors.js';

export type KeyType = SigningKey['keyType'] | 'other';

/** Whether a certificate key of `keyType` can authenticate `suite`. */
export function suiteFitsKey(suite: CipherSuite, keyType: KeyType): boolean {
  if (suite.auth === 'ecdsa') return keyType === 'ec-p256' || keyType === 'ec-p384' || keyType === 'ed25519';
  if (suite.auth === 'rsa') return keyType === 'rsa';
  return false;
}

/** Server side: our most preferred suite that the client offered and our key can authenticate. */
export function chooseSuite(ours: readonly CipherSuite[], offered: readonly number[], keyType: KeyType): CipherSuite {
  const set = new Set(offered);
  for (const s of ours) if (set.has(s.id) && suiteFitsKey(s, keyType)) return s;
  throw new IncompatibleError('no cipher suite in common with the client');
}

/**
 * Server side: our most preferred group among the client's supported_groups. A client that sent no
 * supported_groups is assumed to support P-256 (RFC 8422 §4: the extension may be omitted).
 */
export function chooseGroup(ours: readonly NamedGroup[], offered: readonly number[] | undefined): NamedGroup {
  if (offered === undefined) {
    const p256 = ours.find((g) => g === 23);
    if (p256 !== undefined) return p256;
    throw new IncompatibleError('client sent no supported_groups and P-256 is not enabled');
  }
  const set = new Set(offered);
  for (const g of ours) if (set.has(g)) return g;
  throw new IncompatibleError('no key exchange group in common with the client');
}

/** Server side ALPN (RFC 7301 §3.2): our first protocol the client offered; none in common is fatal. */
export function chooseAlpn(ours: readonly string[], offered: readonly string[] | undefined): string | undefined {
  if (offered === undefined || ours.length === 0) return undefined;
  for (const p of ours) if (offered.includes(p)) return p;
  throw new IncompatibleError('no application protocol in common', AlertDescription.no_application_protocol);
}
