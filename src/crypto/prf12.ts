/**
 * The TLS 1.2 pseudorandom function and everything DTLS 1.2 derives with it: master secret (RFC 5246 §8.1),
 * extended master secret (RFC 7627 §4), key block (RFC 5246 §6.3), Finished verify_data (RFC 5246 §7.4.9) and
 * keying-material exporters (RFC 5705 §4). DTLS 1.2 uses these unchanged (RFC 6347 §4.2).
 */
import { ApiMisuseError } from '../errors.js';
import type { CryptoProvider, HashAlgorithm, HmacKey } from './provider.js';
import type { CipherSuite } from './suites.js';
import { concatBytes as concat } from '../util/bytes.js';

const encoder = new TextEncoder();


/**
 * RFC 5246 §5:
 *
 *     P_hash(secret, seed) = HMAC_hash(secret, A(1) + seed) + HMAC_hash(secret, A(2) + seed) + ...
 *     A(0) = seed, A(i) = HMAC_hash(secret, A(i-1))
 *     PRF(secret, label, seed) = P_<hash>(secret, label + seed)
 *
 * `label` is ASCII without a terminating NUL. The hash is SHA-256 unless the suite names another (SHA-384).
 */
export function prf12(
  provider: CryptoProvider,
  hash: HashAlgorithm,
  secret: Uint8Array,
  label: string,
  seed: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`PRF output length ${length} is invalid`);
  const labelSeed = concat(encoder.encode(label), seed);
  const key = hmacKey(provider, hash, secret);
  const out = new Uint8Array(length);
  let a = labelSeed; // A(0)
  let filled = 0;
  // Exactly ceil(length / L) blocks: A(i) and HMAC(A(i) ‖ label ‖ seed) for each, nothing after the last.
  while (filled < length) {
    a = key.mac(a); // A(i)
    const block = key.mac(a, labelSeed);
    const take = Math.min(block.length, length - filled);
    out.set(take === block.length ? block : block.subarray(0, take), filled);
    filled += take;
  }
  return out;
}

/** The provider's prepared HMAC key when it has one, else one `hmac()` call per MAC. */
function hmacKey(provider: CryptoProvider, hash: HashAlgorithm, secret: Uint8Array): HmacKey {
  if (provider.createHmacKey !== undefined) return provider.createHmacKey(hash, secret);
  return { mac: (data, more) => provider.hmac(hash, secret, more === undefined ? data : concat(data, more)) };
}

/**
 * RFC 5246 §8.1: master_secret = PRF(pre_master_secret, "master secret", ClientHello.random +
 * ServerHello.random)[0..47].
 */
export function masterSecret(
  provider: CryptoProvider,
  hash: HashAlgorithm,
  preMaster: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
): Uint8Array {
  return prf12(provider, hash, preMaster, 'master secret', concat(clientRandom, serverRandom), 48);
}

/**
 * RFC 7627 §4: master_secret = PRF(pre_master_secret, "extended master secret", session_hash)[0..47], where
 * session_hash is the transcript hash up to and including ClientKeyExchange (RFC 7627 §3).
 */
export function extendedMasterSecret(
  provider: CryptoProvider,
  hash: HashAlgorithm,
  preMaster: Uint8Array,
  sessionHash: Uint8Array,
): Uint8Array {
  return prf12(provider, hash, preMaster, 'extended master secret', sessionHash, 48);
}

export interface KeyBlock {
  readonly clientWriteKey: Uint8Array;
  readonly serverWriteKey: Uint8Array;
  /** The implicit ("salt") part of the AEAD nonce (RFC 5288 §3, RFC 6655 §3) or the whole IV (RFC 7905 §2). */
  readonly clientWriteIv: Uint8Array;
  readonly serverWriteIv: Uint8Array;
}

/**
 * RFC 5246 §6.3:
 *
 *     key_block = PRF(SecurityParameters.master_secret, "key expansion",
 *                     SecurityParameters.server_random + SecurityParameters.client_random);
 *
 * partitioned into client_write_MAC_key, server_write_MAC_key, client_write_key, server_write_key,
 * client_write_IV, server_write_IV. AEAD suites have no MAC keys (mac_key_length = 0, RFC 5246 §6.2.3.3); the
 * IV length is the suite's fixed_iv_length (4 for GCM/CCM, 12 for ChaCha20-Poly1305). The PRF hash is the suite's.
 */
export function keyBlock(
  provider: CryptoProvider,
  suite: CipherSuite,
  master: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
): KeyBlock {
  const k = suite.keyLength;
  const iv = suite.fixedIvLength;
  const block = prf12(provider, suite.hash, master, 'key expansion', concat(serverRandom, clientRandom), 2 * k + 2 * iv);
  return {
    clientWriteKey: block.subarray(0, k),
    serverWriteKey: block.subarray(k, 2 * k),
    clientWriteIv: block.subarray(2 * k, 2 * k + iv),
    serverWriteIv: block.subarray(2 * k + iv, 2 * k + 2 * iv),
  };
}

/**
 * RFC 5246 §7.4.9: verify_data = PRF(master_secret, finished_label, Hash(handshake_messages))[0..11], where
 * finished_label is "client finished" or "server finished" and verify_data_length is 12 for all our suites.
 */
export function verifyData(
  provider: CryptoProvider,
  hash: HashAlgorithm,
  master: Uint8Array,
  label: 'client finished' | 'server finished',
  handshakeHash: Uint8Array,
): Uint8Array {
  return prf12(provider, hash, master, label, handshakeHash, 12);
}

/** Labels the TLS 1.2 key schedule itself uses; RFC 5705 §4 says exporter labels must not collide with them. */
const RESERVED_LABELS = new Set([
  'client finished',
  'server finished',
  'master secret',
  'extended master secret',
  'key expansion',
]);

/**
 * RFC 5705 §4:
 *
 *     PRF(SecurityParameters.master_secret, label,
 *         SecurityParameters.client_random + SecurityParameters.server_random
 *         [+ context_value_length + context_value])[length]
 *
 * With no context (`undefined`) the seed is just the two randoms; an empty context is different from no
 * context (it adds a zero u16 length). Context is at most 2^16 - 1 bytes. Throws ApiMisuseError
 * ERR_DTLS_BAD_EXPORTER_LABEL for an empty label or one the key schedule reserves.
 */
export function exportKeyingMaterial(
  provider: CryptoProvider,
  hash: HashAlgorithm,
  master: Uint8Array,
  label: string,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  context: Uint8Array | undefined,
  length: number,
): Uint8Array {
  if (label.length === 0 || RESERVED_LABELS.has(label)) {
    throw new ApiMisuseError('ERR_DTLS_BAD_EXPORTER_LABEL', `exporter label ${JSON.stringify(label)} is not allowed`);
  }
  if (!Number.isInteger(length) || length < 0) {
    throw new ApiMisuseError('ERR_DTLS_BAD_EXPORTER_LENGTH', `exporter length ${length} is invalid`);
  }
  let seed: Uint8Array;
  if (context === undefined) {
    seed = concat(clientRandom, serverRandom);
  } else {
    if (context.length > 0xffff) {
      throw new ApiMisuseError('ERR_DTLS_BAD_EXPORTER_CONTEXT', 'exporter context must be shorter than 65536 bytes');
    }
    seed = concat(clientRandom, serverRandom, new Uint8Array([context.length >> 8, context.length & 0xff]), context);
  }
  return prf12(provider, hash, master, label, seed, length);
}
