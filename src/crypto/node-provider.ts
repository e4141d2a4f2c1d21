/**
 * The default CryptoProvider, on node:crypto.
 *
 * Every byte array returned is a plain `Uint8Array` (a view over node's Buffer memory, never a copy), so callers
 * can compare results with `assert.deepStrictEqual` against `Uint8Array`s without surprises.
 *
 * Randomness: by default node's CSPRNG (small requests through a pool, see pooledRandomBytes), and ephemeral
 * keys come from OpenSSL's key generation. When a `random` override is passed, ephemeral private keys are built
 * from that RNG instead, so that a test provider with a fixed RNG reproduces handshakes byte for byte.
 */
import {
  constants,
  createECDH,
  createHash as nodeCreateHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes as nodeRandomBytes,
  randomFillSync,
  verify as nodeVerify,
  type Hash,
  type KeyObject,
} from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { IncompatibleError, InternalError, PeerMisbehavedError } from '../errors.js';
import { AlertDescription, NamedGroup, SignatureScheme } from '../msgs/enums.js';
import type {
  Aead,
  AeadAlgorithm,
  CryptoProvider,
  HashAlgorithm,
  HmacKey,
  IncrementalHash,
  KeyShare,
} from './provider.js';
import { groupName } from './kx.js';
import { NodeAead } from './node-aead.js';

export interface NodeCryptoProviderOptions {
  /** Replaces `crypto.randomBytes` (and ephemeral key generation) — for reproducible tests only. */
  random?: (length: number) => Uint8Array;
  /** Replaces `Date.now` for certificate validity and cookie timestamps. */
  wallClock?: () => number;
}

/** A Uint8Array view of a Buffer's bytes (no copy). */
function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A Buffer view of a Uint8Array's bytes (no copy). */
function buf(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

// ---------------------------------------------------------------------------------------------------------------
// AEAD: the algorithms are in node-aead.ts; here only the key lengths.
// ---------------------------------------------------------------------------------------------------------------

const AEAD_KEY_LENGTH: Record<AeadAlgorithm, number> = {
  'aes-128-gcm': 16,
  'aes-256-gcm': 32,
  'chacha20-poly1305': 32,
  'aes-128-ccm': 16,
  'aes-128-ccm8': 16,
};

// ---------------------------------------------------------------------------------------------------------------
// Key agreement
// ---------------------------------------------------------------------------------------------------------------

function badShare(message: string, cause?: unknown): PeerMisbehavedError {
  return new PeerMisbehavedError('ERR_DTLS_BAD_KEY_SHARE', message, AlertDescription.illegal_parameter, { cause });
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** An X25519 private key from 32 raw bytes (RFC 7748 §5: clamping happens inside). */
function x25519PrivateFromRaw(d: Uint8Array): KeyObject {
  const dB64 = buf(d).toString('base64url');
  try {
    // node derives the public half from `d` and only checks `x` for form; the JWK path costs ~10 µs against
    // ~1 ms for the PKCS#8 DER decoder.
    return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: dB64, x: 'A'.repeat(43) }, format: 'jwk' });
  } catch {
    return createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, buf(d)]), format: 'der', type: 'pkcs8' });
  }
}

/**
 * X25519 key share (RFC 7748 §5, §6.1; RFC 8422 §5.11 for TLS 1.2). Public values are the raw 32-byte
 * u-coordinate; keys move in and out of node through JWK, which is an order of magnitude cheaper than SPKI.
 */
class X25519Share implements KeyShare {
  readonly group = NamedGroup.x25519;
  readonly publicKey: Uint8Array;
  /**
   * `jwkX`: the public value as the key generation returned it. Exporting it afterwards from a key made by
   * generateKeyPairSync (createPublicKey(...).export({format:'jwk'})) can deadlock Node 20 for ever when a GC
   * runs during the export (see bench/repro/node20-x25519-jwk-deadlock.mjs), so fresh keys ask the generation
   * for the JWK instead.
   */
  constructor(private readonly privateKey: KeyObject, jwkX?: string) {
    const x = jwkX ?? createPublicKey(privateKey).export({ format: 'jwk' }).x;
    if (typeof x !== 'string') throw new InternalError('X25519 public key export failed');
    this.publicKey = view(Buffer.from(x, 'base64url'));
  }

