/** The cases of test/fuzz/connection.test.ts: stages, actions, the forging rule and the checks (shared with repro scripts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Pair, applyByteOps, byteOp, hex, type ByteOp, type PairConfigs, type Tally } from './common.js';
import { assertMemoryBounded, receiveState } from '../helpers/craft.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { decodeHandshakeFragments } from '../../src/msgs/handshake.js';
import { encodeRecordHeader } from '../../src/record/header12.js';

export const QUICK = 200;
/** A case runs one or two handshakes (~3-5 ms): in a long campaign it gets FUZZ_RUNS / 10 cases per stage. */
export const COST = 10;
const MAX_OUTPUT_PER_ACTION = 100;

type Target = 'client' | 'server';

export interface Stage {
  readonly name: string;
  readonly target: Target;
  readonly reach: (p: Pair) => void;
}

const exchangeData = (p: Pair): void => {
  p.client.send(Buffer.from('c'));
  p.server!.send(Buffer.from('s'));
  p.collect();
  p.finish();
};

export const STAGES: Stage[] = [
  { name: 'client fresh (flight 1 sent)', target: 'client', reach: () => undefined },
  { name: 'client after HelloVerifyRequest (flight 3 sent)', target: 'client', reach: (p) => p.until(() => p.sentBy.client >= 2, 'flight 3') },
  { name: 'client mid flight 4', target: 'client', reach: (p) => p.until(() => p.delivered.toClient >= 2, 'flight 4 begun') },
  { name: 'client after flight 5', target: 'client', reach: (p) => p.until(() => p.client.handshakeState === 'ExpectChangeCipherSpec', 'flight 5') },
  { name: 'client established', target: 'client', reach: (p) => (p.finish(), exchangeData(p)) },
  { name: 'server fresh (flight 4 sent)', target: 'server', reach: (p) => p.until(() => p.server !== undefined, 'server connection') },
  { name: 'server mid flight 5', target: 'server', reach: (p) => p.until(() => p.server !== undefined && p.delivered.toServer >= 3, 'flight 5 begun') },
  { name: 'server after flight 6 (final flight held)', target: 'server', reach: (p) => p.until(() => p.server?.isConnected === true, 'server connected') },
  { name: 'server established', target: 'server', reach: (p) => (p.finish(), exchangeData(p)) },
];

// ---------------------------------------------------------------------------------------------------- actions

type RecordEdit =
  | { readonly f: 'epoch' | 'seq' | 'length' | 'type' | 'version'; readonly rec: number; readonly v: number }
  | { readonly f: 'dup' | 'drop'; readonly rec: number }
  | { readonly f: 'splice'; readonly rec: number; readonly from: number };

export type Action =
  | { readonly k: 'bytes'; readonly data: Uint8Array }
  | { readonly k: 'record'; readonly type: number; readonly version: number; readonly epoch: number; readonly seq: number; readonly payload: Uint8Array }
  | {
      readonly k: 'frag';
      readonly epoch: number;
      readonly seq: number;
      readonly frags: readonly { type: number; length: number; mseq: number; offset: number; body: Uint8Array }[];
    }
  | { readonly k: 'mutate'; readonly src: number; readonly ops: readonly ByteOp[] }
  | { readonly k: 'records'; readonly src: number; readonly edits: readonly RecordEdit[] }
  | { readonly k: 'genuine' }
  /** The next genuine datagram in flight is lost. */
  | { readonly k: 'lose' }
  | { readonly k: 'time'; readonly ms: number };

const u16 = fc.integer({ min: 0, max: 0xffff });
const seq48 = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffff_ffff_ffff }));
const epochArb = fc.oneof(fc.constantFrom(0, 0, 1, 2), u16);

