/**
 * Connection configuration as the protocol core sees it: every option resolved and validated, every external
 * capability (crypto, randomness, wall clock, certificate verification) injected.
 */
import type { CryptoProvider, SigningKey } from '../crypto/provider.js';
import type { CipherSuite } from '../crypto/suites.js';
import type { NamedGroup, SignatureScheme } from '../msgs/enums.js';
import type { VerifiedChain } from '../pki/verifier.js';

/** Checks a peer's certificate chain (DER, leaf first). Throws CertificateError when it must be rejected. */
export type PeerVerifier = (chain: readonly Uint8Array[], role: 'server' | 'client', servername: string | undefined) => VerifiedChain;

export interface LocalCredentials {
  /** DER certificates, leaf first. */
  readonly chain: readonly Uint8Array[];
  readonly key: SigningKey;
}

export interface ConnectionConfig {
  readonly role: 'client' | 'server';
  readonly crypto: CryptoProvider;
  readonly cipherSuites: readonly CipherSuite[];
  readonly groups: readonly NamedGroup[];
  readonly signatureSchemes: readonly SignatureScheme[];
  readonly credentials: LocalCredentials | undefined;
  /** Verifies the peer's chain; undefined means "accept any certificate" (only when the user opted out). */
  readonly verifyPeer: PeerVerifier | undefined;
  /** Client: name for SNI and for the host check. */
  readonly servername: string | undefined;
  /** Server: send a CertificateRequest. */
  readonly requestClientCertificate: boolean;
  /** Server: fail the handshake when the client sends no certificate. */
  readonly requireClientCertificate: boolean;
  readonly alpnProtocols: readonly string[];
  /** RFC 7627: refuse peers that do not do the extended master secret. */
  readonly requireExtendedMasterSecret: boolean;
  /** Largest datagram we send (IP/UDP headers excluded). */
  readonly mtu: number;
  readonly initialRetransmitMs: number;
  readonly maxRetransmitMs: number;
  readonly handshakeTimeoutMs: number;
  readonly replayWindow: number;
  /** Largest handshake message accepted from the peer (bytes). */
  readonly maxHandshakeMessageLength: number;
  /** Records of a not-yet-usable epoch (or early application data) kept until they can be processed. */
  readonly maxDeferredRecords: number;
  /** Total claimed length of the handshake messages being reassembled at once (bytes). Default 131072. */
  readonly maxHandshakeBufferedBytes?: number;
  /**
   * Established connection: closed (close_notify, then ERR_DTLS_IDLE_TIMEOUT) when no authenticated record has
   * arrived from the peer for this long (ms). 0 or undefined: never.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Records failing authentication (bad MAC) tolerated before the connection is closed with a fatal bad_record_mac
   * alert and ERR_DTLS_TOO_MANY_BAD_RECORDS. 0 or undefined: unlimited — they are discarded silently and counted
   * (RFC 6347 §4.1.2.7).
   */
  readonly maxBadRecords?: number;
}

export const DEFAULTS = Object.freeze({
  mtu: 1200,
  initialRetransmitMs: 1000,
  maxRetransmitMs: 60_000,
  handshakeTimeoutMs: 30_000,
  replayWindow: 64,
  maxHandshakeMessageLength: 65_536,
  maxDeferredRecords: 32,
  maxHandshakeBufferedBytes: 131_072,
  idleTimeoutMs: 0,
  maxBadRecords: 0,
});