  /**
   * RFC 7748 §6.1: the peer value must be 32 bytes, and an all-zero shared secret (a low-order peer point) must
   * be rejected. OpenSSL already fails such a derivation; both cases become illegal_parameter.
   */
  deriveSecret(peerPublicKey: Uint8Array): Uint8Array {
    if (peerPublicKey.length !== 32) {
      throw badShare(`X25519 public value must be 32 bytes, got ${peerPublicKey.length}`);
    }
    let secret: Buffer;
    try {
      const publicKey = createPublicKey({
        key: { kty: 'OKP', crv: 'X25519', x: buf(peerPublicKey).toString('base64url') },
        format: 'jwk',
      });
      secret = diffieHellman({ privateKey: this.privateKey, publicKey });
    } catch (cause) {
      throw badShare('X25519 key agreement failed (low-order or invalid public value)', cause);
    }
    let acc = 0;
    for (let i = 0; i < secret.length; i++) acc |= secret[i]!;
    if (acc === 0) throw badShare('X25519 shared secret is all zeros (RFC 7748 §6.1)');
    return view(secret);
  }
}

/**
 * ECDHE over P-256 / P-384 (RFC 8422 §5.10, §5.11): public values are uncompressed points 0x04 ‖ X ‖ Y
 * (RFC 8422 §5.4.1 — compressed points are deprecated and we never negotiate them), and the shared secret is
 * the X coordinate of the product, left-padded to the field size (node's computeSecret gives exactly that).
 */
class EcdhShare implements KeyShare {
  readonly publicKey: Uint8Array;
  constructor(
    readonly group: NamedGroup.secp256r1 | NamedGroup.secp384r1,
    private readonly fieldLength: number,
    private readonly ecdh: ReturnType<typeof createECDH>,
  ) {
    this.publicKey = view(ecdh.getPublicKey());
  }

