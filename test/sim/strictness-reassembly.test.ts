/**
 * Reassembly hostility through a live Connection (REFERENCES §4.1: OpenSSL CVE-2014-0195 / CVE-2026-95690, pion
 * CVE-2022-29190 / CVE-2022-29189, GnuTLS CVE-2026-33846 class). The Reassembler's own unit tests are in
 * test/unit/reassembler.test.ts; here a peer's genuine flight is held back while an off-path attacker injects
 * hostile plaintext fragments (epoch 0, so anyone can), then the genuine flight is delivered. Every case asserts
 * that memory stays bounded while under attack, what was discarded, and that the handshake still completes.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, flightOf, type Packet, type SimOptions, type Side } from '../helpers/sim.js';
import { testCerts, type CertSet } from '../helpers/certs.js';
import { assertMemoryBounded, concat, connectionMemory, fragment, plainRecord } from '../helpers/craft.js';
import { ContentType } from '../../src/msgs/enums.js';
import { decodeHandshakeFragments } from '../../src/msgs/handshake.js';
import { splitDatagram } from '../../src/record/deframer.js';
import type { Connection } from '../../src/core/connection.js';

let certs: CertSet;

/** The genuine messages of the held flight: message_seq → type and length. */
type Shape = Map<number, { type: number; length: number }>;

interface Ctx {
  /** The message_seq the target expects next. */
  next: number;
  genuine: Shape;
  /** A plaintext handshake record carrying `fragments`, with a record number of the attacker's choosing. */
  record: (...fragments: Uint8Array[]) => Uint8Array;
}

/**
 * Runs a handshake (client auth, MTU 400 so that flights are fragmented) until `target` waits for the peer's
 * flight (4 for the client, 5 for the server), holds that flight back, injects `hostile(ctx)` one datagram at a
 * time checking the memory bound after each, then delivers the genuine flight.
 */
async function hostileThenGenuine(
  target: Side,
  hostile: (ctx: Ctx) => Uint8Array[],
  check?: (conn: Connection, sim: Sim) => void,
  extra: Partial<SimOptions> = {},
): Promise<Sim> {
  certs ??= await testCerts('ec');
  const flight = target === 'client' ? 4 : 5;
  const held: Packet[] = [];
  let holding = true;
  const sim = new Sim({
    ...extra,
    client: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, mtu: 400 },
    server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requestCert: true, mtu: 400 },
    filter: (p) => {
      if (holding && flightOf(p) === flight) {
        held.push(p);
        return 'drop';
      }
      return 'deliver';
    },
  });
  sim.start();
  // A flight's datagrams are all sent at once: when the first is held, so is the rest.
  sim.run(() => held.length > 0, 500);
  holding = false;
  assert.ok(held.length >= 2, `flight ${flight} is fragmented over several datagrams\n${sim.trace()}`);
  const conn = target === 'client' ? sim.client : sim.server!;
  const genuine: Shape = new Map();
  for (const p of held) {
    for (const r of splitDatagram(p.data).records) {
      if (r.header.epoch !== 0 || r.header.contentType !== ContentType.handshake) continue;
      for (const f of decodeHandshakeFragments(r.fragment)) genuine.set(f.messageSeq, { type: f.msgType, length: f.length });
    }
  }
  const next = Math.min(...genuine.keys());
  let recordSeq = 5000;
  const ctx: Ctx = { next, genuine, record: (...f) => plainRecord(ContentType.handshake, recordSeq++, concat(f)) };
  const before = conn.handshakeState;
  for (const d of hostile(ctx)) {
    sim.inject(target, d);
    sim.run(() => false, 1);
    assertMemoryBounded(conn, 'under attack');
  }
  assert.equal(conn.isClosed, false, `the target survives the attack: ${conn.error?.message}`);
  assert.equal(conn.handshakeState, before, 'no hostile fragment was taken for a message');
  check?.(conn, sim);
  for (const p of held) sim.inject(target, p.data);
  sim.run(() => sim.bothConnected, 60_000);
  assert.ok(sim.bothConnected, `handshake completes after the attack: ${sim.client.error?.message} / ${sim.server?.error?.message}\n${sim.trace()}`);
  assert.deepEqual(sim.client.exportKeyingMaterial('EXPERIMENTAL-r', 16), sim.server!.exportKeyingMaterial('EXPERIMENTAL-r', 16));
  assertMemoryBounded(conn, 'after');
  assert.equal(connectionMemory(conn).reassemblyBytes, 0, 'nothing left buffered once connected');
  return sim;
}

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

