/** What a finished handshake established. */
import type { CipherSuite } from '../crypto/suites.js';
import type { VerifiedChain } from '../pki/verifier.js';

export interface HandshakeResult {
  readonly protocol: 'DTLSv1.2';
  readonly suite: CipherSuite;
  readonly group: number;
  readonly extendedMasterSecret: boolean;
  /** The peer's verified chain, or undefined when it sent none (client without certificate). */
  readonly peer: VerifiedChain | undefined;
  readonly alpnProtocol: string | undefined;
  readonly servername: string | undefined;
  readonly masterSecret: Uint8Array;
  readonly clientRandom: Uint8Array;
  readonly serverRandom: Uint8Array;
}
