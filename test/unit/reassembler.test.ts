/** Handshake reassembly (RFC 6347 §4.2.2 fragmentation, §4.2.3 message_seq ordering; DESIGN §3). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { InvalidMessageError } from '../../src/errors.js';
import { decodeHandshakeFragments, encodeHandshakeFragment } from '../../src/msgs/handshake.js';
import type { HandshakeFragment } from '../../src/msgs/handshake.js';
import { Reassembler } from '../../src/handshake/reassembler.js';
import type { ReassemblyResult } from '../../src/handshake/reassembler.js';
import { mulberry32 as prng } from '../helpers/rng.js';

function bytes(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed + i * 7) & 0xff;
  return b;
}

/** A fragment [offset, offset+len) of `body` for message (type, seq). */
function frag(type: number, seq: number, body: Uint8Array, offset: number, len: number): HandshakeFragment {
  return { msgType: type, length: body.length, messageSeq: seq, fragmentOffset: offset, fragmentLength: len, body: body.subarray(offset, offset + len) };
}

function whole(type: number, seq: number, body: Uint8Array): HandshakeFragment {
  return frag(type, seq, body, 0, body.length);
}

function isBuffered(r: ReassemblyResult): void {
  assert.deepEqual(r, { kind: 'buffered' });
}

function isDropped(r: ReassemblyResult, re: RegExp): void {
  assert.equal(r.kind, 'dropped');
  if (r.kind === 'dropped') assert.match(r.reason, re);
}