for (const target of ['client', 'server'] as const) {
  describe(`reassembly under attack, ${target} waiting for flight ${target === 'client' ? 4 : 5}`, () => {
    test('overlapping fragments with conflicting bytes for the next messages (same type and length as the genuine ones): the genuine flight replaces them', async () => {
      await hostileThenGenuine(target, ({ next, genuine, record }) => {
        const out: Uint8Array[] = [];
        for (const [seq, g] of genuine) {
          if (g.length < 40) continue;
          out.push(record(fragment(g.type, g.length, seq, 0, bytes(20, 0xa5))));
          out.push(record(fragment(g.type, g.length, seq, 10, bytes(20, 0x5a)))); // overlaps and conflicts with the first
          out.push(record(fragment(g.type, g.length, seq, g.length - 16, bytes(16, 0x33))));
        }
        assert.ok(out.length > 0 && genuine.has(next));
        return out;
      }, (conn) => assert.ok(conn.stats.discarded.handshake_fragment >= 1, JSON.stringify(conn.stats.discarded)));
    });

    test('inconsistent message_length and msg_type across fragments of one message: bounded, then the genuine flight completes', async () => {
      await hostileThenGenuine(target, ({ next, genuine, record }) => {
        const g = genuine.get(next)!;
        return [
          record(fragment(g.type, g.length + 7, next, 0, bytes(10, 1))),
          record(fragment(g.type, g.length, next, 5, bytes(10, 2))),
          record(fragment(g.type ^ 0x40, g.length, next, 20, bytes(10, 3))),
          record(fragment(g.type, 60_000, next + 1, 100, bytes(10, 4))),
          record(fragment(g.type, 100, next + 1, 0, bytes(10, 5))),
        ];
      });
    });

    test('CVE-2022-29190: zero-length fragments of non-empty messages (at the start, middle and end) change nothing', async () => {
      await hostileThenGenuine(target, ({ next, genuine, record }) => {
        const g = genuine.get(next)!;
        const out = [record(fragment(g.type, g.length, next, 0, new Uint8Array(0)))];
        out.push(record(fragment(g.type, g.length, next, g.length >> 1, new Uint8Array(0))));
        out.push(record(fragment(g.type, g.length, next, g.length, new Uint8Array(0))));
        // Many zero-length fragments in one record.
        out.push(record(...Array.from({ length: 200 }, (_, i) => fragment(g.type, g.length, next + (i % 3), i % g.length, new Uint8Array(0)))));
        return out;
      }, (conn) => {
        assert.equal(connectionMemory(conn).reassemblyBytes, 0);
        assert.ok(conn.stats.discarded.handshake_fragment >= 203);
      });
    });

    test('CVE-2014-0195: a fragment beyond the message length is rejected with its whole record', async () => {
      await hostileThenGenuine(target, ({ next, genuine, record }) => {
        const g = genuine.get(next)!;
        return [
          record(fragment(g.type, 10, next, 8, bytes(50, 9))),
          record(fragment(g.type, g.length, next, g.length - 1, bytes(2, 9))),
          record(fragment(g.type, 0, next, 0xffffff, bytes(1, 9))),
          // A plausible fragment followed by one that overruns: nothing of the record is used.
          record(fragment(g.type, g.length, next, 0, bytes(8, 7)), fragment(g.type, 4, next, 2, bytes(8, 7))),
        ];
      }, (conn) => {
        assert.equal(conn.stats.discarded.malformed, 4);
        assert.equal(connectionMemory(conn).reassemblyBytes, 0);
      });
    });

    test('message_seq far in the future (next+9, 1000, 65535) is dropped without buffering', async () => {
      await hostileThenGenuine(target, ({ next, record }) => [
        record(fragment(11, 300, next + 9, 0, bytes(300, 1))),
        record(fragment(11, 300, 1000, 0, bytes(300, 1))),
        record(fragment(11, 300, 65535, 0, bytes(300, 1))),
      ], (conn) => {
        assert.equal(connectionMemory(conn).reassemblyBytes, 0);
        assert.equal(conn.stats.discarded.handshake_fragment, 3);
      });
    });

    test('CVE-2026-95690 / CVE-2022-29189: huge claimed lengths (16 MB, 64 KiB+1) are refused before allocation; claims at the cap fill at most the budget', async () => {
      const heapBefore = process.memoryUsage().arrayBuffers;
      await hostileThenGenuine(target, ({ next, record }) => {
        const out = [record(fragment(11, 0xffffff, next, 0, bytes(100, 1))), record(fragment(11, 65_537, next + 1, 0, bytes(100, 1)))];
        // Eight messages ahead claiming the largest allowed length each: only what fits the 128 KiB budget is kept.
        for (let k = 1; k <= 8; k++) out.push(record(fragment(11, 65_536, next + k, 1000, bytes(100, k))));
        return out;
      }, (conn) => {
        const m = connectionMemory(conn);
        assert.ok(m.reassemblyBytes <= 131_072, String(m.reassemblyBytes));
        assert.ok(conn.stats.discarded.handshake_fragment >= 2 + 6);
      });
      assert.ok(process.memoryUsage().arrayBuffers - heapBefore < 16 * 1024 * 1024, 'no 16 MB allocation');
    });

    test('more fragments than maxFragmentsPerMessage (64) for one message: the rest are dropped', async () => {
      await hostileThenGenuine(target, ({ next, record }) =>
        Array.from({ length: 100 }, (_, i) => record(fragment(11, 1000, next + 1, i * 2, bytes(1, i)))),
      (conn) => {
        assert.equal(conn.stats.discarded.handshake_fragment, 100 - 64);
        assert.equal(connectionMemory(conn).reassemblyBytes, 1000);
      });
    });

    test('fragments of messages already received (message_seq below the next) make us resend our flight at most once per quarter timeout', async () => {
      await hostileThenGenuine(target, ({ next, record }) =>
        Array.from({ length: 50 }, (_, i) => record(fragment(11, 100, next - 1, 0, bytes(100, i)))),
      (conn) => assert.ok(conn.stats.retransmissions <= 1, String(conn.stats.retransmissions)));
    });

    test('a plaintext record with the highest sequence number (2^48-1) does not shut the genuine flight out (epoch 0 has no authentic replay window)', async () => {
      await hostileThenGenuine(target, ({ next, genuine }) => {
        const g = genuine.get(next)!;
        return [
          plainRecord(ContentType.handshake, 0xffff_ffff_ffff, fragment(g.type, g.length, next, 1, bytes(4, 1))),
          plainRecord(ContentType.handshake, 0xffff_ffff_fff0, Uint8Array.of(1, 2, 3)),
          plainRecord(ContentType.change_cipher_spec, 0xffff_ffff_fffe, Uint8Array.of(1)),
        ];
      });
    });

    test('everything above at once, twice', async () => {
      await hostileThenGenuine(target, ({ next, genuine, record }) => {
        const out: Uint8Array[] = [];
        for (let round = 0; round < 2; round++) {
          for (const [seq, g] of genuine) {
            out.push(record(fragment(g.type, g.length, seq, 0, bytes(Math.min(20, g.length), 0xee))));
            out.push(record(fragment(g.type, g.length + 1, seq, 1, bytes(5, 0xef))));
            out.push(record(fragment(g.type, g.length, seq, 3, new Uint8Array(0))));
          }
          out.push(record(fragment(11, 0xffffff, next, 0, bytes(10, 1))));
          for (let k = 1; k <= 9; k++) out.push(record(fragment(11, 65_536, next + k, 0, bytes(50, k))));
          out.push(plainRecord(ContentType.handshake, 0xffff_ffff_ffff - round, fragment(11, 10, 65_535, 0, bytes(10, 1))));
        }
        return out;
      });
    });
  });
}

