/**
 * DTLS 1.2 record layer: header codec (RFC 6347 §4.1), datagram framing (RFC 6347 §4.1.1), anti-replay window
 * (RFC 6347 §4.1.2.6), AEAD record protection (RFC 5246 §6.2.3.3, RFC 5288 §3, RFC 6655 §3, RFC 7905 §2,
 * RFC 6347 §4.1.2.1) and epoch state.
 *
 * The AEAD used here is a small test-local one on node:crypto, and the known-answer tests compute the expected
 * record independently with createCipheriv.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv } from 'node:crypto';

import type { Aead, AeadAlgorithm } from '../../src/crypto/provider.js';
import {
  DTLS12_SUITES,
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
  type CipherSuite,
} from '../../src/crypto/suites.js';
import { ApiMisuseError, DtlsError, InternalError } from '../../src/errors.js';
import {
  MAX_CIPHERTEXT_LENGTH,
  MAX_SEQUENCE_NUMBER,
  RECORD_HEADER_LENGTH,
  encodeRecordHeader,
  readRecordHeader,
  writeRecordHeader,
  type RecordHeader,
} from '../../src/record/header12.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { ReplayWindow } from '../../src/record/replay.js';
import { RecordProtection12, sealPlaintextRecord, writePlaintextRecord } from '../../src/record/protection.js';
import { EpochState } from '../../src/record/epochs.js';
import { mulberry32 as prng } from '../helpers/rng.js';

// ---------------------------------------------------------------------------------------------------------------
// helpers

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const seqBytes = (n: number, start = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

/** One AEAD on node:crypto, independent of src/crypto/node-provider.ts. */
function testAead(algorithm: AeadAlgorithm, key: Uint8Array): Aead {
  const tagLength = algorithm === 'aes-128-ccm8' ? 8 : 16;
  const seal = (nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array): Uint8Array => {
    if (algorithm === 'aes-128-ccm' || algorithm === 'aes-128-ccm8') {
      const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: tagLength });
      c.setAAD(aad, { plaintextLength: pt.length });
      return concat(c.update(pt), c.final(), c.getAuthTag());
    }
    if (algorithm === 'chacha20-poly1305') {
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      c.setAAD(aad, { plaintextLength: pt.length });
      return concat(c.update(pt), c.final(), c.getAuthTag());
    }
    const c = createCipheriv(algorithm, key, nonce);
    c.setAAD(aad);
    return concat(c.update(pt), c.final(), c.getAuthTag());
  };
  const open = (nonce: Uint8Array, aad: Uint8Array, data: Uint8Array): Uint8Array | undefined => {
    if (data.length < tagLength) return undefined;
    const ct = data.subarray(0, data.length - tagLength);
    const tag = data.subarray(data.length - tagLength);
    try {
      if (algorithm === 'aes-128-ccm' || algorithm === 'aes-128-ccm8') {
        const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: tagLength });
        d.setAuthTag(tag);
        d.setAAD(aad, { plaintextLength: ct.length });
        return concat(d.update(ct), d.final());
      }
      if (algorithm === 'chacha20-poly1305') {
        const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
        d.setAuthTag(tag);
        d.setAAD(aad, { plaintextLength: ct.length });
        return concat(d.update(ct), d.final());
      }
      const d = createDecipheriv(algorithm, key, nonce);
      d.setAuthTag(tag);
      d.setAAD(aad);
      return concat(d.update(ct), d.final());
    } catch {
      return undefined;
    }
  };
  const sealInto = (nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array, out: Uint8Array, offset: number): number => {
    const sealed = seal(nonce, aad, pt);
    out.set(sealed, offset);
    return sealed.length;
  };
  return { algorithm, tagLength, seal, sealInto, open };
}

function protectionFor(suite: CipherSuite, keyStart = 0, ivStart = 0xa0): RecordProtection12 {
  return new RecordProtection12(
    suite,
    testAead(suite.aead, seqBytes(suite.keyLength, keyStart)),
    seqBytes(suite.fixedIvLength, ivStart),
  );
}


// ---------------------------------------------------------------------------------------------------------------

