/**
 * Public options, validated up front with documented defaults, and turned into the core's ConnectionConfig.
 * Bad options throw ApiMisuseError with code ERR_DTLS_INVALID_OPTION naming the option.
 */
import type { Socket as DgramSocket } from 'node:dgram';
import type { CryptoProvider } from '../crypto/provider.js';
import { NodeCryptoProvider } from '../crypto/node-provider.js';
import { BoundedCache } from './resolve-cache.js';

let sharedProvider: NodeCryptoProvider | undefined;
function defaultCryptoProvider(): NodeCryptoProvider {
  return (sharedProvider ??= new NodeCryptoProvider());
}
import { DTLS12_SUITES, suiteByName, type CipherSuite } from '../crypto/suites.js';
import { SUPPORTED_SIGNATURE_SCHEMES, schemeName } from '../crypto/signature.js';
import { loadSigningKey } from '../crypto/signing-key.js';
import { NamedGroup, type SignatureScheme } from '../msgs/enums.js';
import { ApiMisuseError } from '../errors.js';
import { DEFAULTS, type ConnectionConfig, type LocalCredentials, type PeerVerifier } from '../core/config.js';
import { DEFAULT_ENDPOINT_LIMITS, type EndpointLimits } from '../core/endpoint.js';
import { TrustStore, describeCertificate, verifyCertificateChain, type PeerCertificate } from '../pki/verifier.js';
import { parsePemCertificates } from '../pki/credentials.js';
import { bytesEqual } from '../util/bytes.js';

export type PemInput = string | Uint8Array;

export interface CommonOptions {
  /** Our certificate chain, PEM (leaf first; several PEM blocks or an array). */
  cert?: PemInput | readonly PemInput[];
  /** Our private key, PEM (PKCS#8, SEC1 or PKCS#1). */
  key?: PemInput;
  /** Trusted CA certificates, PEM. */
  ca?: PemInput | readonly PemInput[];
  /** IANA cipher suite names, as an array or one colon-separated string. Default: all supported, strongest first. */
  ciphers?: string | readonly string[];
  /**
   * Signature schemes we offer and accept, by IANA name (e.g. 'ecdsa_secp256r1_sha256', 'rsa_pss_rsae_sha256'),
   * as an array or one colon-separated string. Default: all supported.
   */
  sigalgs?: string | readonly string[];
  /** Key exchange groups: 'x25519', 'P-256', 'P-384'. Default all three in that order. */
  groups?: readonly string[];
  /** Verify the peer's certificate and fail the handshake if it does not check out. Default true. */
  rejectUnauthorized?: boolean;
  /** Extra check of the peer certificate; return or throw an Error to reject it. */
  checkPeerCertificate?: (cert: PeerCertificate, chain: readonly PeerCertificate[]) => void | Error;
  /** ALPN protocols, most preferred first (RFC 7301). */
  ALPNProtocols?: readonly string[];
  /** Largest datagram sent, in bytes (default 1200, from 256 to 65507). */
  mtu?: number;
  /** Initial retransmission timeout in ms (default 1000); it doubles up to maxRetransmitTimeout (default 60000). */
  retransmitTimeout?: number;
  maxRetransmitTimeout?: number;
  /** Total time allowed for a handshake in ms (default 30000). */
  handshakeTimeout?: number;
  /** Anti-replay window in records (default 64; a multiple of 32 up to 4096). */
  replayWindow?: number;
  /** Require the extended master secret (RFC 7627) from the peer. Default true. */
  requireExtendedMasterSecret?: boolean;
  /**
   * Close an established connection when no authenticated record has arrived from the peer for this long (ms).
   * It sends close_notify and closes with ERR_DTLS_IDLE_TIMEOUT. Default 0: never. Only what is received counts,
   * so a side that only sends should leave it at 0 or have the peer answer.
   */
  idleTimeout?: number;
  /**
   * Close the connection (fatal bad_record_mac alert, ERR_DTLS_TOO_MANY_BAD_RECORDS) once this many records have
   * failed authentication. Default 0: unlimited — such records are discarded silently and counted (RFC 6347
   * §4.1.2.7), because anyone who knows the address and port can forge them.
   */
  maxBadRecords?: number;
  /** Records of the next epoch (or data racing the handshake's end) held until they can be read. Default 32. */
  maxDeferredRecords?: number;
  /** Largest handshake message accepted from the peer, in bytes (default 65536). */
  maxHandshakeMessageSize?: number;
  /** Bytes of handshake messages being reassembled at once (default 131072, at least maxHandshakeMessageSize). */
  maxHandshakeBufferSize?: number;
  /**
   * Kernel buffer sizes of the UDP socket we create (bytes; the kernel caps them at net.core.rmem_max /
   * wmem_max). A large receive buffer keeps bursts of datagrams from being dropped before Node reads them.
   * Defaults: receive 4 MiB on a server socket and 1 MiB on a client's, send 1 MiB.
   */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Replace node:crypto (tests, hardware). */
  cryptoProvider?: CryptoProvider;
  /** Abort the handshake / close the socket when this signal aborts. */
  signal?: AbortSignal;
}

