import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import {
  exportKeyingMaterial,
  extendedMasterSecret,
  keyBlock,
  masterSecret,
  prf12,
  verifyData,
} from '../../src/crypto/prf12.js';
import { DTLS12_SUITES, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 } from '../../src/crypto/suites.js';
import type { AeadAlgorithm, CryptoProvider, SigningKey } from '../../src/crypto/provider.js';
import { loadSigningKey, publicKeySpki } from '../../src/crypto/signing-key.js';
import {
  chooseSignatureScheme,
  isSchemeSupported,
  schemeHash,
  schemeName,
  SUPPORTED_SIGNATURE_SCHEMES,
} from '../../src/crypto/signature.js';
import { isGroupSupported, SUPPORTED_GROUPS } from '../../src/crypto/kx.js';
import { ApiMisuseError, IncompatibleError, PeerMisbehavedError } from '../../src/errors.js';
import { AlertDescription, NamedGroup, SignatureScheme } from '../../src/msgs/enums.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString('hex');
const ascii = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

const provider = new NodeCryptoProvider();

/** A provider whose RNG returns a fixed queue of byte strings (for reproducible key shares). */
function fixedRandomProvider(values: Uint8Array[]): NodeCryptoProvider {
  const queue = [...values];
  return new NodeCryptoProvider({
    random: (n) => {
      const v = queue.shift();
      if (v === undefined || v.length !== n) throw new Error(`fixed RNG: no ${n}-byte value queued`);
      return v;
    },
    wallClock: () => 1_700_000_000_000,
  });
}

function assertBadKeyShare(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PeerMisbehavedError, `expected PeerMisbehavedError, got ${String(e)}`);
    assert.equal(e.code, 'ERR_DTLS_BAD_KEY_SHARE');
    assert.equal(e.alert, AlertDescription.illegal_parameter);
    return true;
  });
}

// -------------------------------------------------------------------------------------------------------------
describe('TLS 1.2 PRF (RFC 5246 §5)', () => {
  it('P_SHA256 known answer (IETF TLS list vector, 100 bytes)', () => {
    const out = prf12(provider, 'sha256', hex('9bbe436ba940f017b17652849a71db35'), 'test label',
      hex('a0ba9f936cda311827a6f796ffd5198c'), 100);
    assert.equal(toHex(out),
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17'
      + 'abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66');
  });

  it('P_SHA384 known answer (148 bytes)', () => {
    const out = prf12(provider, 'sha384', hex('b80b733d6ceefcdc71566ea48e5567df'), 'test label',
      hex('cd665cf6a8447dd6ff8b27555edb7465'), 148);
    assert.equal(toHex(out),
      '7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700'
      + '884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a2'
      + '6066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f');
  });

  it('a provider without createHmacKey gets the same output through hmac()', () => {
    const plain: CryptoProvider = {
      randomBytes: (n) => provider.randomBytes(n),
      wallClock: () => provider.wallClock(),
      hash: (a, d) => provider.hash(a, d),
      createHash: (a) => provider.createHash(a),
      hmac: (a, k, d) => provider.hmac(a, k, d),
      createAead: (a, k) => provider.createAead(a, k),
      generateKeyShare: (g) => provider.generateKeyShare(g),
      verify: (s, k, d, sig) => provider.verify(s, k, d, sig),
    };
    for (const [hash, length] of [['sha256', 100], ['sha384', 148], ['sha256', 12], ['sha384', 48]] as const) {
      const secret = hex('b80b733d6ceefcdc71566ea48e5567df');
      const seed = hex('cd665cf6a8447dd6ff8b27555edb7465');
      assert.deepEqual(prf12(plain, hash, secret, 'test label', seed, length), prf12(provider, hash, secret, 'test label', seed, length));
    }
  });

  it('output is a prefix-consistent stream (shorter requests are prefixes of longer ones)', () => {
    const secret = hex('00112233');
    const long = prf12(provider, 'sha256', secret, 'x', hex('aa'), 97);
    for (const n of [0, 1, 31, 32, 33, 64, 96]) {
      assert.deepEqual(prf12(provider, 'sha256', secret, 'x', hex('aa'), n), long.subarray(0, n));
    }
  });
});