describe('a forged fragment does not stand for the peer\'s answer (RFC 6347 §4.2.4 timer)', () => {
  for (const [lost, seq, type] of [
    [1, 0, 3],
    [3, 1, 2],
  ] as const) {
    test(`flight ${lost} lost and a plaintext fragment of message_seq ${seq} forged: the client still retransmits at +1000 ms and connects`, async () => {
      certs ??= await testCerts('ec');
      let dropped = false;
      const sim = new Sim({
        client: { ca: certs.ca },
        server: { cert: certs.serverCert, key: certs.serverKey },
        filter: (p) => {
          if (!dropped && p.from === 'client' && flightOf(p) === lost) {
            dropped = true;
            // The attacker answers in the server's place with a fragment of what the client waits for.
            sim.inject('client', plainRecord(ContentType.handshake, 3, fragment(type, 90, seq, 10, bytes(20, 7))), 5);
            return 'drop';
          }
          return 'deliver';
        },
      });
      sim.handshake();
      assert.ok(sim.bothConnected, `${sim.client.error?.message}\n${sim.trace()}`);
      assert.equal(sim.client.stats.retransmissions, 1);
      const times = sim.packets('client').filter((p) => flightOf(p) === lost).map((p) => p.at);
      assert.equal(times[1]! - times[0]!, 1000, sim.trace());
    });
  }
});