describe('RFC 6347 §4.1 record header', () => {
  test('encodes type, version, epoch, 48-bit sequence number, length big-endian', () => {
    const h: RecordHeader = { contentType: 22, version: 0xfefd, epoch: 0x0102, sequenceNumber: 0x030405060708, length: 0x090a };
    assert.equal(toHex(encodeRecordHeader(h)), '16' + 'fefd' + '0102' + '030405060708' + '090a');
    assert.equal(RECORD_HEADER_LENGTH, 13);
  });

  test('decodes what it encodes, including sequence number 2^48 - 1 and epoch 0xffff', () => {
    for (const h of [
      { contentType: 20, version: 0xfeff, epoch: 0, sequenceNumber: 0, length: 0 },
      { contentType: 23, version: 0xfefd, epoch: 0xffff, sequenceNumber: MAX_SEQUENCE_NUMBER, length: 0xffff },
      { contentType: 21, version: 0xfefd, epoch: 1, sequenceNumber: 0x80000000, length: 2 },
      { contentType: 26, version: 0xfefc, epoch: 3, sequenceNumber: 0xffffffff, length: 300 },
      { contentType: 22, version: 0xfefd, epoch: 2, sequenceNumber: 0x1_0000_0000, length: 1 },
    ]) {
      const out = new Uint8Array(20);
      writeRecordHeader(out, 5, h);
      assert.deepEqual(readRecordHeader(out, 5), h);
    }
  });

  test('readRecordHeader returns undefined for fewer than 13 bytes', () => {
    assert.equal(readRecordHeader(new Uint8Array(12)), undefined);
    assert.equal(readRecordHeader(new Uint8Array(14), 2), undefined);
    assert.notEqual(readRecordHeader(new Uint8Array(14), 1), undefined);
  });
});