  deriveSecret(peerPublicKey: Uint8Array): Uint8Array {
    const expected = 1 + 2 * this.fieldLength;
    if (peerPublicKey.length !== expected || peerPublicKey[0] !== 0x04) {
      throw badShare(`${groupName(this.group)} public value must be an uncompressed point of ${expected} bytes`);
    }
    try {
      // computeSecret checks that the point is on the curve (ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY otherwise).
      return view(this.ecdh.computeSecret(peerPublicKey));
    } catch (cause) {
      throw badShare(`${groupName(this.group)} public value is not a valid curve point`, cause);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Signature verification
// ---------------------------------------------------------------------------------------------------------------

const KEY_CACHE_SIZE = 64;

interface SchemeParams {
  readonly keyType: 'ec' | 'rsa' | 'ed25519';
  readonly curve?: 'prime256v1' | 'secp384r1';
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  readonly padding?: number;
  readonly saltLength?: number;
}

/** RFC 8446 §4.2.3 semantics for each verifiable scheme (also used for TLS 1.2 SignatureAndHashAlgorithm). */
const SCHEME_PARAMS = new Map<number, SchemeParams>([
  [SignatureScheme.ecdsa_secp256r1_sha256, { keyType: 'ec', curve: 'prime256v1', hash: 'sha256' }],
  [SignatureScheme.ecdsa_secp384r1_sha384, { keyType: 'ec', curve: 'secp384r1', hash: 'sha384' }],
  [SignatureScheme.rsa_pss_rsae_sha256, { keyType: 'rsa', hash: 'sha256', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }],
  [SignatureScheme.rsa_pss_rsae_sha384, { keyType: 'rsa', hash: 'sha384', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }],
  [SignatureScheme.rsa_pss_rsae_sha512, { keyType: 'rsa', hash: 'sha512', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }],
  [SignatureScheme.rsa_pkcs1_sha256, { keyType: 'rsa', hash: 'sha256', padding: constants.RSA_PKCS1_PADDING }],
  [SignatureScheme.rsa_pkcs1_sha384, { keyType: 'rsa', hash: 'sha384', padding: constants.RSA_PKCS1_PADDING }],
  [SignatureScheme.rsa_pkcs1_sha512, { keyType: 'rsa', hash: 'sha512', padding: constants.RSA_PKCS1_PADDING }],
  [SignatureScheme.ed25519, { keyType: 'ed25519', hash: null }],
]);

// ---------------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------------
// Hashes and HMAC
// ---------------------------------------------------------------------------------------------------------------

/** node's one-shot `crypto.hash` (Node >= 20.12): no Hash object per digest. Undefined on older Node 20. */
const oneShotHash: ((algorithm: string, data: Uint8Array, outputEncoding: 'buffer') => Buffer) | undefined =
  typeof nodeCrypto.hash === 'function' ? nodeCrypto.hash : undefined;

function digestOnce(algorithm: HashAlgorithm, data: Uint8Array): Buffer {
  return oneShotHash !== undefined ? oneShotHash(algorithm, data, 'buffer') : nodeCreateHash(algorithm).update(data).digest();
}

/** RFC 2104 §2: the block size B and output length L of each hash, in bytes. */
const HASH_BLOCK_LENGTH: Record<HashAlgorithm, number> = { sha256: 64, sha384: 128 };
const HASH_OUTPUT_LENGTH: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48 };

/** Room for the text after K ⊕ ipad before the buffer has to grow (PRF texts are at most ~130 bytes). */
const HMAC_TEXT_ROOM = 192;

/**
 * HMAC (RFC 2104 §2) as two one-shot hashes, H(K ⊕ opad ‖ H(K ⊕ ipad ‖ text)), with K ⊕ ipad and K ⊕ opad
 * computed once per key. In node this is cheaper than a createHmac per MAC, which builds a Hmac object and has
 * OpenSSL set the key up each time. Known-answer tested against RFC 4231.
 */
class NodeHmacKey implements HmacKey {
  /** K ⊕ ipad, then the text of the MAC being computed. */
  private inner: Buffer;
  /** K ⊕ opad, then the inner digest. */
  private readonly outer: Buffer;
  private readonly blockLength: number;

  constructor(private readonly algorithm: HashAlgorithm, key: Uint8Array) {
    const b = HASH_BLOCK_LENGTH[algorithm];
    if (b === undefined) throw new InternalError(`unknown hash algorithm ${String(algorithm)}`);
    this.blockLength = b;
    // A key longer than B is hashed first; a shorter one is padded with zeros to B.
    const k = key.length > b ? digestOnce(algorithm, key) : key;
    this.inner = Buffer.alloc(b + HMAC_TEXT_ROOM);
    this.outer = Buffer.alloc(b + HASH_OUTPUT_LENGTH[algorithm]);
    for (let i = 0; i < b; i++) {
      const x = i < k.length ? k[i]! : 0;
      this.inner[i] = x ^ 0x36;
      this.outer[i] = x ^ 0x5c;
    }
  }

  mac(data: Uint8Array, more?: Uint8Array): Uint8Array {
    const b = this.blockLength;
    const n = b + data.length + (more === undefined ? 0 : more.length);
    if (n > this.inner.length) {
      const grown = Buffer.alloc(n);
      this.inner.copy(grown, 0, 0, b);
      this.inner = grown;
    }
    this.inner.set(data, b);
    if (more !== undefined) this.inner.set(more, b + data.length);
    this.outer.set(digestOnce(this.algorithm, this.inner.subarray(0, n)), b);
    return view(digestOnce(this.algorithm, this.outer));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------------------------

/**
 * Small requests (hello randoms, cookie secrets) are served from a pool filled by one `randomFillSync` per 4 KiB:
 * each call into OpenSSL's RAND_bytes costs several microseconds, a handshake makes two. The bytes are the same
 * CSPRNG output; each is handed out once and wiped from the pool as it is, so the pool only ever holds bytes
 * not yet used (OpenSSL's DRBG state in the same memory predicts those anyway). Worker threads have their own.
 */
const RANDOM_POOL_SIZE = 4096;
const RANDOM_POOL_MAX_REQUEST = 64;
const randomPool = Buffer.alloc(RANDOM_POOL_SIZE);
let randomPoolAt = RANDOM_POOL_SIZE;

function pooledRandomBytes(length: number): Uint8Array {
  if (randomPoolAt + length > RANDOM_POOL_SIZE) {
    randomFillSync(randomPool);
    randomPoolAt = 0;
  }
  const end = randomPoolAt + length;
  const out = new Uint8Array(length);
  out.set(randomPool.subarray(randomPoolAt, end));
  randomPool.fill(0, randomPoolAt, end);
  randomPoolAt = end;
  return out;
}

/** Incremental hash over node's Hash; digest() forks with Hash.copy() so the running hash continues. */
class NodeIncrementalHash implements IncrementalHash {
  constructor(private readonly h: Hash) {}
  update(data: Uint8Array): void {
    this.h.update(data);
  }
  digest(): Uint8Array {
    return view(this.h.copy().digest());
  }
}

export class NodeCryptoProvider implements CryptoProvider {
  private readonly random: ((n: number) => Uint8Array) | undefined;
  /** The group of the last generateKeyShare(), and a pair generated ahead for it (see prepareKeyShare). */
  private lastGroup: NamedGroup | undefined;
  private spare: KeyShare | undefined;
  private readonly clock: () => number;
  /** Imported peer public keys by SPKI bytes (latin1 string), most recently used last. */
  private readonly keyCache = new Map<string, KeyObject>();

  constructor(options: NodeCryptoProviderOptions = {}) {
    this.random = options.random;
    this.clock = options.wallClock ?? Date.now;
  }

  randomBytes(length: number): Uint8Array {
    if (this.random) {
      const r = this.random(length);
      if (r.length !== length) throw new InternalError(`random override returned ${r.length} bytes, wanted ${length}`);
      return r;
    }
    return length <= RANDOM_POOL_MAX_REQUEST ? pooledRandomBytes(length) : view(nodeRandomBytes(length));
  }

  wallClock(): number {
    return this.clock();
  }

  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array {
    return view(digestOnce(algorithm, data));
  }

  createHash(algorithm: HashAlgorithm): IncrementalHash {
    return new NodeIncrementalHash(nodeCreateHash(algorithm));
  }

  /** HMAC, RFC 2104. */
  hmac(algorithm: HashAlgorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
    return view(createHmac(algorithm, key).update(data).digest());
  }

  createHmacKey(algorithm: HashAlgorithm, key: Uint8Array): HmacKey {
    return new NodeHmacKey(algorithm, key);
  }

  createAead(algorithm: AeadAlgorithm, key: Uint8Array): Aead {
    const want = AEAD_KEY_LENGTH[algorithm];
    if (want === undefined) throw new InternalError(`unknown AEAD algorithm ${String(algorithm)}`);
    if (key.length !== want) throw new InternalError(`${algorithm} key must be ${want} bytes, got ${key.length}`);
    const k = createSecretKey(key); // copies the key into node; the caller's array may be wiped afterwards
    switch (algorithm) {
      case 'aes-128-gcm':
      case 'aes-256-gcm':
      case 'chacha20-poly1305':
      case 'aes-128-ccm':
      case 'aes-128-ccm8':
        return new NodeAead(algorithm, k);
    }
  }

  /**
   * A fresh ephemeral key pair (RFC 8422 §5.10 ECDHE for TLS 1.2; RFC 8446 §4.2.8 key_share for 1.3).
   * Throws IncompatibleError for a group we do not implement.
   */
  generateKeyShare(group: NamedGroup): KeyShare {
    this.lastGroup = group;
    const spare = this.spare;
    if (spare !== undefined && spare.group === group) {
      this.spare = undefined;
      return spare;
    }
    return this.newKeyShare(group);
  }

  /**
   * Generates, now, the key pair the next generateKeyShare() of the group used last will hand out (once). A
   * driver calls it when idle — the server after it has sent a flight — so that key generation is off the next
   * handshake's path. Each pair is still fresh from the CSPRNG and used for one handshake only; at most one is
   * held. Does nothing with a `random` override, so reproducible tests draw their RNG in the same order.
   */
  prepareKeyShare(): void {
    const group = this.lastGroup;
    if (this.random !== undefined || group === undefined || this.spare?.group === group) return;
    try {
      this.spare = this.newKeyShare(group);
    } catch {
      // Called from a driver's setImmediate, where a throw would be uncaught: the handshake's own
      // generateKeyShare() makes the pair and reports any failure where it belongs.
      this.spare = undefined;
    }
  }

  private newKeyShare(group: NamedGroup): KeyShare {
    switch (group) {
      case NamedGroup.x25519: {
        if (this.random) return new X25519Share(x25519PrivateFromRaw(this.randomBytes(32)));
        // @types/node has no overload for a JWK publicKeyEncoding; Node returns the JWK object.
        const pair = generateKeyPairSync('x25519', { publicKeyEncoding: { format: 'jwk' } } as never) as unknown as {
          privateKey: KeyObject;
          publicKey: { x?: string };
        };
        return new X25519Share(pair.privateKey, pair.publicKey.x);
      }
      case NamedGroup.secp256r1:
        return new EcdhShare(NamedGroup.secp256r1, 32, this.ecdhKey('prime256v1', 32));
      case NamedGroup.secp384r1:
        return new EcdhShare(NamedGroup.secp384r1, 48, this.ecdhKey('secp384r1', 48));
      default:
        throw new IncompatibleError(`unsupported key exchange group ${groupName(group)}`);
    }
  }

  private ecdhKey(curve: 'prime256v1' | 'secp384r1', length: number): ReturnType<typeof createECDH> {
    const ecdh = createECDH(curve);
    if (!this.random) {
      ecdh.generateKeys();
      return ecdh;
    }
    // Rejection sampling from the injected RNG: a value outside [1, n-1] is refused by setPrivateKey.
    for (let attempt = 0; attempt < 64; attempt++) {
      try {
        ecdh.setPrivateKey(this.randomBytes(length));
        return ecdh;
      } catch {
        // try the next value
      }
    }
    throw new InternalError(`the random override produced no valid ${curve} private key in 64 attempts`);
  }

  /**
   * Verifies a signature (RFC 8446 §4.2.3 schemes; for TLS 1.2 the same code points, RFC 5246 §4.7 / §7.4.1.4.1).
   * ECDSA signatures are DER; as in (D)TLS 1.2 (RFC 5246 §7.4.1.4.1) an ECDSA scheme fixes the hash, not the
   * curve, so a P-256 or P-384 key is accepted with either (DTLS 1.3 callers must check the curve, RFC 8446
   * §4.2.3); RSA-PSS uses salt length = hash length
   * and needs an rsaEncryption key (rsa_pss_rsae_*); Ed25519 is PureEdDSA. Returns false, never throws.
   */
  verify(scheme: SignatureScheme, spki: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
    const params = SCHEME_PARAMS.get(scheme);
    if (params === undefined) return false;
    try {
      const key = this.publicKey(spki);
      if (key.asymmetricKeyType !== params.keyType) return false;
      if (params.keyType === 'ec') {
        const curve = key.asymmetricKeyDetails?.namedCurve;
        if (curve !== 'prime256v1' && curve !== 'secp384r1') return false;
        return nodeVerify(params.hash, data, { key, dsaEncoding: 'der' }, signature);
      }
      if (params.keyType === 'ed25519') {
        return nodeVerify(null, data, key, signature);
      }
      return nodeVerify(
        params.hash,
        data,
        params.saltLength === undefined
          ? { key, padding: params.padding }
          : { key, padding: params.padding, saltLength: params.saltLength },
        signature,
      );
    } catch {
      return false;
    }
  }

  /** Imports an SPKI public key, through a small LRU cache (the same certificate key is verified repeatedly). */
  private publicKey(spki: Uint8Array): KeyObject {
    const id = buf(spki).toString('latin1');
    const cached = this.keyCache.get(id);
    if (cached !== undefined) {
      this.keyCache.delete(id);
      this.keyCache.set(id, cached);
      return cached;
    }
    const key = createPublicKey({ key: buf(spki), format: 'der', type: 'spki' });
    if (this.keyCache.size >= KEY_CACHE_SIZE) {
      const oldest = this.keyCache.keys().next();
      if (!oldest.done) this.keyCache.delete(oldest.value);
    }
    this.keyCache.set(id, key);
    return key;
  }
}