export interface ConnectOptions extends CommonOptions {
  port: number;
  /** Default 'localhost'. */
  host?: string;
  /** Name for SNI and for the certificate host check. Default: `host`. */
  servername?: string;
  /** Bring your own dgram socket (it is not closed by us unless we created it). */
  socket?: DgramSocket;
  localAddress?: string;
  localPort?: number;
}

export interface ServerOptions extends CommonOptions {
  /** Ask clients for a certificate. With rejectUnauthorized (default true) a client without a valid one fails. */
  requestCert?: boolean;
  /** Require the stateless cookie exchange (default true; RFC 6347 §4.2.1). */
  cookies?: boolean;
  /** Connections (handshaking or established) in total. Default 100000. A peer over a cap gets silence. */
  maxConnections?: number;
  /** Connections from one IP address (any port). Default 1000. */
  maxConnectionsPerAddress?: number;
  /** Half-open connections (cookie checked, handshake not finished) in total. Default 10000. */
  maxHandshaking?: number;
  /** Half-open connections from one IP address. Default 100. */
  maxHandshakingPerAddress?: number;
  socket?: DgramSocket;
}

function invalid(name: string, why: string): ApiMisuseError {
  return new ApiMisuseError('ERR_DTLS_INVALID_OPTION', `option ${name}: ${why}`);
}

