/**
 * Fuzzing a live Connection, client and server, at every stage of the handshake (DESIGN §9; REFERENCES §4): each
 * case takes a fresh pair (test/fuzz/common.ts Pair) to a stage with genuine traffic, then feeds the side under test
 * a sequence of actions — arbitrary datagrams, well-framed records with arbitrary fields, plaintext handshake
 * fragments with arbitrary headers, genuine datagrams with byte edits, genuine datagrams with record-level edits
 * (epoch, sequence number, length, type, version changed; records duplicated, dropped, spliced from another
 * datagram), genuine deliveries, genuine datagrams lost, and clock jumps — and checks after every action:
 *
 * - no exception escapes handleDatagram / handleTimeout / poll*;
 * - memory stays bounded: reassembly ≤ 128 KiB claimed and ≤ 9 messages, ≤ 32 deferred records, ≤ 100 datagrams
 *   out per action (test/helpers/craft.ts MEMORY_BOUNDS);
 * - no half-open success: a client that reports `connected` has a server that did too, with the same master secret.
 *
 * Then the genuine handshake is let run to its end (bounded steps and virtual time). When every fuzzed datagram was
 * garbage that forges nothing (connection-cases.ts `forges`: no plaintext alert, no plaintext handshake fragment
 * that could become part of a message the receiver still reassembles, other than byte-identical copies of records
 * the peer really sent) both sides must be connected with the same keys and pass data: garbage may cost
 * retransmissions, never the connection.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { check, fuzzRuns, pairConfigs } from './common.js';
import { COST, QUICK, STAGES, action, runCase } from './connection-cases.js';

describe('fuzz: a Connection at every handshake stage fed arbitrary and mutated datagrams (fast-check)', () => {
  for (const stage of STAGES) {
    test(`${stage.name}: no throw, bounded memory and output, no half-open success; garbage alone never costs the handshake`, async () => {
      const cfg = await pairConfigs();
      const input = fc.record({ seed: fc.integer(), actions: fc.array(action, { minLength: 1, maxLength: 8 }) });
      const tally = check(stage.name, input, fuzzRuns(QUICK, COST), ({ seed, actions }, t) => runCase(cfg, stage, seed, actions, t));
      assert.ok(tally.get('garbage_only') > 0 || tally.get('cases') < 20, 'the completion property was exercised');
    });
  }
});