describe('Reassembler', () => {
  test('RFC 6347 §4.2.3 in-order unfragmented messages come out in message_seq order', () => {
    const r = new Reassembler();
    const a = bytes(40, 1), b = bytes(70, 2), c = bytes(0);
    isBuffered(r.add(whole(2, 0, a)));
    isBuffered(r.add(whole(11, 1, b)));
    isBuffered(r.add(whole(14, 2, c)));
    assert.deepEqual(r.poll(), { msgType: 2, messageSeq: 0, body: a });
    assert.deepEqual(r.poll(), { msgType: 11, messageSeq: 1, body: b });
    assert.deepEqual(r.poll(), { msgType: 14, messageSeq: 2, body: c });
    assert.equal(r.poll(), undefined);
    assert.equal(r.nextSeq, 3);
  });

  test('RFC 6347 §4.2.3 a message arriving early waits for its predecessor', () => {
    const r = new Reassembler();
    const a = bytes(10, 1), b = bytes(10, 2);
    isBuffered(r.add(whole(12, 1, b)));
    assert.equal(r.poll(), undefined);
    isBuffered(r.add(whole(11, 0, a)));
    assert.equal(r.poll()?.messageSeq, 0);
    assert.equal(r.poll()?.messageSeq, 1);
  });

  test('RFC 6347 §4.2.2 out-of-order fragments complete only when [0, length) is covered', () => {
    const r = new Reassembler();
    const body = bytes(3000, 3);
    isBuffered(r.add(frag(11, 0, body, 2000, 1000)));
    assert.equal(r.poll(), undefined);
    isBuffered(r.add(frag(11, 0, body, 0, 1000)));
    assert.equal(r.poll(), undefined);
    isBuffered(r.add(frag(11, 0, body, 1000, 1000)));
    const m = r.poll();
    assert.ok(m);
    assert.deepEqual(m.body, body);
  });

  test('RFC 6347 §4.2.2 overlapping fragments with identical bytes are merged', () => {
    const r = new Reassembler();
    const body = bytes(20, 4);
    isBuffered(r.add(frag(1, 0, body, 0, 10)));
    isBuffered(r.add(frag(1, 0, body, 5, 10)));
    isBuffered(r.add(frag(1, 0, body, 5, 5))); // fully duplicate
    assert.equal(r.poll(), undefined);
    isBuffered(r.add(frag(1, 0, body, 10, 10)));
    assert.deepEqual(r.poll()?.body, body);
  });

  test('RFC 6347 §4.2.2 an overlapping fragment with different bytes is dropped as a conflict', () => {
    const r = new Reassembler();
    const body = bytes(20, 5);
    isBuffered(r.add(frag(1, 0, body, 0, 10)));
    const evil = body.slice();
    evil[7] ^= 0xff;
    isDropped(r.add(frag(1, 0, evil, 5, 10)), /conflict/);
    assert.equal(r.poll(), undefined);
    isBuffered(r.add(frag(1, 0, body, 5, 15)));
    assert.deepEqual(r.poll()?.body, body, 'the first bytes win; the conflicting fragment wrote nothing');
  });

  test('RFC 6347 §4.2.2 fragments whose msg_type or length disagree with earlier ones are dropped', () => {
    const r = new Reassembler();
    const body = bytes(20, 6);
    isBuffered(r.add(frag(11, 0, body, 0, 10)));
    isDropped(r.add({ ...frag(11, 0, body, 10, 10), msgType: 12 }), /msg_type/);
    const longer = bytes(30, 6);
    isDropped(r.add(frag(11, 0, longer, 10, 10)), /length/);
    assert.equal(r.poll(), undefined);
    assert.equal(r.bufferedBytes, 20);
  });

  test('CVE-2022-29190: zero-length fragments of a non-empty message are ignored', () => {
    const r = new Reassembler();
    const body = bytes(10);
    isDropped(r.add(frag(11, 0, body, 0, 0)), /zero-length/);
    isDropped(r.add(frag(11, 0, body, 10, 0)), /zero-length/);
    assert.equal(r.bufferedBytes, 0);
    assert.equal(r.pendingMessages, 0);
    assert.equal(r.poll(), undefined);
  });

  test('RFC 5246 §7.4.5 a zero-length message (ServerHelloDone) completes with one fragment', () => {
    const r = new Reassembler({}, 3);
    isBuffered(r.add(whole(14, 3, new Uint8Array(0))));
    isBuffered(r.add(whole(14, 3, new Uint8Array(0)))); // duplicate before poll
    const m = r.poll();
    assert.deepEqual(m, { msgType: 14, messageSeq: 3, body: new Uint8Array(0) });
    assert.equal(r.nextSeq, 4);
  });

  test('RFC 6347 §4.2.2 a fragment beyond length is rejected by the decoder and dropped by the reassembler', () => {
    assert.throws(() => decodeHandshakeFragments(Uint8Array.from([1, 0, 0, 4, 0, 0, 0, 0, 3, 0, 0, 2, 9, 9])), InvalidMessageError);
    const r = new Reassembler();
    isDropped(r.add({ msgType: 1, length: 4, messageSeq: 0, fragmentOffset: 3, fragmentLength: 2, body: bytes(2) }), /fit/);
    isDropped(r.add({ msgType: 1, length: 4, messageSeq: 0, fragmentOffset: 0, fragmentLength: 3, body: bytes(2) }), /fit/);
    assert.equal(r.bufferedBytes, 0);
  });

  test('RFC 6347 §4.2.3 message_seq far ahead of next_receive_seq is dropped', () => {
    const r = new Reassembler({ maxMessagesAhead: 8 }, 2);
    isDropped(r.add(whole(1, 11, bytes(4))), /ahead/);
    isDropped(r.add(whole(1, 0xffff, bytes(4))), /ahead/);
    isBuffered(r.add(whole(1, 10, bytes(4)))); // exactly nextSeq + 8
    assert.equal(r.pendingMessages, 1);
  });

  test('CVE-2014-0195 / CVE-2026-95690: a huge claimed length is refused before any allocation', () => {
    const r = new Reassembler();
    isDropped(r.add({ msgType: 11, length: 0xffffff, messageSeq: 0, fragmentOffset: 0, fragmentLength: 4, body: bytes(4) }), /exceeds/);
    isDropped(r.add({ msgType: 11, length: 65537, messageSeq: 1, fragmentOffset: 0, fragmentLength: 4, body: bytes(4) }), /exceeds/);
    assert.equal(r.bufferedBytes, 0);
    assert.equal(r.pendingMessages, 0);
    isBuffered(r.add({ msgType: 11, length: 65536, messageSeq: 0, fragmentOffset: 0, fragmentLength: 4, body: bytes(4) }));
    assert.equal(r.bufferedBytes, 65536);
  });

  test('RFC 6347 §4.2.3 message_seq below next_receive_seq is reported as a retransmission', () => {
    const r = new Reassembler();
    isBuffered(r.add(whole(1, 0, bytes(8))));
    r.poll();
    assert.deepEqual(r.add(whole(1, 0, bytes(8))), { kind: 'retransmission', messageSeq: 0 });
    assert.deepEqual(r.add(frag(1, 0, bytes(8), 2, 2)), { kind: 'retransmission', messageSeq: 0 });
    assert.equal(r.pendingMessages, 0);
    const r5 = new Reassembler({}, 5);
    assert.deepEqual(r5.add(whole(2, 3, bytes(1))), { kind: 'retransmission', messageSeq: 3 });
  });

  test('memory is released after poll', () => {
    const r = new Reassembler();
    const body = bytes(5000);
    isBuffered(r.add(frag(11, 0, body, 0, 2500)));
    isBuffered(r.add(whole(12, 1, bytes(100))));
    assert.equal(r.bufferedBytes, 5100);
    isBuffered(r.add(frag(11, 0, body, 2500, 2500)));
    assert.equal(r.poll()?.body.length, 5000);
    assert.equal(r.bufferedBytes, 100);
    assert.equal(r.poll()?.body.length, 100);
    assert.equal(r.bufferedBytes, 0);
    assert.equal(r.pendingMessages, 0);
  });

  test('CVE-2022-29189: maxBufferedBytes caps the claimed lengths held across messages', () => {
    const r = new Reassembler({ maxBufferedBytes: 100 });
    isBuffered(r.add(frag(11, 1, bytes(60), 0, 10)));
    assert.equal(r.bufferedBytes, 60, 'the full claimed length is charged by the first fragment');
    isDropped(r.add(frag(11, 2, bytes(60), 0, 10)), /buffer limit/);
    assert.equal(r.bufferedBytes, 60);
    isBuffered(r.add(whole(11, 2, bytes(40))));
    assert.equal(r.bufferedBytes, 100);
  });

  test('the next expected message evicts messages buffered further ahead when the budget is full', () => {
    const r = new Reassembler({ maxBufferedBytes: 100 });
    isBuffered(r.add(whole(12, 1, bytes(30))));
    isBuffered(r.add(frag(13, 2, bytes(50), 0, 10)));
    assert.equal(r.bufferedBytes, 80);
    isBuffered(r.add(frag(11, 0, bytes(60), 0, 30))); // evicts seq 2 (the highest) only: 30 + 60
    assert.equal(r.bufferedBytes, 90);
    assert.equal(r.pendingMessages, 2);
    isBuffered(r.add(frag(11, 0, bytes(60), 30, 30)));
    assert.equal(r.poll()?.messageSeq, 0);
    assert.equal(r.poll()?.messageSeq, 1);
    assert.equal(r.poll(), undefined, 'seq 2 was evicted; the peer will retransmit it');
    assert.equal(r.bufferedBytes, 0);
  });

  test('a message beyond the budget even after eviction is dropped without evicting anything', () => {
    const r = new Reassembler({ maxBufferedBytes: 100 });
    isBuffered(r.add(whole(11, 0, bytes(70))));
    isBuffered(r.add(whole(12, 2, bytes(20))));
    isDropped(r.add(frag(12, 1, bytes(40), 0, 4)), /buffer limit/);
    assert.equal(r.pendingMessages, 2);
    assert.equal(r.bufferedBytes, 90);
  });

  test('RFC 6347 §4.2.2 maxFragmentsPerMessage bounds the fragments that add new bytes', () => {
    const r = new Reassembler({ maxFragmentsPerMessage: 4 });
    const body = bytes(10);
    for (let i = 0; i < 4; i++) isBuffered(r.add(frag(11, 0, body, i * 2, 1)));
    isBuffered(r.add(frag(11, 0, body, 0, 1))); // duplicates do not count
    isDropped(r.add(frag(11, 0, body, 9, 1)), /fragments/);
    assert.equal(r.poll(), undefined);
  });

  test('reset forgets everything and sets nextSeq', () => {
    const r = new Reassembler();
    isBuffered(r.add(frag(11, 0, bytes(100), 0, 50)));
    r.reset(7);
    assert.equal(r.bufferedBytes, 0);
    assert.equal(r.pendingMessages, 0);
    assert.equal(r.nextSeq, 7);
    assert.equal(r.add(whole(1, 6, bytes(1))).kind, 'retransmission');
  });

  test('the polled body is a fresh copy, independent of the datagram', () => {
    const r = new Reassembler();
    const body = bytes(16);
    const record = encodeHandshakeFragment(20, 16, 0, 0, body);
    const [f] = decodeHandshakeFragments(record);
    isBuffered(r.add(f!));
    record.fill(0);
    assert.deepEqual(r.poll()?.body, body);
  });

  test('RFC 6347 §4.2.2 end to end: encode fragments, pack records, decode, reassemble', () => {
    const msgs = [bytes(1500, 1), bytes(0), bytes(333, 2)];
    const types = [11, 14, 20];
    const records: Uint8Array[] = [];
    let cur: Uint8Array[] = [];
    msgs.forEach((m, seq) => {
      if (m.length === 0) cur.push(encodeHandshakeFragment(types[seq]!, 0, seq, 0, m));
      for (let off = 0; off < m.length; off += 400) {
        cur.push(encodeHandshakeFragment(types[seq]!, m.length, seq, off, m.subarray(off, Math.min(m.length, off + 400))));
        if (cur.length === 2) {
          records.push(Uint8Array.from(Buffer.concat(cur)));
          cur = [];
        }
      }
    });
    if (cur.length) records.push(Uint8Array.from(Buffer.concat(cur)));
    const r = new Reassembler();
    for (const rec of records.reverse()) for (const f of decodeHandshakeFragments(rec)) isBuffered(r.add(f));
    for (let seq = 0; seq < 3; seq++) {
      const m = r.poll();
      assert.equal(m?.msgType, types[seq]);
      assert.deepEqual(m?.body, msgs[seq]);
    }
  });

  test('property: random fragmentation, reordering and duplication always reassembles exactly', () => {
    const rand = prng(7);
    for (let it = 0; it < 300; it++) {
      const count = 1 + Math.floor(rand() * 4);
      const msgs = Array.from({ length: count }, (_, i) => bytes(Math.floor(rand() * 3000), it * 31 + i));
      const frags: HandshakeFragment[] = [];
      msgs.forEach((m, seq) => {
        if (m.length === 0) frags.push(whole(seq + 1, seq, m));
        let off = 0;
        while (off < m.length) {
          const len = Math.min(m.length - off, 1 + Math.floor(rand() * 900));
          // random overlap backwards
          const start = Math.max(0, off - Math.floor(rand() * 50));
          frags.push(frag(seq + 1, seq, m, start, off + len - start));
          off += len;
        }
      });
      for (let i = frags.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [frags[i], frags[j]] = [frags[j]!, frags[i]!];
      }
      const dup = frags.filter(() => rand() < 0.3);
      const r = new Reassembler();
      const out: Uint8Array[] = [];
      for (const f of [...frags, ...dup]) {
        const res = r.add(f);
        assert.notEqual(res.kind, 'dropped', JSON.stringify(res));
        for (let m = r.poll(); m; m = r.poll()) out.push(m.body);
      }
      assert.equal(out.length, count);
      out.forEach((b, i) => assert.deepEqual(b, msgs[i]));
      assert.equal(r.bufferedBytes, 0);
    }
  });

  test('property: arbitrary fragments never throw and memory stays bounded', () => {
    const rand = prng(99);
    const limits = { maxBufferedBytes: 20000, maxMessageLength: 16384, maxFragmentsPerMessage: 16, maxMessagesAhead: 4 };
    const r = new Reassembler(limits);
    for (let it = 0; it < 20000; it++) {
      const length = rand() < 0.1 ? Math.floor(rand() * 0x1000000) : Math.floor(rand() * 20000);
      const off = Math.floor(rand() * (length + 1));
      const len = Math.min(length - off, Math.floor(rand() * 1500));
      const f: HandshakeFragment = {
        msgType: Math.floor(rand() * 4),
        length,
        messageSeq: r.nextSeq + Math.floor(rand() * 8) - 2,
        fragmentOffset: off,
        fragmentLength: len,
        body: bytes(len, it & 3),
      };
      if (f.messageSeq < 0) continue;
      const res = r.add(f);
      assert.ok(['buffered', 'retransmission', 'dropped'].includes(res.kind));
      assert.ok(r.bufferedBytes <= limits.maxBufferedBytes);
      assert.ok(r.pendingMessages <= limits.maxMessagesAhead + 1);
      if (rand() < 0.05) r.poll();
    }
  });
});