export function intOption(value: unknown, name: string, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function pemText(p: PemInput): string {
  return typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8');
}

const pemCache = new BoundedCache<Uint8Array[]>(64);
const trustCache = new BoundedCache<TrustStore>(16);
const credentialCache = new BoundedCache<LocalCredentials>(16);

/** The joined PEM text of an option (the cache key of what is parsed from it). */
function pemKey(input: PemInput | readonly PemInput[]): string {
  return Array.isArray(input) ? (input as readonly PemInput[]).map(pemText).join('\n') : pemText(input as PemInput);
}

function pemList(input: PemInput | readonly PemInput[] | undefined, name: string): Uint8Array[] {
  if (input === undefined) return [];
  const list = Array.isArray(input) ? (input as readonly PemInput[]) : [input as PemInput];
  return list.flatMap((p) => {
    const text = pemText(p);
    return pemCache.get(`${name}\0${text}`, () => parsePemCertificates(text, `option ${name}`));
  });
}

function trustStore(ca: PemInput | readonly PemInput[] | undefined): TrustStore {
  if (ca === undefined) return trustCache.get('', () => new TrustStore([]));
  return trustCache.get(pemKey(ca), () => new TrustStore(pemList(ca, 'ca')));
}

const GROUP_NAMES: Record<string, NamedGroup> = {
  x25519: NamedGroup.x25519,
  X25519: NamedGroup.x25519,
  'P-256': NamedGroup.secp256r1,
  prime256v1: NamedGroup.secp256r1,
  secp256r1: NamedGroup.secp256r1,
  'P-384': NamedGroup.secp384r1,
  secp384r1: NamedGroup.secp384r1,
};

/**
 * Resolved lists, shared between connections made with the same option values (every connection keeps its lists:
 * one frozen array per distinct value, not one per connect()).
 */
const listCache = new BoundedCache<readonly unknown[]>(64);

function sharedList<T>(kind: string, value: string | readonly string[] | undefined, resolve: () => T[]): readonly T[] {
  if (value !== undefined && typeof value !== 'string' && !Array.isArray(value)) return resolve(); // reports the bad value
  const key = value === undefined ? `${kind}\0` : `${kind}\0${typeof value === 'string' ? value : `[${value.join('\0')}]`}`;
  return listCache.get(key, () => Object.freeze(resolve())) as readonly T[];
}

export function resolveSuites(ciphers: string | readonly string[] | undefined): CipherSuite[] {
  if (ciphers === undefined) return [...DTLS12_SUITES];
  const names = typeof ciphers === 'string' ? ciphers.split(':').filter((s) => s.length > 0) : [...ciphers];
  if (names.length === 0) throw invalid('ciphers', 'no cipher suite given');
  return names.map((n) => {
    const s = suiteByName(n);
    if (s === undefined) {
      throw invalid('ciphers', `unknown or unsupported suite ${n}; supported: ${DTLS12_SUITES.map((x) => x.name).join(', ')}`);
    }
    return s;
  });
}

/** dgram.createSocket options for a socket of ours: kernel buffer sizes (see CommonOptions). */
export function socketBufferOptions(o: CommonOptions, role: 'server' | 'client'): { recvBufferSize: number; sendBufferSize: number } {
  return {
    recvBufferSize: intOption(o.recvBufferSize, 'recvBufferSize', role === 'server' ? 4 << 20 : 1 << 20, 4096, 1 << 30),
    sendBufferSize: intOption(o.sendBufferSize, 'sendBufferSize', 1 << 20, 4096, 1 << 30),
  };
}

export function resolveSigalgs(sigalgs: string | readonly string[] | undefined): SignatureScheme[] {
  if (sigalgs === undefined) return [...SUPPORTED_SIGNATURE_SCHEMES];
  const names = typeof sigalgs === 'string' ? sigalgs.split(':').filter((s) => s.length > 0) : [...sigalgs];
  if (names.length === 0) throw invalid('sigalgs', 'no signature scheme given');
  return names.map((n) => {
    const scheme = SUPPORTED_SIGNATURE_SCHEMES.find((s) => schemeName(s) === n);
    if (scheme === undefined) {
      throw invalid('sigalgs', `unknown or unsupported signature scheme ${n}; supported: ${SUPPORTED_SIGNATURE_SCHEMES.map(schemeName).join(', ')}`);
    }
    return scheme;
  });
}

function resolveGroups(groups: readonly string[] | undefined): NamedGroup[] {
  if (groups === undefined) return [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1];
  if (groups.length === 0) throw invalid('groups', 'no group given');
  return groups.map((g) => {
    const id = GROUP_NAMES[g];
    if (id === undefined) throw invalid('groups', `unknown group ${g}; supported: x25519, P-256, P-384`);
    return id;
  });
}

function resolveCredentials(o: CommonOptions): LocalCredentials | undefined {
  if (o.cert === undefined && o.key === undefined) return undefined;
  if (o.cert === undefined || o.key === undefined) throw invalid(o.cert === undefined ? 'cert' : 'key', 'cert and key go together');
  const { cert, key } = o;
  return credentialCache.get(`${pemKey(cert)}\0${pemText(key)}`, () => loadCredentials(cert, key));
}

function loadCredentials(cert: PemInput | readonly PemInput[], keyPem: PemInput): LocalCredentials {
  const o = { cert, key: keyPem };
  const chain = pemList(o.cert, 'cert');
  if (chain.length === 0) throw invalid('cert', 'no certificate found');
  const key = loadSigningKey(pemText(o.key));
  if (!bytesEqual(describeCertificate(chain[0]!).publicKeySpki, key.spki)) {
    throw new ApiMisuseError('ERR_DTLS_KEY_MISMATCH', 'option key: the private key does not match the certificate in option cert');
  }
  return { chain, key };
}

/** Everything a connection needs except the role-specific parts. */
export interface ResolvedCommon {
  readonly crypto: CryptoProvider;
  readonly base: Omit<ConnectionConfig, 'role' | 'servername' | 'requestClientCertificate' | 'requireClientCertificate' | 'verifyPeer'>;
  readonly trust: TrustStore;
  readonly rejectUnauthorized: boolean;
  readonly checkPeer: CommonOptions['checkPeerCertificate'];
}

export function resolveCommon(o: CommonOptions): ResolvedCommon {
  if (o === null || typeof o !== 'object') throw invalid('options', 'must be an object');
  // One shared provider by default: it caches imported peer public keys across connections.
  const crypto = o.cryptoProvider ?? defaultCryptoProvider();
  const mtu = intOption(o.mtu, 'mtu', DEFAULTS.mtu, 256, 65507);
  const initialRetransmitMs = intOption(o.retransmitTimeout, 'retransmitTimeout', DEFAULTS.initialRetransmitMs, 10, 60_000);
  const maxRetransmitMs = intOption(o.maxRetransmitTimeout, 'maxRetransmitTimeout', DEFAULTS.maxRetransmitMs, initialRetransmitMs, 600_000);
  const handshakeTimeoutMs = intOption(o.handshakeTimeout, 'handshakeTimeout', DEFAULTS.handshakeTimeoutMs, 100, 3_600_000);
  const replayWindow = intOption(o.replayWindow, 'replayWindow', DEFAULTS.replayWindow, 32, 4096);
  const idleTimeoutMs = intOption(o.idleTimeout, 'idleTimeout', DEFAULTS.idleTimeoutMs, 0, 2_147_483_647);
  const maxBadRecords = intOption(o.maxBadRecords, 'maxBadRecords', DEFAULTS.maxBadRecords, 0, 2 ** 32);
  const maxDeferredRecords = intOption(o.maxDeferredRecords, 'maxDeferredRecords', DEFAULTS.maxDeferredRecords, 0, 4096);
  const maxHandshakeMessageLength = intOption(o.maxHandshakeMessageSize, 'maxHandshakeMessageSize', DEFAULTS.maxHandshakeMessageLength, 1024, 0xff_ffff);
  const maxHandshakeBufferedBytes = intOption(
    o.maxHandshakeBufferSize,
    'maxHandshakeBufferSize',
    Math.max(DEFAULTS.maxHandshakeBufferedBytes, maxHandshakeMessageLength),
    maxHandshakeMessageLength,
    64 * 1024 * 1024,
  );
  if (replayWindow % 32 !== 0) throw invalid('replayWindow', 'must be a multiple of 32');
  const alpnOption = o.ALPNProtocols;
  for (const p of alpnOption ?? []) {
    if (typeof p !== 'string' || p.length === 0 || Buffer.byteLength(p) > 255) throw invalid('ALPNProtocols', `bad protocol name ${String(p)}`);
  }
  const alpn = sharedList('alpn', alpnOption, () => [...(alpnOption ?? [])]);
  if (o.rejectUnauthorized !== undefined && typeof o.rejectUnauthorized !== 'boolean') throw invalid('rejectUnauthorized', 'must be a boolean');
  if (o.checkPeerCertificate !== undefined && typeof o.checkPeerCertificate !== 'function') throw invalid('checkPeerCertificate', 'must be a function');
  return {
    crypto,
    trust: trustStore(o.ca),
    rejectUnauthorized: o.rejectUnauthorized ?? true,
    checkPeer: o.checkPeerCertificate,
    base: {
      crypto,
      cipherSuites: sharedList('ciphers', o.ciphers, () => resolveSuites(o.ciphers)),
      groups: sharedList('groups', o.groups, () => resolveGroups(o.groups)),
      signatureSchemes: sharedList('sigalgs', o.sigalgs, () => resolveSigalgs(o.sigalgs)),
      credentials: resolveCredentials(o),
      alpnProtocols: alpn,
      requireExtendedMasterSecret: o.requireExtendedMasterSecret ?? true,
      mtu,
      initialRetransmitMs,
      maxRetransmitMs,
      handshakeTimeoutMs,
      replayWindow,
      maxHandshakeMessageLength,
      maxHandshakeBufferedBytes,
      maxDeferredRecords,
      idleTimeoutMs,
      maxBadRecords,
    },
  };
}

/** What differs between connections of one set of options: the role and the peer checks. */
export interface ConnectionRole {
  readonly role: 'client' | 'server';
  readonly servername: string | undefined;
  readonly requestClientCertificate: boolean;
  readonly requireClientCertificate: boolean;
  readonly verifyPeer: ConnectionConfig['verifyPeer'];
}

/**
 * The core's config for a connection, as one object literal of fixed shape. (A spread of the base plus the role
 * gave every client connection an object with a hidden class of its own: 0.7 KiB of heap per connection.)
 */
export function connectionConfig(b: ResolvedCommon['base'], r: ConnectionRole): ConnectionConfig {
  return {
    role: r.role,
    crypto: b.crypto,
    cipherSuites: b.cipherSuites,
    groups: b.groups,
    signatureSchemes: b.signatureSchemes,
    credentials: b.credentials,
    verifyPeer: r.verifyPeer,
    servername: r.servername,
    requestClientCertificate: r.requestClientCertificate,
    requireClientCertificate: r.requireClientCertificate,
    alpnProtocols: b.alpnProtocols,
    requireExtendedMasterSecret: b.requireExtendedMasterSecret,
    mtu: b.mtu,
    initialRetransmitMs: b.initialRetransmitMs,
    maxRetransmitMs: b.maxRetransmitMs,
    handshakeTimeoutMs: b.handshakeTimeoutMs,
    replayWindow: b.replayWindow,
    maxHandshakeMessageLength: b.maxHandshakeMessageLength,
    maxDeferredRecords: b.maxDeferredRecords,
    maxHandshakeBufferedBytes: b.maxHandshakeBufferedBytes,
    idleTimeoutMs: b.idleTimeoutMs,
    maxBadRecords: b.maxBadRecords,
  };
}

/** The certificate check the core calls, closing over the trust store, clock and user policy. */
export function makeVerifier(r: ResolvedCommon): PeerVerifier {
  // Only what the check needs (a connection keeps its verifier; the rest of `r` need not stay with it).
  const { trust, crypto, rejectUnauthorized, checkPeer } = r;
  return (chain, role, servername) =>
    verifyCertificateChain(chain, {
      trust,
      role,
      ...(servername !== undefined ? { servername } : {}),
      now: crypto.wallClock(),
      rejectUnauthorized,
      ...(checkPeer !== undefined ? { checkPeer } : {}),
    });
}

/** The server's caps (ServerOptions max*), validated, with the documented defaults. */
export function resolveServerLimits(o: ServerOptions): EndpointLimits {
  const d = DEFAULT_ENDPOINT_LIMITS;
  if (o.cookies !== undefined && typeof o.cookies !== 'boolean') throw invalid('cookies', 'must be a boolean');
  return {
    maxConnections: intOption(o.maxConnections, 'maxConnections', d.maxConnections, 1, 10_000_000),
    maxConnectionsPerAddress: intOption(o.maxConnectionsPerAddress, 'maxConnectionsPerAddress', d.maxConnectionsPerAddress, 1, 10_000_000),
    maxHandshaking: intOption(o.maxHandshaking, 'maxHandshaking', d.maxHandshaking, 1, 10_000_000),
    maxHandshakingPerAddress: intOption(o.maxHandshakingPerAddress, 'maxHandshakingPerAddress', d.maxHandshakingPerAddress, 1, 10_000_000),
    cookieLifetimeMs: d.cookieLifetimeMs,
    cookies: o.cookies ?? true,
  };
}
