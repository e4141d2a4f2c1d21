/**
 * Fuzzing the Reassembler as a Connection uses it (`onConflict: 'replace'`, src/handshake/reassembler.ts): hostile
 * fragments first — any header, any body, for any message_seq — then the genuine messages cut into arbitrary,
 * overlapping, reordered and duplicated fragments. Properties:
 *
 * - `add` never throws and the memory bounds hold after every fragment (claimed bytes, messages held);
 * - when every hostile fragment for a genuine message_seq contradicts it in msg_type (so it cannot be mistaken for
 *   part of it) and none starts at offset 0 (so hostile fragments cannot make up a whole forged message among
 *   themselves — in DTLS 1.2 nothing could tell such a forgery from the genuine message before the Finished),
 *   exactly the genuine messages come out, in order, once the genuine flight and its retransmission have been
 *   added — one forged fragment never blocks a message for good (with the default 'drop' policy the first
 *   fragment wins, and a forged one would);
 * - with arbitrary hostile fragments, whatever comes out is well-formed (length as claimed, message_seq in order).
 *
 * The fixed-example unit tests of the same module are test/unit/reassembler.test.ts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reassembler, type ReassemblerLimits } from '../../src/handshake/reassembler.js';
import type { HandshakeFragment } from '../../src/msgs/handshake.js';
import { check, fuzzRuns, hex } from './common.js';

const LIMITS: ReassemblerLimits = { maxMessageLength: 4096, maxBufferedBytes: 8192, maxFragmentsPerMessage: 16, maxMessagesAhead: 4 };

interface Genuine {
  type: number;
  body: Uint8Array;
}

const genuineMessages: fc.Arbitrary<Genuine[]> = fc.array(
  fc.record({ type: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ maxLength: 1500 }) }),
  { minLength: 1, maxLength: 4 },
);

const hostile = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  length: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.constantFrom(4096, 4097, 0xffffff)),
  seq: fc.integer({ min: 0, max: 12 }),
  offset: fc.nat(2000),
  body: fc.uint8Array({ maxLength: 300 }),
});

/** Cuts every genuine message into fragments from `cuts` (overlapping, shuffled, some duplicated). */
function fragmentsOf(msgs: Genuine[], cuts: number[], order: number[], dup: boolean[]): HandshakeFragment[] {
  const out: HandshakeFragment[] = [];
  let c = 0;
  msgs.forEach((m, seq) => {
    const L = m.body.length;
    if (L === 0) out.push({ msgType: m.type, length: 0, messageSeq: seq, fragmentOffset: 0, fragmentLength: 0, body: m.body });
    let off = 0;
    while (off < L) {
      // At most 12 pieces per message (the limit is 16 fragments that add bytes).
      const n = Math.max(Math.ceil(L / 12), 1 + ((cuts[c++ % cuts.length] ?? 500) % 700));
      const back = Math.min(off, (cuts[c++ % cuts.length] ?? 0) % 40);
      const start = off - back;
      const end = Math.min(L, off + n);
      out.push({ msgType: m.type, length: L, messageSeq: seq, fragmentOffset: start, fragmentLength: end - start, body: m.body.subarray(start, end) });
      off = end;
    }
  });
  // Shuffle by the order keys; duplicate some.
  const keyed = out.map((f, i) => ({ f, k: order[i % order.length]! + i / 1000 }));
  keyed.sort((a, b) => a.k - b.k);
  const shuffled = keyed.map((x) => x.f);
  return [...shuffled, ...shuffled.filter((_, i) => dup[i % dup.length])];
}

function toFragment(h: { type: number; length: number; seq: number; offset: number; body: Uint8Array }): HandshakeFragment {
  const offset = Math.min(h.offset, h.length);
  const body = h.body.subarray(0, Math.max(0, Math.min(h.body.length, h.length - offset)));
  return { msgType: h.type, length: h.length, messageSeq: h.seq, fragmentOffset: offset, fragmentLength: body.length, body };
}