describe('TLS 1.2 key derivation (RFC 5246 §8.1, §6.3, §7.4.9; RFC 7627 §4; RFC 5705 §4)', () => {
  const pre = hex('0303' + '11'.repeat(46));
  const cr = hex('c1'.repeat(32));
  const sr = hex('5e'.repeat(32));

  it('RFC 5246 §8.1 master secret is PRF(pms, "master secret", client_random + server_random)[0..47]', () => {
    const ms = masterSecret(provider, 'sha256', pre, cr, sr);
    assert.equal(ms.length, 48);
    assert.deepEqual(ms, prf12(provider, 'sha256', pre, 'master secret', cat(cr, sr), 48));
  });

  it('RFC 7627 §4 extended master secret uses the session hash and differs from the classic one', () => {
    const sessionHash = provider.hash('sha256', ascii('handshake so far'));
    const ems = extendedMasterSecret(provider, 'sha256', pre, sessionHash);
    assert.equal(ems.length, 48);
    assert.deepEqual(ems, prf12(provider, 'sha256', pre, 'extended master secret', sessionHash, 48));
    assert.notDeepEqual(ems, masterSecret(provider, 'sha256', pre, cr, sr));
  });

  it('RFC 5246 §6.3 key block: lengths per suite, seed server_random + client_random, no MAC keys', () => {
    const ms = masterSecret(provider, 'sha256', pre, cr, sr);
    for (const suite of DTLS12_SUITES) {
      const kb = keyBlock(provider, suite, ms, cr, sr);
      assert.equal(kb.clientWriteKey.length, suite.keyLength, suite.name);
      assert.equal(kb.serverWriteKey.length, suite.keyLength, suite.name);
      assert.equal(kb.clientWriteIv.length, suite.fixedIvLength, suite.name);
      assert.equal(kb.serverWriteIv.length, suite.fixedIvLength, suite.name);
      const raw = prf12(provider, suite.hash, ms, 'key expansion', cat(sr, cr), 2 * suite.keyLength + 2 * suite.fixedIvLength);
      assert.deepEqual(cat(kb.clientWriteKey, kb.serverWriteKey, kb.clientWriteIv, kb.serverWriteIv), raw, suite.name);
      assert.notDeepEqual(kb.clientWriteKey, kb.serverWriteKey);
    }
  });

  it('RFC 5246 §7.4.9 verify_data is 12 bytes and depends on the label', () => {
    const ms = masterSecret(provider, 'sha384', pre, cr, sr);
    const hh = provider.hash('sha384', ascii('transcript'));
    const c = verifyData(provider, 'sha384', ms, 'client finished', hh);
    const s = verifyData(provider, 'sha384', ms, 'server finished', hh);
    assert.equal(c.length, 12);
    assert.equal(s.length, 12);
    assert.notDeepEqual(c, s);
    assert.deepEqual(c, prf12(provider, 'sha384', ms, 'client finished', hh, 12));
  });

  it('RFC 5705 §4 exporter: seed layout, and output changes with label and context', () => {
    const ms = masterSecret(provider, 'sha256', pre, cr, sr);
    const noCtx = exportKeyingMaterial(provider, 'sha256', ms, 'EXTRACTOR-dtls_srtp', cr, sr, undefined, 60);
    assert.equal(noCtx.length, 60);
    assert.deepEqual(noCtx, prf12(provider, 'sha256', ms, 'EXTRACTOR-dtls_srtp', cat(cr, sr), 60));
    const otherLabel = exportKeyingMaterial(provider, 'sha256', ms, 'EXPORTER-other', cr, sr, undefined, 60);
    assert.notDeepEqual(otherLabel, noCtx);
    const emptyCtx = exportKeyingMaterial(provider, 'sha256', ms, 'EXTRACTOR-dtls_srtp', cr, sr, new Uint8Array(0), 60);
    assert.notDeepEqual(emptyCtx, noCtx, 'an empty context is not the same as no context');
    const ctx = hex('0102030405');
    const withCtx = exportKeyingMaterial(provider, 'sha256', ms, 'EXTRACTOR-dtls_srtp', cr, sr, ctx, 60);
    assert.deepEqual(withCtx, prf12(provider, 'sha256', ms, 'EXTRACTOR-dtls_srtp', cat(cr, sr, hex('0005'), ctx), 60));
    assert.notDeepEqual(withCtx, emptyCtx);
  });

  it('RFC 5705 §4 exporter refuses labels reserved by the key schedule and oversized contexts', () => {
    const ms = new Uint8Array(48);
    for (const label of ['client finished', 'server finished', 'master secret', 'key expansion', 'extended master secret', '']) {
      assert.throws(() => exportKeyingMaterial(provider, 'sha256', ms, label, cr, sr, undefined, 16),
        (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_EXPORTER_LABEL');
    }
    assert.throws(() => exportKeyingMaterial(provider, 'sha256', ms, 'EXPORTER-x', cr, sr, new Uint8Array(65536), 16),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_EXPORTER_CONTEXT');
  });
});

// -------------------------------------------------------------------------------------------------------------
interface AeadVector {
  name: string;
  alg: AeadAlgorithm;
  key: string;
  nonce: string;
  aad: string;
  pt: string;
  ct: string;
  tag: string;
}

const GCM_P = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39';
const GCM_A = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';

const AEAD_VECTORS: AeadVector[] = [
  {
    name: 'AES-128-GCM, McGrew-Viega GCM spec test case 4 (NIST SP 800-38D)',
    alg: 'aes-128-gcm', key: 'feffe9928665731c6d6a8f9467308308', nonce: 'cafebabefacedbaddecaf888', aad: GCM_A, pt: GCM_P,
    ct: '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091',
    tag: '5bc94fbc3221a5db94fae95ae7121a47',
  },
  {
    name: 'AES-256-GCM, McGrew-Viega GCM spec test case 16',
    alg: 'aes-256-gcm', key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308', nonce: 'cafebabefacedbaddecaf888',
    aad: GCM_A, pt: GCM_P,
    ct: '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    tag: '76fc6ece0f4e1768cddf8853bb2d551b',
  },
  {
    name: 'ChaCha20-Poly1305, RFC 8439 §2.8.2',
    alg: 'chacha20-poly1305', key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', nonce: '070000004041424344454647',
    aad: '50515253c0c1c2c3c4c5c6c7',
    pt: toHex(ascii("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")),
    ct: 'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b29'
      + '05d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116',
    tag: '1ae10b594f09e26a7e902ecbd0600691',
  },
  {
    name: 'AES-128-CCM (16-byte tag, 12-byte nonce), Wycheproof aes_ccm_test.json tcId 26',
    alg: 'aes-128-ccm', key: '55e04c122780be52ed9328928039008c', nonce: '0c908e58cddad69dea1a32c3',
    aad: '25591707c004f506f4b51e85e29f6a', pt: '26eb70672eef03667b34cc7d0df05872',
    ct: '89166dcd7d74a445dfd3526c5180d825', tag: '8b8ed5f97a168881c3b6efe91cfe7043',
  },
  {
    name: 'AES-128-CCM (16-byte tag), Wycheproof aes_ccm_test.json tcId 1 (empty message and AAD)',
    alg: 'aes-128-ccm', key: 'bedcfb5a011ebc84600fcb296c15af0d', nonce: '438a547a94ea88dce46c6c85', aad: '', pt: '', ct: '',
    tag: '25d1a38495a7dea45bda049705627d10',
  },
  {
    name: 'AES-128-CCM_8 (8-byte tag, 12-byte nonce), NIST SP 800-38C Appendix C example 3',
    alg: 'aes-128-ccm8', key: '404142434445464748494a4b4c4d4e4f', nonce: '101112131415161718191a1b',
    aad: '000102030405060708090a0b0c0d0e0f10111213', pt: '202122232425262728292a2b2c2d2e2f3031323334353637',
    ct: 'e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5', tag: '484392fbc1b09951',
  },
];

describe('AEAD known answers (RFC 5116 interface)', () => {
  for (const v of AEAD_VECTORS) {
    it(v.name, () => {
      const aead = provider.createAead(v.alg, hex(v.key));
      assert.equal(aead.algorithm, v.alg);
      assert.equal(aead.tagLength, v.tag.length / 2);
      const sealed = aead.seal(hex(v.nonce), hex(v.aad), hex(v.pt));
      assert.equal(toHex(sealed), v.ct + v.tag);
      const opened = aead.open(hex(v.nonce), hex(v.aad), hex(v.ct + v.tag));
      assert.ok(opened !== undefined);
      assert.deepEqual(opened, hex(v.pt));
      assert.equal(Object.getPrototypeOf(sealed), Uint8Array.prototype, 'results are plain Uint8Arrays');
    });
  }
});

describe('AEAD open() rejects forgeries without throwing (RFC 5116 §2.2)', () => {
  const algs: [AeadAlgorithm, number, number][] = [
    ['aes-128-gcm', 16, 16], ['aes-256-gcm', 32, 16], ['chacha20-poly1305', 32, 16], ['aes-128-ccm', 16, 16], ['aes-128-ccm8', 16, 8],
  ];
  for (const [alg, keyLen, tagLen] of algs) {
    it(`${alg}: round trip, tag length ${tagLen}, and undefined for each kind of tampering`, () => {
      const aead = provider.createAead(alg, provider.randomBytes(keyLen));
      const nonce = provider.randomBytes(12);
      const aad = hex('0001000000000005170fefd003e8');
      const pt = provider.randomBytes(1000);
      const sealed = aead.seal(nonce, aad, pt);
      assert.equal(sealed.length, pt.length + tagLen);
      assert.deepEqual(aead.open(nonce, aad, sealed), pt);
      assert.deepEqual(aead.open(nonce, aad, aead.seal(nonce, aad, new Uint8Array(0))), new Uint8Array(0));

      const flipCt = Uint8Array.from(sealed);
      flipCt[10]! ^= 0x01;
      assert.equal(aead.open(nonce, aad, flipCt), undefined, 'flipped ciphertext bit');
      const flipTag = Uint8Array.from(sealed);
      flipTag[flipTag.length - 1]! ^= 0x80;
      assert.equal(aead.open(nonce, aad, flipTag), undefined, 'flipped tag bit');
      const badAad = Uint8Array.from(aad);
      badAad[0]! ^= 0x01;
      assert.equal(aead.open(nonce, badAad, sealed), undefined, 'wrong AAD');
      const badNonce = Uint8Array.from(nonce);
      badNonce[11]! ^= 0x01;
      assert.equal(aead.open(badNonce, aad, sealed), undefined, 'wrong nonce');
      assert.equal(aead.open(nonce, aad, sealed.subarray(0, tagLen - 1)), undefined, 'shorter than the tag');
      assert.equal(aead.open(nonce, aad, new Uint8Array(0)), undefined, 'empty input');
      assert.equal(aead.open(nonce, aad, sealed.subarray(1)), undefined, 'truncated');
      assert.equal(aead.open(nonce.subarray(0, 8), aad, sealed), undefined, 'nonce of the wrong length');
      // Works on views into a larger buffer (the record layer passes subarrays).
      const framed = new Uint8Array(sealed.length + 20);
      framed.set(sealed, 13);
      assert.deepEqual(aead.open(nonce, aad, framed.subarray(13, 13 + sealed.length)), pt);
    });
  }

  it('createAead refuses a key of the wrong length; seal refuses a nonce of the wrong length', () => {
    assert.throws(() => provider.createAead('aes-128-gcm', new Uint8Array(32)));
    assert.throws(() => provider.createAead('chacha20-poly1305', new Uint8Array(16)));
    const aead = provider.createAead('aes-128-gcm', new Uint8Array(16));
    assert.throws(() => aead.seal(new Uint8Array(8), new Uint8Array(0), new Uint8Array(1)));
  });

  it('the AEAD keeps its own copy of the key', () => {
    const key = hex('feffe9928665731c6d6a8f9467308308');
    const aead = provider.createAead('aes-128-gcm', key);
    key.fill(0);
    const v = AEAD_VECTORS[0]!;
    assert.equal(toHex(aead.seal(hex(v.nonce), hex(v.aad), hex(v.pt))), v.ct + v.tag);
  });
});

// -------------------------------------------------------------------------------------------------------------
describe('hashes and HMAC', () => {
  it('IncrementalHash.digest() does not finish the running hash', () => {
    const h = provider.createHash('sha256');
    h.update(ascii('abc'));
    assert.equal(toHex(h.digest()), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    h.update(ascii('def'));
    assert.deepEqual(h.digest(), provider.hash('sha256', ascii('abcdef')));
    assert.deepEqual(h.digest(), provider.hash('sha256', ascii('abcdef')));
    const h384 = provider.createHash('sha384');
    h384.update(ascii('abc'));
    assert.deepEqual(h384.digest(), Uint8Array.from(createHash('sha384').update('abc').digest()));
  });

  it('HMAC-SHA256 RFC 4231 test case 2', () => {
    assert.equal(toHex(provider.hmac('sha256', ascii('Jefe'), ascii('what do ya want for nothing?'))),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('prepared HMAC keys: RFC 4231 test cases 2 and 6 (key longer than the block), SHA-256 and SHA-384', () => {
    const jefe = provider.createHmacKey('sha256', ascii('Jefe'));
    assert.equal(toHex(jefe.mac(ascii('what do ya want for nothing?'))),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    assert.equal(toHex(jefe.mac(ascii('what do ya want '), ascii('for nothing?'))),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    assert.equal(toHex(provider.createHmacKey('sha384', ascii('Jefe')).mac(ascii('what do ya want for nothing?'))),
      'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649');
    const key131 = new Uint8Array(131).fill(0xaa);
    const text = ascii('Test Using Larger Than Block-Size Key - Hash Key First');
    assert.equal(toHex(provider.createHmacKey('sha256', key131).mac(text)),
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
    assert.equal(toHex(provider.createHmacKey('sha384', key131).mac(text)),
      '4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952');
  });

  it('prepared HMAC keys agree with hmac() for every key length around the block sizes and long texts', () => {
    for (const algorithm of ['sha256', 'sha384'] as const) {
      for (const keyLength of [0, 1, 32, 63, 64, 65, 127, 128, 129, 300]) {
        const key = Uint8Array.from({ length: keyLength }, (_, i) => (i * 7 + keyLength) & 0xff);
        const prepared = provider.createHmacKey(algorithm, key);
        key.fill(0); // the prepared key keeps its own copy
        const original = Uint8Array.from({ length: keyLength }, (_, i) => (i * 7 + keyLength) & 0xff);
        // Texts longer than the scratch room make the buffer grow; shorter ones after it must still be right.
        for (const textLength of [0, 5, 191, 192, 193, 1000, 3]) {
          const text = Uint8Array.from({ length: textLength }, (_, i) => (i * 13) & 0xff);
          const want = provider.hmac(algorithm, original, text);
          assert.deepEqual(prepared.mac(text), want, `${algorithm} key ${keyLength} text ${textLength}`);
          const split = Math.floor(textLength / 3);
          assert.deepEqual(prepared.mac(text.subarray(0, split), text.subarray(split)), want);
        }
      }
    }
  });

  it('randomBytes and wallClock honour the overrides', () => {
    const p = new NodeCryptoProvider({ random: (n) => new Uint8Array(n).fill(7), wallClock: () => 42 });
    assert.deepEqual(p.randomBytes(3), Uint8Array.of(7, 7, 7));
    assert.equal(p.wallClock(), 42);
    assert.equal(provider.randomBytes(32).length, 32);
    assert.ok(Math.abs(provider.wallClock() - Date.now()) < 1000);
  });
});

// -------------------------------------------------------------------------------------------------------------
describe('key shares (RFC 8422 §5.10-5.11, RFC 7748)', () => {
  it('SUPPORTED_GROUPS and isGroupSupported', () => {
    assert.deepEqual([...SUPPORTED_GROUPS], [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1]);
    assert.ok(isGroupSupported(NamedGroup.secp384r1));
    assert.ok(!isGroupSupported(NamedGroup.x448));
    assert.ok(!isGroupSupported(0x11ec));
  });

  for (const [group, pubLen, secretLen] of [
    [NamedGroup.x25519, 32, 32], [NamedGroup.secp256r1, 65, 32], [NamedGroup.secp384r1, 97, 48],
  ] as const) {
    it(`group ${group}: two shares agree (public ${pubLen} bytes, secret ${secretLen} bytes)`, () => {
      const a = provider.generateKeyShare(group);
      const b = provider.generateKeyShare(group);
      assert.equal(a.group, group);
      assert.equal(a.publicKey.length, pubLen);
      if (pubLen !== 32) assert.equal(a.publicKey[0], 0x04);
      const s1 = a.deriveSecret(b.publicKey);
      const s2 = b.deriveSecret(a.publicKey);
      assert.equal(s1.length, secretLen);
      assert.deepEqual(s1, s2);
      assert.notDeepEqual(a.publicKey, b.publicKey);
    });
  }

  it('RFC 7748 §6.1 X25519 Alice/Bob vector through a provider with fixed randomness', () => {
    const alicePriv = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bobPriv = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const p = fixedRandomProvider([alicePriv, bobPriv]);
    const alice = p.generateKeyShare(NamedGroup.x25519);
    const bob = p.generateKeyShare(NamedGroup.x25519);
    assert.equal(toHex(alice.publicKey), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    assert.equal(toHex(bob.publicKey), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    assert.equal(toHex(alice.deriveSecret(bob.publicKey)), k);
    assert.equal(toHex(bob.deriveSecret(alice.publicKey)), k);
  });

  it('fixed randomness makes P-256 shares reproducible, and matches a node:crypto reference computation', () => {
    const d = hex('c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721');
    const s1 = fixedRandomProvider([d]).generateKeyShare(NamedGroup.secp256r1);
    const s2 = fixedRandomProvider([d]).generateKeyShare(NamedGroup.secp256r1);
    assert.deepEqual(s1.publicKey, s2.publicKey);
    const ref = createECDH('prime256v1');
    ref.setPrivateKey(d);
    assert.equal(toHex(s1.publicKey), ref.getPublicKey('hex'));
    const peer = createECDH('prime256v1');
    peer.generateKeys();
    assert.equal(toHex(s1.deriveSecret(peer.getPublicKey())), peer.computeSecret(ref.getPublicKey()).toString('hex'));
  });

  it('fixed randomness: an out-of-range P-256 scalar is skipped (rejection sampling)', () => {
    const p = fixedRandomProvider([new Uint8Array(32).fill(0xff), new Uint8Array(32), hex('01'.repeat(32))]);
    const share = p.generateKeyShare(NamedGroup.secp256r1);
    const ref = createECDH('prime256v1');
    ref.setPrivateKey(hex('01'.repeat(32)));
    assert.equal(toHex(share.publicKey), ref.getPublicKey('hex'));
  });

  it('X25519 deriveSecret matches a node:crypto reference computation', () => {
    const share = provider.generateKeyShare(NamedGroup.x25519);
    const { privateKey } = generateKeyPairSync('x25519');
    const peerPub = Buffer.from(String(createPublicKey(privateKey).export({ format: 'jwk' }).x), 'base64url');
    const ourPub: KeyObject = createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(share.publicKey).toString('base64url') }, format: 'jwk',
    });
    assert.deepEqual(share.deriveSecret(peerPub), Uint8Array.from(diffieHellman({ privateKey, publicKey: ourPub })));
  });

  it('RFC 7748 §6.1: X25519 low-order peer values (all-zero result) are illegal_parameter', () => {
    const share = provider.generateKeyShare(NamedGroup.x25519);
    assertBadKeyShare(() => share.deriveSecret(new Uint8Array(32))); // u = 0
    assertBadKeyShare(() => share.deriveSecret(hex('01'.padEnd(64, '0')))); // u = 1
    // a point of order 8 (from the well-known X25519 low-order blocklist)
    assertBadKeyShare(() => share.deriveSecret(hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')));
  });

  it('X25519 peer value of the wrong length is illegal_parameter', () => {
    const share = provider.generateKeyShare(NamedGroup.x25519);
    assertBadKeyShare(() => share.deriveSecret(new Uint8Array(31).fill(9)));
    assertBadKeyShare(() => share.deriveSecret(new Uint8Array(33).fill(9)));
    assertBadKeyShare(() => share.deriveSecret(new Uint8Array(0)));
  });

  for (const [group, len] of [[NamedGroup.secp256r1, 32], [NamedGroup.secp384r1, 48]] as const) {
    it(`group ${group}: invalid peer points are illegal_parameter (RFC 8422 §5.4.1, §5.11)`, () => {
      const share = provider.generateKeyShare(group);
      const good = provider.generateKeyShare(group).publicKey;
      assertBadKeyShare(() => share.deriveSecret(good.subarray(0, good.length - 1))); // wrong length
      assertBadKeyShare(() => share.deriveSecret(new Uint8Array(0)));
      assertBadKeyShare(() => share.deriveSecret(Uint8Array.of(0))); // point at infinity encoding
      const compressed = new Uint8Array(1 + len);
      compressed[0] = 0x02 | (good[good.length - 1]! & 1);
      compressed.set(good.subarray(1, 1 + len), 1);
      assertBadKeyShare(() => share.deriveSecret(compressed)); // compressed form is not accepted
      const wrongPrefix = Uint8Array.from(good);
      wrongPrefix[0] = 0x06;
      assertBadKeyShare(() => share.deriveSecret(wrongPrefix));
      const offCurve = Uint8Array.from(good);
      offCurve[offCurve.length - 1]! ^= 0x01; // Y changed: not on the curve
      assertBadKeyShare(() => share.deriveSecret(offCurve));
      const ones = new Uint8Array(1 + 2 * len).fill(1);
      ones[0] = 0x04;
      assertBadKeyShare(() => share.deriveSecret(ones));
      const otherCurve = provider.generateKeyShare(group === NamedGroup.secp256r1 ? NamedGroup.secp384r1 : NamedGroup.secp256r1);
      assertBadKeyShare(() => share.deriveSecret(otherCurve.publicKey));
    });
  }

  it('an unsupported group is IncompatibleError', () => {
    assert.throws(() => provider.generateKeyShare(NamedGroup.x448), IncompatibleError);
    assert.throws(() => provider.generateKeyShare(NamedGroup.secp521r1), IncompatibleError);
  });
});

// -------------------------------------------------------------------------------------------------------------
function pemPkcs8(key: KeyObject): string {
  return String(key.export({ type: 'pkcs8', format: 'pem' }));
}
function spkiOf(key: KeyObject): Uint8Array {
  return Uint8Array.from(createPublicKey(key).export({ type: 'spki', format: 'der' }));
}

const keys = {
  p256: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
  p384: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey,
  rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ed25519: generateKeyPairSync('ed25519').privateKey,
};

describe('signatures (RFC 8446 §4.2.3 schemes, RFC 5246 §7.4.1.4.1)', () => {
  const cases: [SignatureScheme, KeyObject, SigningKey['keyType']][] = [
    [SignatureScheme.ecdsa_secp256r1_sha256, keys.p256, 'ec-p256'],
    [SignatureScheme.ecdsa_secp384r1_sha384, keys.p384, 'ec-p384'],
    [SignatureScheme.rsa_pss_rsae_sha256, keys.rsa, 'rsa'],
    [SignatureScheme.rsa_pss_rsae_sha384, keys.rsa, 'rsa'],
    [SignatureScheme.rsa_pss_rsae_sha512, keys.rsa, 'rsa'],
    [SignatureScheme.rsa_pkcs1_sha256, keys.rsa, 'rsa'],
    [SignatureScheme.rsa_pkcs1_sha384, keys.rsa, 'rsa'],
    [SignatureScheme.rsa_pkcs1_sha512, keys.rsa, 'rsa'],
    [SignatureScheme.ed25519, keys.ed25519, 'ed25519'],
  ];
  const data = ascii('client_random ‖ server_random ‖ ServerECDHParams');

  for (const [scheme, key, keyType] of cases) {
    it(`${schemeName(scheme)}: sign/verify round trip, false for tampered data or signature`, () => {
      const sk = loadSigningKey(pemPkcs8(key));
      assert.equal(sk.keyType, keyType);
      assert.ok(sk.schemes.includes(scheme));
      const spki = spkiOf(key);
      assert.deepEqual(sk.spki, spki);
      const sig = sk.sign(scheme, data);
      if (keyType.startsWith('ec')) assert.equal(sig[0], 0x30, 'ECDSA signatures are DER');
      assert.equal(provider.verify(scheme, spki, data, sig), true);
      const badData = Uint8Array.from(data);
      badData[3]! ^= 0x01;
      assert.equal(provider.verify(scheme, spki, badData, sig), false);
      const badSig = Uint8Array.from(sig);
      badSig[badSig.length - 2]! ^= 0x01;
      assert.equal(provider.verify(scheme, spki, data, badSig), false);
      assert.equal(provider.verify(scheme, spki, data, new Uint8Array(0)), false);
      assert.equal(provider.verify(scheme, spki, data, sig.subarray(0, sig.length - 1)), false);
    });
  }

  it('verify is false for a key/scheme mismatch', () => {
    const p256 = loadSigningKey(pemPkcs8(keys.p256));
    const p384 = loadSigningKey(pemPkcs8(keys.p384));
    const rsa = loadSigningKey(pemPkcs8(keys.rsa));
    const ed = loadSigningKey(pemPkcs8(keys.ed25519));
    const s256 = p256.sign(SignatureScheme.ecdsa_secp256r1_sha256, data);
    const s384 = p384.sign(SignatureScheme.ecdsa_secp384r1_sha384, data);
    // right hash and algorithm, wrong curve for the scheme
    assert.equal(provider.verify(SignatureScheme.ecdsa_secp384r1_sha384, p256.spki, data, s256), false);
    assert.equal(provider.verify(SignatureScheme.ecdsa_secp256r1_sha256, p384.spki, data, s384), false);
    // RFC 5246 §7.4.1.4.1: in (D)TLS 1.2 the ECDSA code point fixes the hash only, so a key on the other
    // curve signing with the scheme's hash verifies (OpenSSL peers do this)
    const p384WithSha256 = Uint8Array.from(nodeSign('sha256', data, { key: keys.p384, dsaEncoding: 'der' }));
    assert.equal(provider.verify(SignatureScheme.ecdsa_secp256r1_sha256, p384.spki, data, p384WithSha256), true);
    const p256WithSha384 = Uint8Array.from(nodeSign('sha384', data, { key: keys.p256, dsaEncoding: 'der' }));
    assert.equal(provider.verify(SignatureScheme.ecdsa_secp384r1_sha384, p256.spki, data, p256WithSha384), true);
    // RSA-PSS signature presented as PKCS#1 v1.5 and vice versa; wrong hash
    const pss = rsa.sign(SignatureScheme.rsa_pss_rsae_sha256, data);
    const pkcs1 = rsa.sign(SignatureScheme.rsa_pkcs1_sha256, data);
    assert.equal(provider.verify(SignatureScheme.rsa_pkcs1_sha256, rsa.spki, data, pss), false);
    assert.equal(provider.verify(SignatureScheme.rsa_pss_rsae_sha256, rsa.spki, data, pkcs1), false);
    assert.equal(provider.verify(SignatureScheme.rsa_pss_rsae_sha384, rsa.spki, data, pss), false);
    // key of another type altogether
    assert.equal(provider.verify(SignatureScheme.ed25519, p256.spki, data, s256), false);
    assert.equal(provider.verify(SignatureScheme.ecdsa_secp256r1_sha256, rsa.spki, data, pkcs1), false);
    assert.equal(provider.verify(SignatureScheme.rsa_pkcs1_sha256, ed.spki, data, ed.sign(SignatureScheme.ed25519, data)), false);
    // unsupported scheme, garbage SPKI
    assert.equal(provider.verify(SignatureScheme.ecdsa_secp521r1_sha512, p256.spki, data, s256), false);
    assert.equal(provider.verify(0x0201 as SignatureScheme, rsa.spki, data, pkcs1), false);
    assert.equal(provider.verify(SignatureScheme.ecdsa_secp256r1_sha256, hex('3003020100'), data, s256), false);
    assert.equal(provider.verify(SignatureScheme.ecdsa_secp256r1_sha256, new Uint8Array(0), data, s256), false);
  });

  it('verify stays correct when more keys are seen than the key cache holds', () => {
    const signers = Array.from({ length: 70 }, () => loadSigningKey(pemPkcs8(generateKeyPairSync('ed25519').privateKey)));
    const sigs = signers.map((s) => s.sign(SignatureScheme.ed25519, data));
    for (let round = 0; round < 2; round++) {
      signers.forEach((s, i) => {
        assert.equal(provider.verify(SignatureScheme.ed25519, s.spki, data, sigs[i]!), true);
        assert.equal(provider.verify(SignatureScheme.ed25519, s.spki, data, sigs[(i + 1) % sigs.length]!), false);
      });
    }
  });

  it('signing with a scheme the key does not have throws ApiMisuseError', () => {
    const p256 = loadSigningKey(pemPkcs8(keys.p256));
    assert.throws(() => p256.sign(SignatureScheme.rsa_pss_rsae_sha256, data),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_UNSUPPORTED_SIGNATURE_SCHEME');
  });
});

describe('loadSigningKey', () => {
  it('reads SEC1 "EC PRIVATE KEY" PEM', () => {
    const pem = String(keys.p256.export({ type: 'sec1', format: 'pem' }));
    assert.match(pem, /BEGIN EC PRIVATE KEY/);
    const sk = loadSigningKey(pem);
    assert.equal(sk.keyType, 'ec-p256');
    // RFC 5246 §7.4.1.4.1: in (D)TLS 1.2 either ECDSA hash may be used with either curve; the matching one first
    assert.deepEqual([...sk.schemes], [SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.ecdsa_secp384r1_sha384]);
    assert.deepEqual(publicKeySpki(sk), spkiOf(keys.p256));
    const sk384 = loadSigningKey(String(keys.p384.export({ type: 'sec1', format: 'pem' })));
    assert.equal(sk384.keyType, 'ec-p384');
    assert.deepEqual([...sk384.schemes], [SignatureScheme.ecdsa_secp384r1_sha384, SignatureScheme.ecdsa_secp256r1_sha256]);
  });

  it('reads PKCS#1 "RSA PRIVATE KEY" PEM with the RSA scheme order', () => {
    const pem = String(keys.rsa.export({ type: 'pkcs1', format: 'pem' }));
    assert.match(pem, /BEGIN RSA PRIVATE KEY/);
    const sk = loadSigningKey(pem);
    assert.equal(sk.keyType, 'rsa');
    assert.deepEqual([...sk.schemes], [
      SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pss_rsae_sha384, SignatureScheme.rsa_pkcs1_sha256,
      SignatureScheme.rsa_pkcs1_sha384, SignatureScheme.rsa_pss_rsae_sha512, SignatureScheme.rsa_pkcs1_sha512,
    ]);
    assert.deepEqual(sk.spki, spkiOf(keys.rsa));
  });

  it('reads PEM given as bytes and DER (PKCS#8, SEC1, PKCS#1)', () => {
    assert.equal(loadSigningKey(Uint8Array.from(Buffer.from(pemPkcs8(keys.ed25519)))).keyType, 'ed25519');
    assert.equal(loadSigningKey(Uint8Array.from(keys.p384.export({ type: 'pkcs8', format: 'der' }))).keyType, 'ec-p384');
    assert.equal(loadSigningKey(Uint8Array.from(keys.p256.export({ type: 'sec1', format: 'der' }))).keyType, 'ec-p256');
    assert.equal(loadSigningKey(Uint8Array.from(keys.rsa.export({ type: 'pkcs1', format: 'der' }))).keyType, 'rsa');
  });

  it('bad PEM gives ApiMisuseError ERR_DTLS_BAD_KEY', () => {
    const isBadKey = (e: unknown): boolean => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_KEY' && e.alert === undefined;
    assert.throws(() => loadSigningKey('not a key'), isBadKey);
    assert.throws(() => loadSigningKey(''), isBadKey);
    assert.throws(() => loadSigningKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), isBadKey);
    assert.throws(() => loadSigningKey(new Uint8Array(0)), isBadKey);
    assert.throws(() => loadSigningKey(hex('3003020100')), isBadKey);
    const encrypted = String(keys.p256.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'pw' }));
    assert.throws(() => loadSigningKey(encrypted), isBadKey);
    // A public key is not a private key.
    assert.throws(() => loadSigningKey(String(createPublicKey(keys.p256).export({ type: 'spki', format: 'pem' }))), isBadKey);
  });

  it('unsupported key types give ApiMisuseError ERR_DTLS_UNSUPPORTED_KEY', () => {
    const isUnsupported = (e: unknown): boolean => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_UNSUPPORTED_KEY';
    assert.throws(() => loadSigningKey(pemPkcs8(generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey)), isUnsupported);
    assert.throws(() => loadSigningKey(pemPkcs8(generateKeyPairSync('ed448').privateKey)), isUnsupported);
    assert.throws(() => loadSigningKey(pemPkcs8(generateKeyPairSync('x25519').privateKey)), isUnsupported);
  });

  it('the PKCS#8 PEM of each kind loads to the same key as createPrivateKey', () => {
    const sk = loadSigningKey(pemPkcs8(keys.p384));
    assert.deepEqual(sk.spki, spkiOf(createPrivateKey(pemPkcs8(keys.p384))));
  });
});

describe('signature scheme helpers (RFC 8446 §4.2.3)', () => {
  it('SUPPORTED_SIGNATURE_SCHEMES is in our preference order', () => {
    assert.deepEqual([...SUPPORTED_SIGNATURE_SCHEMES], [
      SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.ecdsa_secp384r1_sha384, SignatureScheme.ed25519,
      SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pss_rsae_sha384, SignatureScheme.rsa_pkcs1_sha256,
      SignatureScheme.rsa_pkcs1_sha384, SignatureScheme.rsa_pss_rsae_sha512, SignatureScheme.rsa_pkcs1_sha512,
    ]);
    for (const s of SUPPORTED_SIGNATURE_SCHEMES) assert.ok(isSchemeSupported(s));
    assert.ok(!isSchemeSupported(SignatureScheme.ed448));
    assert.ok(!isSchemeSupported(0x0201));
  });

  it('schemeHash and schemeName', () => {
    assert.equal(schemeHash(SignatureScheme.ecdsa_secp256r1_sha256), 'sha256');
    assert.equal(schemeHash(SignatureScheme.rsa_pss_rsae_sha384), 'sha384');
    assert.equal(schemeHash(SignatureScheme.rsa_pkcs1_sha512), 'sha512');
    assert.equal(schemeHash(SignatureScheme.ed25519), undefined);
    assert.equal(schemeHash(0x0201), undefined);
    assert.equal(schemeName(SignatureScheme.rsa_pss_rsae_sha256), 'rsa_pss_rsae_sha256');
    assert.equal(schemeName(0xfefe), 'scheme_0xfefe');
  });

  it('chooseSignatureScheme takes the key\'s first scheme the peer offered', () => {
    const rsa = loadSigningKey(pemPkcs8(keys.rsa));
    assert.equal(chooseSignatureScheme(rsa, [SignatureScheme.rsa_pkcs1_sha256, SignatureScheme.rsa_pss_rsae_sha384]),
      SignatureScheme.rsa_pss_rsae_sha384);
    assert.equal(chooseSignatureScheme(rsa, [SignatureScheme.ecdsa_secp256r1_sha256]), undefined);
    const p256 = loadSigningKey(pemPkcs8(keys.p256));
    assert.equal(chooseSignatureScheme(p256, [0x0203, SignatureScheme.ecdsa_secp256r1_sha256]), SignatureScheme.ecdsa_secp256r1_sha256);
    // DTLS 1.2: a P-256 key may sign with SHA-384 when that is all the peer offers
    assert.equal(chooseSignatureScheme(p256, [SignatureScheme.ecdsa_secp384r1_sha384]), SignatureScheme.ecdsa_secp384r1_sha384);
    assert.equal(chooseSignatureScheme(p256, [SignatureScheme.ed25519]), undefined);
  });

  it('RFC 5246 §7.4.1.4.1: with no signature_algorithms the default is SHA-1, which we do not do', () => {
    assert.equal(chooseSignatureScheme(loadSigningKey(pemPkcs8(keys.p256)), []), undefined);
    assert.equal(chooseSignatureScheme(loadSigningKey(pemPkcs8(keys.rsa)), []), undefined);
  });
});

describe('suite descriptors agree with the provider', () => {
  it('every DTLS 1.2 suite gets an AEAD whose tag length matches the suite', () => {
    for (const suite of DTLS12_SUITES) {
      const aead = provider.createAead(suite.aead, new Uint8Array(suite.keyLength));
      assert.equal(aead.tagLength, suite.tagLength, suite.name);
      assert.equal(suite.fixedIvLength + suite.recordIvLength, 12, suite.name);
    }
    assert.equal(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256.hash, 'sha256');
  });
});