const recordEdit: fc.Arbitrary<RecordEdit> = fc.oneof(
  fc.record({ f: fc.constantFrom('epoch' as const, 'seq' as const, 'length' as const, 'type' as const, 'version' as const), rec: fc.nat(), v: fc.oneof(fc.nat(3), fc.nat(0x7fffffff)) }),
  fc.record({ f: fc.constantFrom('dup' as const, 'drop' as const), rec: fc.nat() }),
  fc.record({ f: fc.constant('splice' as const), rec: fc.nat(), from: fc.nat() }),
);

export const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('bytes' as const), data: fc.uint8Array({ maxLength: 1400 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('record' as const),
      type: fc.oneof(fc.constantFrom(20, 21, 22, 23, 25, 26), fc.integer({ min: 0, max: 255 })),
      version: fc.oneof(fc.constantFrom(0xfefd, 0xfeff), u16),
      epoch: epochArb,
      seq: seq48,
      payload: fc.oneof(fc.constantFrom(Uint8Array.of(1), Uint8Array.of(2, 10), Uint8Array.of(1, 0)), fc.uint8Array({ maxLength: 300 })),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('frag' as const),
      epoch: fc.constantFrom(0, 0, 0, 1),
      seq: seq48,
      frags: fc.array(
        fc.record({
          type: fc.oneof(fc.constantFrom(0, 1, 2, 3, 11, 12, 13, 14, 15, 16, 20), fc.integer({ min: 0, max: 255 })),
          length: fc.oneof(fc.integer({ min: 0, max: 1500 }), fc.constantFrom(0xffffff, 65_536, 65_537, 131_072)),
          mseq: fc.oneof(fc.integer({ min: 0, max: 12 }), u16),
          offset: fc.oneof(fc.integer({ min: 0, max: 1500 }), fc.constant(0)),
          body: fc.uint8Array({ maxLength: 200 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('mutate' as const), src: fc.nat(), ops: fc.array(byteOp, { minLength: 0, maxLength: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('records' as const), src: fc.nat(), edits: fc.array(recordEdit, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'genuine' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'lose' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('time' as const), ms: fc.integer({ min: 1, max: 1500 }) }) },
);

function rawFragment(f: { type: number; length: number; mseq: number; offset: number; body: Uint8Array }): Uint8Array {
  const n = f.body.length;
  return Uint8Array.of(
    f.type, f.length >>> 16, (f.length >>> 8) & 0xff, f.length & 0xff,
    (f.mseq >>> 8) & 0xff, f.mseq & 0xff,
    (f.offset >>> 16) & 0xff, (f.offset >>> 8) & 0xff, f.offset & 0xff,
    n >>> 16, (n >>> 8) & 0xff, n & 0xff,
    ...f.body,
  );
}

function recordBytes(type: number, version: number, epoch: number, seq: number, payload: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([encodeRecordHeader({ contentType: type, version, epoch, sequenceNumber: seq, length: payload.length }), payload]));
}

/** The datagram an action delivers to the side under test (undefined: the action is not a datagram). */
function datagramOf(a: Action, genuine: readonly Uint8Array[]): Uint8Array | undefined {
  switch (a.k) {
    case 'bytes':
      return a.data;
    case 'record':
      return recordBytes(a.type, a.version, a.epoch, a.seq, a.payload.subarray(0, 0xffff));
    case 'frag':
      return recordBytes(22, 0xfefd, a.epoch, a.seq, new Uint8Array(Buffer.concat(a.frags.map(rawFragment))));
    case 'mutate':
      return applyByteOps(genuine[a.src % genuine.length]!, a.ops);
    case 'records': {
      let recs = splitDatagram(genuine[a.src % genuine.length]!).records.map((r) => r.raw.slice());
      for (const e of a.edits) {
        if (recs.length === 0) break;
        const i = e.rec % recs.length;
        const r = recs[i]!;
        if (e.f === 'dup') recs.splice(i, 0, r.slice());
        else if (e.f === 'drop') recs.splice(i, 1);
        else if (e.f === 'splice') {
          const other = splitDatagram(genuine[e.from % genuine.length]!).records;
          if (other.length > 0) recs.splice(i, 0, other[e.from % other.length]!.raw.slice());
        } else if (e.f === 'epoch') r.set([(e.v >>> 8) & 0xff, e.v & 0xff], 3);
        else if (e.f === 'seq') r.set([0, 0, (e.v >>> 24) & 0xff, (e.v >>> 16) & 0xff, (e.v >>> 8) & 0xff, e.v & 0xff], 5);
        else if (e.f === 'length') r.set([(e.v >>> 8) & 0xff, e.v & 0xff], 11);
        else if (e.f === 'type') r[0] = e.v & 0xff;
        else if (e.f === 'version') r.set([(e.v >>> 8) & 0xff, e.v & 0xff], 1);
      }
      recs = recs.filter((r) => r.length > 0);
      return new Uint8Array(Buffer.concat(recs));
    }
    default:
      return undefined;
  }
}

/**
 * Whether a datagram could forge something a DTLS 1.2 peer takes on trust until the Finished: a plaintext alert, or a
 * plaintext handshake fragment that can become part of a message — non-empty, for a message_seq the receiver
 * still reassembles (next .. next+8) and of an acceptable length, while the receiver still reads epoch 0. Such data
 * is not authenticated in DTLS 1.2 (a forged fragment completing a genuine message's first half is accepted, as in
 * every implementation; the Finished then fails). Records identical to one the peer really sent are replays, not
 * forgeries; protected records cannot be forged; a plaintext ChangeCipherSpec is harmless by design.
 *
 * To a server, a plaintext ClientHello that the Endpoint routes past the connection counts as a forgery too:
 * - with another client random (anyone can send it from the client's address): the Endpoint takes it for a restarted
 *   client and answers the real client with a HelloVerifyRequest, which the real client follows; the server then
 *   restarts from its new hello. That usually ends well (test/sim/strictness-client.test.ts "spoofed ClientHello"),
 *   but messages of the old flight 4 still on their way (retransmitted, say) carry the message_seq the client now
 *   expects from the new one, and a Certificate where a ServerHello belongs is fatal — like a forged alert would be;
 * - the client's own hello at a later message_seq (it carries the cookie, so only an eavesdropper has it): after such
 *   a HelloVerifyRequest the Endpoint restarts the handshake from it.
 */
export function forges(
  d: Uint8Array,
  genuineRecords: ReadonlySet<string>,
  rx: { nextSeq: number; readEpoch: number },
  /** For a server: the client random of the hello its connection answers. */
  toServer?: Uint8Array,
): boolean {
  if (toServer && isRoutedPastConnection(d, toServer)) return true;
  for (const r of splitDatagram(d).records) {
    const h = r.header;
    if (h.epoch !== 0 || rx.readEpoch !== 0 || h.version >> 8 !== 0xfe) continue;
    if (genuineRecords.has(hex(r.raw))) continue;
    if (h.contentType === 21) return true;
    if (h.contentType === 22) {
      let frags;
      try {
        frags = decodeHandshakeFragments(r.fragment);
      } catch {
        continue; // discarded as malformed
      }
      const usable = (f: { messageSeq: number; length: number; fragmentLength: number }) =>
        f.messageSeq >= rx.nextSeq && f.messageSeq <= rx.nextSeq + 8 && f.length <= 65_536 && (f.fragmentLength > 0 || f.length === 0);
      if (frags.some(usable)) return true;
    }
  }
  return false;
}

/**
 * The Endpoint's tests (src/core/endpoint.ts) for a hello that is not the connection's business: first record a
 * plaintext ClientHello start, with another client random, or with a message_seq above that of the hello the
 * connection was made for (1 in a Pair: ClientHello 0, then 1).
 */
function isRoutedPastConnection(d: Uint8Array, random: Uint8Array): boolean {
  if (!(d.length >= 25 && d[0] === 22 && d[3] === 0 && d[4] === 0 && d[13] === 1 && d[19] === 0 && d[20] === 0 && d[21] === 0)) return false;
  if (((d[17]! << 8) | d[18]!) > 1) return true;
  const at = 13 + 12 + 2;
  if (d.length < at + 32) return false;
  for (let i = 0; i < 32; i++) if (d[at + i] !== random[i]) return true;
  return false;
}

function checkInvariants(p: Pair, what: string): void {
  assertMemoryBounded(p.client, `${what}: client`);
  if (p.server !== undefined) assertMemoryBounded(p.server, `${what}: server`);
  if (p.client.isConnected) {
    assert.ok(p.server?.handshakeResult !== undefined, `${what}: client connected, server never did`);
    assert.deepEqual(p.client.handshakeResult!.masterSecret, p.server.handshakeResult.masterSecret, `${what}: keys differ`);
  }
  const connectedEvents = (ev: readonly { type: string }[]) => ev.filter((e) => e.type === 'connected').length;
  assert.ok(connectedEvents(p.clientEvents) <= 1 && connectedEvents(p.serverEvents) <= 1, `${what}: connected twice`);
}

export function runCase(cfg: PairConfigs, stage: Stage, seed: number, actions: readonly Action[], tally: Tally): void {
  const p = new Pair(cfg, seed);
  p.start();
  stage.reach(p);
  const dir = stage.target === 'client' ? 'toClient' : 'toServer';
  const genuineRecords = new Set<string>();
  let forged = false;
  for (const [i, a] of actions.entries()) {
    // What the peer of the side under test really sent (a record reflected back to its own sender is no replay).
    for (const g of p.sentDatagrams[stage.target === 'client' ? 'server' : 'client']) for (const r of splitDatagram(g).records) genuineRecords.add(hex(r.raw));
    const before = p.sentBy.client + p.sentBy.server;
    if (a.k === 'genuine') p.step();
    else if (a.k === 'lose') p.queue.shift();
    else if (a.k === 'time') p.advance(a.ms);
    else {
      const d = datagramOf(a, p.genuine)!;
      const target = stage.target === 'client' ? p.client : p.server!;
      if (forges(d, genuineRecords, receiveState(target), stage.target === 'server' ? p.server!.clientHelloRandom : undefined)) forged = true;
      p.deliver(dir, d);
      tally.add('datagrams');
    }
    const out = p.sentBy.client + p.sentBy.server - before;
    assert.ok(out <= MAX_OUTPUT_PER_ACTION, `action ${i} (${a.k}) made ${out} datagrams`);
    checkInvariants(p, `${stage.name}, after action ${i} (${a.k})`);
  }
  const { steps } = p.finish();
  tally.add('steps', steps);
  checkInvariants(p, `${stage.name}, after the genuine handshake`);
  if (forged) {
    tally.add('forging');
    if (p.bothConnected) tally.add('forging_but_connected');
    return;
  }
  tally.add('garbage_only');
  assert.ok(
    p.bothConnected,
    `${stage.name}: garbage that forges nothing cost the handshake: client ${p.client.handshakeState} ${p.client.error?.code} ${p.client.error?.message} / ` +
      `server ${p.server?.handshakeState} ${p.server?.error?.code} ${p.server?.error?.message}`,
  );
  // Data both ways under the agreed keys.
  const n = { c: p.clientEvents.length, s: p.serverEvents.length };
  p.client.send(Buffer.from('after fuzz c'));
  p.server!.send(Buffer.from('after fuzz s'));
  p.collect();
  p.finish();
  const data = (ev: readonly { type: string }[]) => ev.flatMap((e) => (e.type === 'data' ? [Buffer.from((e as unknown as { data: Uint8Array }).data).toString()] : []));
  assert.ok(data(p.serverEvents.slice(n.s)).includes('after fuzz c'), `${stage.name}: server got the data`);
  assert.ok(data(p.clientEvents.slice(n.c)).includes('after fuzz s'), `${stage.name}: client got the data`);
  tally.add('completed');
}

