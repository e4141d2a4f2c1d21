/**
 * Prepared cipher objects (Aead.prepare, RecordProtection12.prepareSeal/prepareOpen, Connection.prepareNextRecords):
 * a latency optimisation only. These tests pin that it never changes a byte on the wire, never lets a cipher object
 * serve two records (a GCM/ChaCha/CCM object used twice would reuse its nonce — node refuses a second update
 * after final(), so a reuse would show as a wrong result or a throw), and never lets a record with another nonce
 * use an object prepared for a different one (RFC 5116 §3: a nonce is never reused with a key).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import { DTLS12_SUITES } from '../../src/crypto/suites.js';
import { RecordProtection12 } from '../../src/record/protection.js';
import { splitDatagram } from '../../src/record/deframer.js';

const provider = new NodeCryptoProvider();
const bytes = (n: number, start: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i * 7) & 0xff);

describe('Aead.prepare (node:crypto)', () => {
  for (const alg of ['aes-128-gcm', 'aes-256-gcm', 'chacha20-poly1305', 'aes-128-ccm', 'aes-128-ccm8'] as const) {
    it(`${alg}: a prepared seal and open give the same bytes as unprepared ones, each object used once`, () => {
      const key = bytes(alg === 'aes-256-gcm' || alg === 'chacha20-poly1305' ? 32 : 16, 3);
      const plain = provider.createAead(alg, key);
      const prepared = provider.createAead(alg, key);
      assert.ok(prepared.prepare !== undefined);
      const aad = bytes(13, 40);
      for (const len of [0, 1, 64, 1000]) {
        const nonce = bytes(12, len);
        const pt = bytes(len, 9);
        const expected = plain.seal(nonce, aad, pt);
        prepared.prepare(nonce, 'seal');
        assert.deepEqual(prepared.seal(nonce, aad, pt), expected, 'prepared seal');
        // The prepared object is gone: the same nonce again is served by a fresh object, still correct.
        assert.deepEqual(prepared.seal(nonce, aad, pt), expected, 'second seal with the same nonce');
        prepared.prepare(nonce, 'open');
        assert.deepEqual(prepared.open(nonce, aad, expected), pt, 'prepared open');
        assert.deepEqual(prepared.open(nonce, aad, expected), pt, 'second open');
      }
    });

    it(`${alg}: an object prepared for one nonce is not used for another; a failed open consumes it`, () => {
      const key = bytes(alg === 'aes-256-gcm' || alg === 'chacha20-poly1305' ? 32 : 16, 5);
      const plain = provider.createAead(alg, key);
      const aead = provider.createAead(alg, key);
      const aad = bytes(13, 1);
      const pt = bytes(100, 2);
      const n1 = bytes(12, 1);
      const n2 = bytes(12, 2);
      aead.prepare!(n1, 'seal');
      assert.deepEqual(aead.seal(n2, aad, pt), plain.seal(n2, aad, pt), 'other nonce: fresh object');
      assert.deepEqual(aead.seal(n1, aad, pt), plain.seal(n1, aad, pt), 'prepared nonce still right');
      const sealed = plain.seal(n1, aad, pt);
      const forged = sealed.slice();
      forged[forged.length - 1]! ^= 1;
      aead.prepare!(n1, 'open');
      assert.equal(aead.open(n1, aad, forged), undefined, 'bad tag refused with the prepared object');
      assert.deepEqual(aead.open(n1, aad, sealed), pt, 'then the genuine record opens (fresh object)');
      aead.prepare!(n1, 'open');
      assert.equal(aead.open(n2, aad, plain.seal(n2, aad, pt))?.length, pt.length, 'other nonce opens');
      assert.deepEqual(aead.open(n1, aad, sealed), pt, 'prepared open kept for its own nonce');
    });
  }
});

describe('RecordProtection12.prepareSeal / prepareOpen (RFC 6347 §4.1.2.1 nonces)', () => {
  for (const suite of DTLS12_SUITES) {
    it(`${suite.name}: records are byte-identical with and without preparation, and open`, () => {
      const key = bytes(suite.keyLength, 11);
      const iv = bytes(suite.fixedIvLength, 99);
      const plain = new RecordProtection12(suite, provider.createAead(suite.aead, key), iv);
      const prepared = new RecordProtection12(suite, provider.createAead(suite.aead, key), iv);
      const reader = new RecordProtection12(suite, provider.createAead(suite.aead, key), iv);
      for (const [epoch, seq] of [
        [1, 0],
        [1, 1],
        [1, 0xffff_ffff],
        [1, 0x1_0000_0000],
        [3, 2 ** 48 - 1],
      ] as const) {
        const pt = bytes(50, seq & 0xff);
        prepared.prepareSeal(epoch, seq);
        const record = prepared.seal(23, 0xfefd, epoch, seq, pt);
        assert.deepEqual(record, plain.seal(23, 0xfefd, epoch, seq, pt), `epoch ${epoch} seq ${seq}`);
        reader.prepareOpen(epoch, seq);
        const r = splitDatagram(record).records[0]!;
        assert.deepEqual(reader.open(r.header, r.fragment), pt);
      }
      // Out-of-range sequence numbers are ignored, not thrown on.
      prepared.prepareSeal(1, 2 ** 48);
      prepared.prepareOpen(1, -1);
    });
  }
});