function bounded(r: Reassembler): void {
  assert.ok(r.bufferedBytes <= LIMITS.maxBufferedBytes, `${r.bufferedBytes} bytes held`);
  assert.ok(r.pendingMessages <= LIMITS.maxMessagesAhead + 1, `${r.pendingMessages} messages held`);
}

describe('fuzz: Reassembler with the newest-wins policy of a Connection (fast-check)', () => {
  const input = fc.record({
    msgs: genuineMessages,
    hostile: fc.array(hostile, { maxLength: 20 }),
    cuts: fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
    order: fc.array(fc.nat(100), { minLength: 1, maxLength: 20 }),
    dup: fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
  });

  test('hostile fragments that contradict the genuine messages in type or length never block them; memory bounded throughout', () => {
    check('Reassembler replace (contradicting hostile)', input, fuzzRuns(500), (x, tally) => {
      const r = new Reassembler({ ...LIMITS, onConflict: 'replace' });
      const out: { type: number; seq: number; body: string }[] = [];
      const drain = (): void => {
        for (let m = r.poll(); m !== undefined; m = r.poll()) out.push({ type: m.msgType, seq: m.messageSeq, body: hex(m.body) });
      };
      // Hostile fragments for genuine message_seqs are made to contradict the genuine message (type differs), and
      // never start at offset 0, so that they cannot make up a whole (forged) message among themselves.
      for (const h of x.hostile) {
        const g = x.msgs[h.seq];
        const f = toFragment(g === undefined ? h : { ...h, type: (g.type + 1 + (h.type % 255)) & 0xff });
        if (g !== undefined && (f.msgType === g.type || f.fragmentOffset === 0)) continue;
        const res = r.add(f);
        tally.add(`hostile_${res.kind}`);
        bounded(r);
        drain();
      }
      // The genuine flight, then its retransmission (a genuine fragment refused for lack of room while forged claims
      // for earlier message_seqs held the budget comes again). Hostile messages beyond the genuine ones may come
      // out too: only the genuine message_seqs are compared.
      const frags = fragmentsOf(x.msgs, x.cuts, x.order, x.dup);
      for (const f of [...frags, ...frags]) {
        const res = r.add(f);
        tally.add(res.kind === 'buffered' && res.replaced !== undefined ? 'genuine_replaced' : `genuine_${res.kind}`);
        bounded(r);
        drain();
      }
      const genuineOut = out.filter((m) => m.seq < x.msgs.length);
      assert.deepEqual(
        genuineOut,
        x.msgs.map((m, seq) => ({ type: m.type, seq, body: hex(m.body) })),
      );
      tally.add('completed');
    });
  });

  test('arbitrary fragments, hostile and genuine interleaved: never throws, bounded, everything delivered is well-formed and in order', () => {
    const mixed = fc.record({ msgs: genuineMessages, hostile: fc.array(hostile, { maxLength: 30 }), cuts: fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), order: fc.array(fc.nat(100), { minLength: 1, maxLength: 20 }), dup: fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }), policy: fc.constantFrom('drop' as const, 'replace' as const) });
    check('Reassembler arbitrary', mixed, fuzzRuns(500), (x, tally) => {
      const r = new Reassembler({ ...LIMITS, onConflict: x.policy });
      const frags = [...x.hostile.map(toFragment), ...fragmentsOf(x.msgs, x.cuts, x.order, x.dup)];
      // Interleave deterministically by the order keys.
      const keyed = frags.map((f, i) => ({ f, k: (x.order[i % x.order.length]! * 7 + i) % 101 }));
      keyed.sort((a, b) => a.k - b.k);
      let expectSeq = 0;
      for (const { f } of keyed) {
        const res = r.add(f);
        tally.add(res.kind);
        bounded(r);
        for (let m = r.poll(); m !== undefined; m = r.poll()) {
          assert.equal(m.messageSeq, expectSeq++);
          assert.ok(m.body.length <= LIMITS.maxMessageLength);
          tally.add('delivered');
        }
      }
    });
  });
});