describe('RFC 6347 §4.1.1 splitDatagram (several records per datagram)', () => {
  const rec = (type: number, seq: number, payload: Uint8Array): Uint8Array =>
    sealPlaintextRecord(type, 0xfefd, 0, seq, payload);

  test('one record', () => {
    const d = rec(22, 7, seqBytes(10));
    const { records, malformed } = splitDatagram(d);
    assert.equal(malformed, false);
    assert.equal(records.length, 1);
    assert.deepEqual(records[0]!.header, { contentType: 22, version: 0xfefd, epoch: 0, sequenceNumber: 7, length: 10 });
    assert.deepEqual(records[0]!.fragment, seqBytes(10));
    assert.deepEqual(records[0]!.raw, d);
  });

  test('two and three records; fragments and raw are views into the datagram', () => {
    const a = rec(22, 1, seqBytes(5));
    const b = rec(20, 2, hex('01'));
    const c = rec(21, 3, hex('0100'));
    const two = splitDatagram(concat(a, b));
    assert.equal(two.malformed, false);
    assert.deepEqual(two.records.map((r) => r.header.contentType), [22, 20]);
    const d = concat(a, b, c);
    const three = splitDatagram(d);
    assert.equal(three.malformed, false);
    assert.deepEqual(three.records.map((r) => r.header.sequenceNumber), [1, 2, 3]);
    assert.deepEqual(three.records[2]!.fragment, hex('0100'));
    assert.deepEqual(three.records[1]!.raw, b);
    for (const r of three.records) {
      assert.equal(r.fragment.buffer, d.buffer);
      assert.equal(r.raw.buffer, d.buffer);
    }
    assert.equal(three.records[1]!.raw.byteOffset, d.byteOffset + a.length);
    assert.equal(three.records[1]!.fragment.byteOffset, d.byteOffset + a.length + RECORD_HEADER_LENGTH);
  });

  test('empty datagram: no records, not malformed; zero-length fragment is fine', () => {
    assert.deepEqual(splitDatagram(new Uint8Array(0)), { records: [], malformed: false });
    const r = splitDatagram(rec(23, 0, new Uint8Array(0)));
    assert.equal(r.malformed, false);
    assert.equal(r.records[0]!.fragment.length, 0);
  });

  test('truncated header after a good record: the good record is returned, malformed', () => {
    const a = rec(22, 1, seqBytes(5));
    for (let cut = 1; cut < RECORD_HEADER_LENGTH; cut++) {
      const r = splitDatagram(concat(a, rec(22, 2, seqBytes(4)).subarray(0, cut)));
      assert.equal(r.malformed, true);
      assert.equal(r.records.length, 1);
    }
    assert.equal(splitDatagram(hex('16fefd')).records.length, 0);
    assert.equal(splitDatagram(hex('16fefd')).malformed, true);
  });

  test('length running past the end of the datagram: stop, malformed', () => {
    const a = rec(22, 1, seqBytes(5));
    const b = rec(22, 2, seqBytes(10));
    const r = splitDatagram(concat(a, b.subarray(0, b.length - 1)));
    assert.equal(r.malformed, true);
    assert.equal(r.records.length, 1);
    const r2 = splitDatagram(b.subarray(0, b.length - 1));
    assert.equal(r2.malformed, true);
    assert.equal(r2.records.length, 0);
    // A length that runs past the end by far (0xffff is also above the ciphertext limit; 0x4000 is not).
    const r3 = splitDatagram(concat(a, hex('17 fefd 0001 000000000001 4000'), seqBytes(100)));
    assert.equal(r3.malformed, true);
    assert.equal(r3.records.length, 1);
  });

  test('content types outside 20..26 are rejected; records before them survive', () => {
    const good = rec(23, 1, seqBytes(3));
    for (const t of [0, 19, 27, 0x2f, 0x3f, 255]) {
      const bad = rec(22, 2, seqBytes(3));
      bad[0] = t;
      const r = splitDatagram(concat(good, bad, good));
      assert.equal(r.malformed, true, `type ${t}`);
      assert.equal(r.records.length, 1);
    }
    for (let t = 20; t <= 26; t++) assert.equal(splitDatagram(rec(t, 0, seqBytes(1))).malformed, false);
  });

  test('length above 2^14 + 2048 is rejected, exactly 2^14 + 2048 accepted', () => {
    const big = new Uint8Array(RECORD_HEADER_LENGTH + MAX_CIPHERTEXT_LENGTH + 1);
    writeRecordHeader(big, 0, { contentType: 23, version: 0xfefd, epoch: 1, sequenceNumber: 0, length: MAX_CIPHERTEXT_LENGTH + 1 });
    assert.deepEqual(splitDatagram(big), { records: [], malformed: true });
    writeRecordHeader(big, 0, { contentType: 23, version: 0xfefd, epoch: 1, sequenceNumber: 0, length: MAX_CIPHERTEXT_LENGTH });
    const r = splitDatagram(big.subarray(0, RECORD_HEADER_LENGTH + MAX_CIPHERTEXT_LENGTH));
    assert.equal(r.malformed, false);
    assert.equal(r.records[0]!.fragment.length, MAX_CIPHERTEXT_LENGTH);
  });

  test('never throws on arbitrary bytes', () => {
    const rnd = prng(7);
    for (let i = 0; i < 2000; i++) {
      const d = Uint8Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256));
      if (rnd() < 0.5 && d.length > 0) d[0] = 20 + Math.floor(rnd() * 7);
      const r = splitDatagram(d);
      let total = 0;
      for (const x of r.records) total += x.raw.length;
      assert.ok(total <= d.length);
      if (!r.malformed) assert.equal(total, d.length);
    }
  });
});

