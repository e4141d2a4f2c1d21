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

    it(`${alg}: a preparation that took in guessed additional data serves only that data; another is sealed and opened right`, () => {
      const key = bytes(alg === 'aes-256-gcm' || alg === 'chacha20-poly1305' ? 32 : 16, 9);
      const plain = provider.createAead(alg, key);
      const aead = provider.createAead(alg, key);
      const peek = (): { direction: string; aadSet: boolean } | undefined => (aead as unknown as { prepared?: { direction: string; aadSet: boolean } }).prepared;
      const nonce = bytes(12, 4);
      const pt = bytes(64, 6);
      // DTLS 1.2 additional data: epoch ‖ seq ‖ type ‖ version ‖ plaintext length (64).
      const aad = Uint8Array.from([0, 1, 0, 0, 0, 0, 0, 5, 23, 0xfe, 0xfd, 0, 64]);
      const otherAad = Uint8Array.from([0, 1, 0, 0, 0, 0, 0, 5, 23, 0xfe, 0xfd, 0, 63]);
      const sealed = plain.seal(nonce, aad, pt);

      aead.prepare!(nonce, 'seal', aad);
      assert.equal(peek()?.aadSet, true, 'the seal took the guess in');
      assert.deepEqual(aead.seal(nonce, aad, pt), sealed, 'guess right');
      aead.prepare!(nonce, 'seal', otherAad);
      assert.deepEqual(aead.seal(nonce, aad, pt), sealed, 'guess wrong: a fresh object');
      assert.equal(peek(), undefined, 'the object with the wrong data is dropped');
      aead.prepare!(nonce, 'seal', otherAad);
      assert.deepEqual(aead.seal(nonce, otherAad, pt.subarray(1)), plain.seal(nonce, otherAad, pt.subarray(1)), 'its own data');

      const ccm = alg === 'aes-128-ccm' || alg === 'aes-128-ccm8';
      aead.prepare!(nonce, 'open', aad);
      // node's CCM takes the tag before the additional data: an open is prepared without it.
      assert.equal(peek()?.aadSet, !ccm);
      assert.deepEqual(aead.open(nonce, aad, sealed), pt, 'guess right');
      aead.prepare!(nonce, 'open', otherAad);
      assert.deepEqual(aead.open(nonce, aad, sealed), pt, 'guess wrong');
      aead.prepare!(nonce, 'open', aad);
      const forged = sealed.slice();
      forged[0]! ^= 1;
      assert.equal(aead.open(nonce, aad, forged), undefined, 'a forgery is refused by the prepared object');
      assert.deepEqual(aead.open(nonce, aad, sealed), pt, 'and the genuine record then opens');
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

describe('RecordProtection12: guessing the next record\'s additional data (same type and length as the last application record)', () => {
  for (const suite of DTLS12_SUITES) {
    it(`${suite.name}: right and wrong guesses, and handshake records between, give byte-identical records that open`, () => {
      const key = bytes(suite.keyLength, 21);
      const iv = bytes(suite.fixedIvLength, 77);
      const plain = new RecordProtection12(suite, provider.createAead(suite.aead, key), iv);
      const prepared = new RecordProtection12(suite, provider.createAead(suite.aead, key), iv);
      const reader = new RecordProtection12(suite, provider.createAead(suite.aead, key), iv);
      // (content type, plaintext length): the guess is right for the repeats, wrong after each change.
      const plan: [number, number][] = [[22, 12], [23, 64], [23, 64], [23, 64], [23, 65], [23, 0], [23, 0], [21, 2], [23, 0], [23, 1000], [23, 1000]];
      plan.forEach(([type, length], seq) => {
        prepared.prepareSeal(1, seq);
        reader.prepareOpen(1, seq);
        const pt = bytes(length, seq);
        const record = prepared.seal(type, 0xfefd, 1, seq, pt);
        assert.deepEqual(record, plain.seal(type, 0xfefd, 1, seq, pt), `record ${seq} (type ${type}, ${length} B)`);
        const r = splitDatagram(record).records[0]!;
        assert.deepEqual(reader.open(r.header, r.fragment), pt, `record ${seq} opens`);
      });
    });
  }
});
