/**
 * Key derivation glue for DTLS 1.2 (RFC 5246 §6.3, §8.1; RFC 7627 §4): pre-master secret → master secret →
 * record protection for both directions.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import type { CipherSuite } from '../crypto/suites.js';
import { extendedMasterSecret, keyBlock, masterSecret } from '../crypto/prf12.js';
import { RecordProtection12 } from '../record/protection.js';

export function deriveMasterSecret(
  crypto: CryptoProvider,
  suite: CipherSuite,
  preMaster: Uint8Array,
  ems: boolean,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  sessionHash: () => Uint8Array,
): Uint8Array {
  return ems
    ? extendedMasterSecret(crypto, suite.hash, preMaster, sessionHash())
    : masterSecret(crypto, suite.hash, preMaster, clientRandom, serverRandom);
}

export interface Protections12 {
  readonly client: RecordProtection12;
  readonly server: RecordProtection12;
}

export function deriveProtections(
  crypto: CryptoProvider,
  suite: CipherSuite,
  master: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
): Protections12 {
  const kb = keyBlock(crypto, suite, master, clientRandom, serverRandom);
  return {
    client: new RecordProtection12(suite, crypto.createAead(suite.aead, kb.clientWriteKey), kb.clientWriteIv),
    server: new RecordProtection12(suite, crypto.createAead(suite.aead, kb.serverWriteKey), kb.serverWriteIv),
  };
}