describe('RFC 6347 §4.1.2.6 anti-replay window', () => {
  test('in-order records are accepted once, then duplicates rejected', () => {
    const w = new ReplayWindow();
    assert.equal(w.highest, undefined);
    for (let s = 0; s < 300; s++) {
      assert.equal(w.check(s), true);
      w.mark(s);
      assert.equal(w.check(s), false);
      assert.equal(w.highest, s);
    }
    for (let s = 300 - 64; s < 300; s++) assert.equal(w.check(s), false, `dup ${s}`);
  });

  test('first record may have any sequence number (the window starts empty)', () => {
    const w = new ReplayWindow();
    assert.equal(w.check(1000), true);
    w.mark(1000);
    assert.equal(w.check(999), true);
    assert.equal(w.check(1000 - 63), true);
    assert.equal(w.check(1000 - 64), false);
  });

  test('out of order within the window is accepted once; left of the window is too old', () => {
    const w = new ReplayWindow(64);
    w.mark(100);
    assert.equal(w.check(50), true); // 100 - 50 < 64
    w.mark(50);
    assert.equal(w.check(50), false);
    assert.equal(w.check(37), true); // right edge - 63: the last slot in the window
    assert.equal(w.check(36), false); // right edge - 64: too old
    assert.equal(w.check(0), false);
    w.mark(36); // marking a too-old number changes nothing
    assert.equal(w.check(36), false);
    assert.equal(w.check(37), true);
    w.mark(99);
    w.mark(101);
    assert.equal(w.check(99), false);
    assert.equal(w.check(98), true);
    assert.equal(w.check(37), false); // now left of the window (101 - 64)
  });

  test('jump far ahead clears the window; numbers between stay acceptable', () => {
    const w = new ReplayWindow(64);
    for (let s = 0; s < 64; s++) w.mark(s);
    w.mark(1_000_000);
    assert.equal(w.check(1_000_000), false);
    for (let s = 1_000_000 - 63; s < 1_000_000; s++) assert.equal(w.check(s), true);
    assert.equal(w.check(1_000_000 - 64), false);
    // A jump shorter than the window keeps the overlap.
    w.mark(1_000_000 - 10);
    w.mark(1_000_000 + 20);
    assert.equal(w.check(1_000_000 - 10), false);
    assert.equal(w.check(1_000_000), false);
    assert.equal(w.check(1_000_000 + 5), true);
    assert.equal(w.check(1_000_000 - 43), true);
    assert.equal(w.check(1_000_000 - 44), false);
  });

  test('sequence numbers near 2^48 - 1 are exact', () => {
    const w = new ReplayWindow(64);
    const top = MAX_SEQUENCE_NUMBER;
    w.mark(top - 1);
    assert.equal(w.check(top), true);
    w.mark(top);
    assert.equal(w.check(top), false);
    assert.equal(w.check(top - 1), false);
    assert.equal(w.check(top - 2), true);
    assert.equal(w.check(top - 64), false);
    assert.equal(w.check(top + 1), false); // not a 48-bit number
    assert.equal(w.check(-1), false);
    assert.equal(w.check(1.5), false);
    assert.equal(w.check(Number.NaN), false);
  });

  for (const size of [32, 64, 128, 1024, 4096]) {
    test(`size ${size}: edges at right - (size - 1) and right - size`, () => {
      const w = new ReplayWindow(size);
      assert.equal(w.size, size);
      const right = 10 * size + 3;
      w.mark(right);
      assert.equal(w.check(right - (size - 1)), true);
      assert.equal(w.check(right - size), false);
      for (let s = right - size + 1; s < right; s += 3) w.mark(s);
      for (let s = right - size + 1; s < right; s++) assert.equal(w.check(s), (s - (right - size + 1)) % 3 !== 0);
    });
  }

  test('sizes other than multiples of 32 in 32..4096 throw ApiMisuseError ERR_DTLS_INVALID_OPTION', () => {
    for (const bad of [0, 16, 31, 33, 100, 4097, 4128, 8192, -64, 64.5, Number.NaN]) {
      assert.throws(
        () => new ReplayWindow(bad),
        (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_INVALID_OPTION',
        `size ${bad}`,
      );
    }
  });

  test('check does not change the window: only mark (after authentication) does', () => {
    const w = new ReplayWindow();
    w.mark(10);
    // A forged record with seq 12 arrives: check passes, authentication fails, so mark is not called.
    assert.equal(w.check(12), true);
    assert.equal(w.check(12), true);
    // A forged record far ahead must not move the window either.
    assert.equal(w.check(1_000_000), true);
    assert.equal(w.highest, 10);
    // The genuine records are still acceptable.
    assert.equal(w.check(12), true);
    assert.equal(w.check(5), true);
    w.mark(12);
    assert.equal(w.check(12), false);
  });

  test('agrees with a naive set-based model on random traffic (sizes 32, 64, 128, 1024)', () => {
    for (const size of [32, 64, 128, 1024]) {
      const rnd = prng(size);
      const w = new ReplayWindow(size);
      const seen = new Set<number>();
      let top = -1;
      let base = 0;
      for (let i = 0; i < 20000; i++) {
        const r = rnd();
        let s: number;
        if (r < 0.6) s = base++;
        else if (r < 0.9) s = Math.max(0, base - Math.floor(rnd() * size * 1.5));
        else if (r < 0.98) s = base + Math.floor(rnd() * size * 2);
        else s = base + Math.floor(rnd() * size * 50);
        const expected = s > top || (top - s < size && !seen.has(s));
        assert.equal(w.check(s), expected, `size ${size} step ${i} seq ${s} top ${top}`);
        if (expected && rnd() < 0.9) {
          // 10% "fail authentication" and are never marked.
          w.mark(s);
          seen.add(s);
          if (s > top) top = s;
          if (s >= base) base = s + 1;
        }
      }
    }
  });
});

describe('RFC 5246 §6.2.3.3 / RFC 6347 §4.1.2.1 AEAD record protection', () => {
  for (const suite of DTLS12_SUITES) {
    test(`${suite.name}: seal/open round trip at several lengths`, () => {
      const p = protectionFor(suite);
      assert.equal(p.overhead, suite.recordIvLength + suite.tagLength);
      for (const len of [0, 1, 5, 64, 1000, 16384]) {
        const pt = seqBytes(len, 3);
        const record = p.seal(23, 0xfefd, 1, 1000 + len, pt);
        assert.equal(record.length, RECORD_HEADER_LENGTH + p.overhead + len);
        assert.equal(record.length, p.recordLength(len));
        const { records, malformed } = splitDatagram(record);
        assert.equal(malformed, false);
        assert.equal(records.length, 1);
        const r = records[0]!;
        assert.deepEqual(r.header, { contentType: 23, version: 0xfefd, epoch: 1, sequenceNumber: 1000 + len, length: len + p.overhead });
        assert.deepEqual(p.open(r.header, r.fragment), pt);
        // A second instance with the same key and IV (the peer) opens it too.
        assert.deepEqual(protectionFor(suite).open(r.header, r.fragment), pt);
      }
    });

    test(`${suite.name}: tampering with epoch, seq, type, version, length or any fragment byte fails`, () => {
      const p = protectionFor(suite);
      const record = p.seal(22, 0xfefd, 2, 77, seqBytes(40));
      const r = splitDatagram(record).records[0]!;
      assert.ok(p.open(r.header, r.fragment));
      const h = r.header;
      for (const bad of [
        { ...h, epoch: 3 },
        { ...h, epoch: 0 },
        { ...h, sequenceNumber: 78 },
        { ...h, sequenceNumber: 77 + 0x1_0000_0000 },
        { ...h, contentType: 23 },
        { ...h, version: 0xfeff },
        { ...h, length: h.length - 1 },
        { ...h, length: h.length + 1 },
      ]) {
        assert.equal(p.open(bad, r.fragment), undefined, JSON.stringify(bad));
      }
      // Header bytes on the wire.
      for (let i = 0; i < 11; i++) {
        const t = record.slice();
        t[i] ^= 0x01;
        const s = splitDatagram(t);
        const x = s.records[0];
        if (x) assert.equal(p.open(x.header, x.fragment), undefined, `header byte ${i}`);
      }
      // A shorter length on the wire: the frame ends early, the tag no longer lines up.
      const shorter = record.slice();
      shorter[12]! -= 1;
      const s = splitDatagram(shorter).records[0]!;
      assert.equal(p.open(s.header, s.fragment), undefined);
      // Every fragment byte (explicit nonce, ciphertext, tag).
      for (let i = 0; i < r.fragment.length; i++) {
        const f = r.fragment.slice();
        f[i] ^= 0x80;
        assert.equal(p.open(h, f), undefined, `fragment byte ${i}`);
      }
      // Truncated fragment, and a wrong key.
      assert.equal(p.open({ ...h, length: h.length - 1 }, r.fragment.subarray(0, h.length - 1)), undefined);
      assert.equal(protectionFor(suite, 1).open(h, r.fragment), undefined);
      assert.equal(protectionFor(suite, 0, 0xb0).open(h, r.fragment), undefined);
    });

    test(`${suite.name}: fragments shorter than the overhead are rejected without throwing`, () => {
      const p = protectionFor(suite);
      for (let n = 0; n < p.overhead; n++) {
        assert.equal(p.open({ contentType: 23, version: 0xfefd, epoch: 1, sequenceNumber: 0, length: n }, new Uint8Array(n)), undefined);
      }
    });
  }

  test('sealInto writes several records into one datagram buffer; splitDatagram + open recovers them', () => {
    const p = protectionFor(TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
    const q = protectionFor(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    const buf = new Uint8Array(1200);
    let o = 0;
    o += writePlaintextRecord(buf, o, 22, 0xfefd, 0, 9, seqBytes(20));
    o += p.sealInto(buf, o, 22, 0xfefd, 1, 0, seqBytes(30));
    o += q.sealInto(buf, o, 23, 0xfefd, 1, 1, seqBytes(100));
    const { records, malformed } = splitDatagram(buf.subarray(0, o));
    assert.equal(malformed, false);
    assert.equal(records.length, 3);
    assert.deepEqual(records[0]!.fragment, seqBytes(20));
    assert.deepEqual(p.open(records[1]!.header, records[1]!.fragment), seqBytes(30));
    assert.deepEqual(q.open(records[2]!.header, records[2]!.fragment), seqBytes(100));
    assert.throws(() => q.sealInto(buf, 1200 - 10, 23, 0xfefd, 1, 2, seqBytes(1)), InternalError);
  });

  test('maxPlaintext: the largest plaintext that fits a record budget', () => {
    const p = protectionFor(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    assert.equal(p.maxPlaintext(1200), 1200 - 13 - 8 - 16);
    assert.equal(p.recordLength(p.maxPlaintext(1200)), 1200);
    assert.equal(p.maxPlaintext(100_000), 16384);
  });

  test('plaintext above 2^14 is refused on seal (throws) and on open (undefined)', () => {
    const suite = TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
    const p = protectionFor(suite);
    assert.throws(() => p.seal(23, 0xfefd, 1, 0, new Uint8Array(16385)), InternalError);
    assert.throws(() => p.seal(23, 0xfefd, 0x10000, 0, new Uint8Array(1)), InternalError);
    assert.throws(() => p.seal(23, 0xfefd, 1, MAX_SEQUENCE_NUMBER + 1, new Uint8Array(1)), InternalError);
    // Build a 16385-byte record with the raw AEAD (same key, nonce, AAD rules).
    const key = seqBytes(32, 0);
    const iv = seqBytes(12, 0xa0);
    const nonce = iv.slice();
    nonce[5]! ^= 1; // epoch 1
    nonce[11]! ^= 4; // seq 4
    const aad = hex('0001 000000000004 17 fefd 4001');
    const frag = testAead('chacha20-poly1305', key).seal(nonce, aad, new Uint8Array(16385));
    const h: RecordHeader = { contentType: 23, version: 0xfefd, epoch: 1, sequenceNumber: 4, length: frag.length };
    assert.equal(p.open(h, frag), undefined);
    // The same construction at 16384 bytes opens (so the refusal above is the length rule).
    const aad2 = hex('0001 000000000004 17 fefd 4000');
    const frag2 = testAead('chacha20-poly1305', key).seal(nonce, aad2, new Uint8Array(16384));
    assert.equal(p.open({ ...h, length: frag2.length }, frag2)?.length, 16384);
  });

  test('suite / AEAD / IV mismatches are refused at construction', () => {
    const gcm = TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    assert.throws(() => new RecordProtection12(gcm, testAead('aes-256-gcm', seqBytes(32)), seqBytes(4)), InternalError);
    assert.throws(() => new RecordProtection12(gcm, testAead('aes-128-gcm', seqBytes(16)), seqBytes(12)), InternalError);
    assert.throws(
      () => new RecordProtection12(TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, testAead('aes-128-ccm', seqBytes(16)), seqBytes(4)),
      InternalError,
    );
  });

  test('the fixed IV is copied: changing the caller\'s array later has no effect', () => {
    const suite = TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    const iv = seqBytes(4, 0xa0);
    const p = new RecordProtection12(suite, testAead(suite.aead, seqBytes(16)), iv);
    const record = p.seal(23, 0xfefd, 1, 1, seqBytes(10));
    iv.fill(0);
    const r = splitDatagram(record).records[0]!;
    assert.deepEqual(protectionFor(suite).open(r.header, r.fragment), seqBytes(10));
  });
});

describe('known-answer records computed independently with node:crypto', () => {
  const key16 = hex('000102030405060708090a0b0c0d0e0f');
  const plaintext = new Uint8Array(Buffer.from('hello'));
  const aad = hex('0001 000000000005 17 fefd 0005'); // epoch ‖ seq ‖ type ‖ version ‖ plaintext length

  test('RFC 5288 §3: AES-128-GCM, fixed IV a0a1a2a3, epoch 1 seq 5, explicit nonce 0001000000000005 on the wire', () => {
    const nonce = hex('a0a1a2a3 0001000000000005');
    const c = createCipheriv('aes-128-gcm', key16, nonce);
    c.setAAD(aad);
    const ct = concat(c.update(plaintext), c.final());
    const tag = new Uint8Array(c.getAuthTag());
    const expected = concat(
      hex('17 fefd 0001 000000000005 001d'), // 8 + 5 + 16 = 29
      hex('0001000000000005'),
      ct,
      tag,
    );
    const p = new RecordProtection12(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, testAead('aes-128-gcm', key16), hex('a0a1a2a3'));
    const record = p.seal(23, 0xfefd, 1, 5, plaintext);
    assert.equal(toHex(record), toHex(expected));
    assert.equal(toHex(record.subarray(13, 21)), '0001000000000005');
    const r = splitDatagram(record).records[0]!;
    assert.deepEqual(p.open(r.header, r.fragment), plaintext);
  });

  test('RFC 5288 §3: on open the explicit nonce is taken from the wire, whatever the sender chose', () => {
    const explicit = hex('deadbeef01020304');
    const c = createCipheriv('aes-128-gcm', key16, concat(hex('a0a1a2a3'), explicit));
    c.setAAD(aad);
    const fragment = concat(explicit, c.update(plaintext), c.final(), c.getAuthTag());
    const p = new RecordProtection12(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, testAead('aes-128-gcm', key16), hex('a0a1a2a3'));
    const h: RecordHeader = { contentType: 23, version: 0xfefd, epoch: 1, sequenceNumber: 5, length: fragment.length };
    assert.deepEqual(p.open(h, fragment), plaintext);
  });

  test('RFC 7905 §2: ChaCha20-Poly1305, nonce = IV XOR 00000000 ‖ 0001000000000005, nothing explicit', () => {
    const key32 = seqBytes(32);
    const iv = hex('a0a1a2a3a4a5a6a7a8a9aaab');
    const nonce = hex('a0a1a2a3 a4a5a6a7a8a9aaab');
    const pad = hex('00000000 0001000000000005');
    for (let i = 0; i < 12; i++) nonce[i]! ^= pad[i]!;
    assert.equal(toHex(nonce), 'a0a1a2a3a4a4a6a7a8a9aaae');
    const c = createCipheriv('chacha20-poly1305', key32, nonce, { authTagLength: 16 });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    const expected = concat(hex('17 fefd 0001 000000000005 0015'), c.update(plaintext), c.final(), c.getAuthTag()); // 5 + 16 = 21
    const p = new RecordProtection12(TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, testAead('chacha20-poly1305', key32), iv);
    const record = p.seal(23, 0xfefd, 1, 5, plaintext);
    assert.equal(toHex(record), toHex(expected));
    const r = splitDatagram(record).records[0]!;
    assert.deepEqual(p.open(r.header, r.fragment), plaintext);
  });

  test('high epoch and 48-bit sequence numbers land in nonce and additional data big-endian (GCM and ChaCha20)', () => {
    const pt = seqBytes(33);
    const aadHi = hex('abcd 123456789abc 16 fefd 0021'); // epoch 0xabcd, seq 0x123456789abc, handshake, 33 bytes
    const header = hex('16 fefd abcd 123456789abc');
    {
      const c = createCipheriv('aes-128-gcm', key16, hex('a0a1a2a3 abcd123456789abc'));
      c.setAAD(aadHi);
      const expected = concat(header, hex('0039'), hex('abcd123456789abc'), c.update(pt), c.final(), c.getAuthTag());
      const p = new RecordProtection12(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, testAead('aes-128-gcm', key16), hex('a0a1a2a3'));
      assert.equal(toHex(p.seal(22, 0xfefd, 0xabcd, 0x123456789abc, pt)), toHex(expected));
    }
    {
      const key32 = seqBytes(32, 0x40);
      const iv = hex('0f0e0d0c0b0a090807060504');
      const nonce = hex('0f0e0d0c 0b0a0908 07060504');
      const pad = hex('00000000 abcd123456789abc');
      for (let i = 0; i < 12; i++) nonce[i]! ^= pad[i]!;
      const c = createCipheriv('chacha20-poly1305', key32, nonce, { authTagLength: 16 });
      c.setAAD(aadHi, { plaintextLength: pt.length });
      const expected = concat(header, hex('0031'), c.update(pt), c.final(), c.getAuthTag());
      const p = new RecordProtection12(TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, testAead('chacha20-poly1305', key32), iv);
      const record = p.seal(22, 0xfefd, 0xabcd, 0x123456789abc, pt);
      assert.equal(toHex(record), toHex(expected));
      const r = splitDatagram(record).records[0]!;
      assert.deepEqual(p.open(r.header, r.fragment), pt);
    }
  });

  test('RFC 6655 §3: AES-128-CCM-8, same nonce layout as GCM, 8-byte tag', () => {
    const nonce = hex('a0a1a2a3 0001000000000005');
    const c = createCipheriv('aes-128-ccm', key16, nonce, { authTagLength: 8 });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    const expected = concat(hex('17 fefd 0001 000000000005 0015'), hex('0001000000000005'), c.update(plaintext), c.final(), c.getAuthTag()); // 8 + 5 + 8 = 21
    const p = new RecordProtection12(TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, testAead('aes-128-ccm8', key16), hex('a0a1a2a3'));
    assert.equal(toHex(p.seal(23, 0xfefd, 1, 5, plaintext)), toHex(expected));
  });
});

describe('RFC 6347 §4.1 plaintext records and epoch state', () => {
  test('sealPlaintextRecord: header ‖ payload', () => {
    assert.equal(toHex(sealPlaintextRecord(22, 0xfeff, 0, 1, hex('0102'))), '16feff00000000000000010002' + '0102');
    assert.throws(() => sealPlaintextRecord(22, 0xfefd, 0, 0, new Uint8Array(16385)), InternalError);
  });

  test('EpochState: sequence numbers start at 0 and increase', () => {
    const e = new EpochState(0);
    assert.equal(e.epoch, 0);
    assert.equal(e.protection, undefined);
    assert.equal(e.replay.size, 64);
    assert.deepEqual([e.nextSequence(), e.nextSequence(), e.nextSequence()], [0, 1, 2]);
    assert.equal(e.nextSeq, 3);
    const p = protectionFor(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    const e1 = new EpochState(1, p, 1024);
    assert.equal(e1.protection, p);
    assert.equal(e1.replay.size, 1024);
    assert.throws(() => new EpochState(1, p, 100), ApiMisuseError);
  });

  test('EpochState: 2^48 - 1 is the last sequence number, then ERR_DTLS_SEQUENCE_EXHAUSTED', () => {
    const e = new EpochState(1);
    e.nextSeq = MAX_SEQUENCE_NUMBER - 1;
    assert.equal(e.nextSequence(), MAX_SEQUENCE_NUMBER - 1);
    assert.equal(e.exhausted, false);
    assert.equal(e.nextSequence(), MAX_SEQUENCE_NUMBER);
    assert.equal(e.exhausted, true);
    assert.throws(
      () => e.nextSequence(),
      (err: unknown) => err instanceof DtlsError && err.code === 'ERR_DTLS_SEQUENCE_EXHAUSTED',
    );
    assert.throws(() => e.nextSequence(), DtlsError); // stays exhausted
  });
});
