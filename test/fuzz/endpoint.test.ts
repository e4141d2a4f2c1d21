/**
 * Fuzzing the server Endpoint (DESIGN §2, RFC 6347 §4.2.1; REFERENCES §4 class 4): arbitrary datagrams, ClientHellos
 * with arbitrary fields and cookies (whole, or the first fragment of a fragmented one), and byte-edited copies of a
 * real client's two ClientHellos, from many addresses. Properties:
 *
 * - handleDatagram never throws;
 * - no connection exists without a valid cookie: a connection is only ever created for the address the cookie was
 *   made for, from a hello whose version, random, session_id and cookie are those the cookie was made for;
 * - every answer is a HelloVerifyRequest no larger than the datagram that caused it (no amplification);
 * - no other state: at most that one connection at the end.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Connection } from '../../src/core/connection.js';
import { Endpoint, DEFAULT_ENDPOINT_LIMITS, type Remote } from '../../src/core/endpoint.js';
import { decodeClientHello, decodeClientHelloPrefix, encodeClientHello, type ClientHello } from '../../src/msgs/client-hello.js';
import { decodeHandshakeFragments, encodeHandshakeFragment } from '../../src/msgs/handshake.js';
import { decodeHelloVerifyRequest } from '../../src/msgs/hello-verify-request.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { sealPlaintextRecord } from '../../src/record/protection.js';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import { applyByteOps, byteOp, check, fuzzRuns, hex, pairConfigs, seededRandom, type ByteOp } from './common.js';

const QUICK = 300;
const GENUINE: Remote = { address: '198.51.100.20', port: 50000 };

type Source =
  | { readonly k: 'bytes'; readonly data: Uint8Array }
  | { readonly k: 'hello'; readonly hello: ClientHello; readonly cookie: 'none' | 'random' | 'genuine'; readonly split: number; readonly msgSeq: number; readonly recSeq: number }
  | { readonly k: 'genuine'; readonly which: 0 | 1; readonly ops: readonly ByteOp[] };

interface Item {
  readonly from: 'genuine' | Remote;
  readonly src: Source;
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const hello: fc.Arbitrary<ClientHello> = fc.record({
  clientVersion: fc.oneof(fc.constantFrom(0xfefd, 0xfeff), u16),
  random: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  sessionId: fc.uint8Array({ maxLength: 32 }),
  cookie: fc.uint8Array({ maxLength: 40 }),
  cipherSuites: fc.array(u16, { minLength: 1, maxLength: 20 }),
  compressionMethods: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 3 }),
  extensions: fc.uniqueArray(fc.record({ type: u16, data: fc.uint8Array({ maxLength: 30 }) }), { maxLength: 6, selector: (e) => e.type }),
});

const source: fc.Arbitrary<Source> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('bytes' as const), data: fc.uint8Array({ maxLength: 600 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('hello' as const),
      hello,
      cookie: fc.constantFrom('none' as const, 'random' as const, 'genuine' as const),
      split: fc.nat(),
      msgSeq: fc.oneof(fc.integer({ min: 0, max: 3 }), u16),
      recSeq: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff_ffff_ffff })),
    }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('genuine' as const), which: fc.constantFrom(0 as const, 1 as const), ops: fc.array(byteOp, { maxLength: 4 }) }) },
);

const remote: fc.Arbitrary<Remote> = fc.record({
  address: fc.oneof(fc.ipV4(), fc.constantFrom('198.51.100.20', '198.51.100.21', '::1', '2001:db8::20')),
  port: fc.oneof(fc.constantFrom(50000, 50001, 443), fc.integer({ min: 1, max: 65535 })),
});

const item: fc.Arbitrary<Item> = fc.record({ from: fc.oneof(fc.constant('genuine' as const), remote), src: source });

function datagramOf(src: Source, genuine: readonly Uint8Array[], genuineCookie: Uint8Array): Uint8Array {
  if (src.k === 'bytes') return src.data;
  if (src.k === 'genuine') return applyByteOps(genuine[src.which]!, src.ops);
  const cookie = src.cookie === 'genuine' ? genuineCookie : src.cookie === 'none' ? new Uint8Array(0) : src.hello.cookie;
  const body = encodeClientHello({ ...src.hello, cookie });
  // A whole hello, or only the first fragment of it (the cookie check must work on that alone).
  const n = src.split % 2 === 0 ? body.length : Math.max(1, src.split % body.length);
  const frag = encodeHandshakeFragment(1, body.length, src.msgSeq, 0, body.subarray(0, n));
  return sealPlaintextRecord(22, 0xfefd, 0, src.recSeq, frag);
}

describe('fuzz: the server Endpoint fed arbitrary datagrams from many addresses (fast-check)', () => {
  test('never throws, answers only with HelloVerifyRequests no larger than the request, never makes a connection without a valid cookie', async () => {
    const cfg = await pairConfigs();
    const input = fc.record({ seed: fc.integer(), items: fc.array(item, { minLength: 1, maxLength: 12 }) });
    const tally = check('Endpoint', input, fuzzRuns(QUICK, 5), ({ seed, items }, t) => {
      const scfg = { ...cfg.server, crypto: new NodeCryptoProvider({ random: seededRandom(seed) }) };
      const endpoint = new Endpoint(() => scfg, scfg.crypto, DEFAULT_ENDPOINT_LIMITS);
      // A real client's ClientHello, and its ClientHello with the cookie the endpoint made for GENUINE.
      const client = new Connection({ ...cfg.client, crypto: new NodeCryptoProvider({ random: seededRandom(~seed) }) });
      client.connect(0);
      const ch1 = client.pollTransmit()!;
      const hvr = endpoint.handleDatagram(0, ch1, GENUINE);
      assert.equal(hvr.kind, 'reply');
      client.handleDatagram(0, hvr.kind === 'reply' ? hvr.datagram : new Uint8Array(0));
      const ch2 = client.pollTransmit()!;
      const good = decodeClientHello(decodeHandshakeFragments(splitDatagram(ch2).records[0]!.fragment)[0]!.body);
      assert.ok(good.cookie.length > 0);
      let created = 0;
      for (const it of items) {
        const from = it.from === 'genuine' ? GENUINE : it.from;
        const d = datagramOf(it.src, [ch1, ch2], good.cookie);
        const existed = endpoint.get(from) !== undefined;
        const r = endpoint.handleDatagram(1000, d, from);
        t.add(`result_${r.kind}`);
        if (r.kind === 'reply') {
          assert.ok(r.datagram.length <= d.length, `amplification: ${r.datagram.length} bytes for ${d.length}`);
          const recs = splitDatagram(r.datagram).records;
          assert.equal(recs.length, 1);
          const f = decodeHandshakeFragments(recs[0]!.fragment);
          assert.equal(f.length, 1);
          assert.equal(f[0]!.msgType, 3);
          assert.equal(decodeHelloVerifyRequest(f[0]!.body).cookie.length, 20);
        } else if (r.kind === 'connection' && r.isNew) {
          // Only for the address and hello the cookie was made for.
          assert.ok(from.address === GENUINE.address && from.port === GENUINE.port, `connection for ${from.address}:${from.port} without its cookie`);
          const first = decodeHandshakeFragments(splitDatagram(d).records[0]!.fragment)[0]!;
          const p = decodeClientHelloPrefix(first.body);
          assert.equal(hex(p.cookie), hex(good.cookie), 'cookie');
          assert.equal(hex(p.random), hex(good.random), 'random');
          assert.equal(hex(p.sessionId), hex(good.sessionId), 'session_id');
          assert.equal(p.clientVersion, good.clientVersion, 'client_version');
          created++;
          t.add('valid_cookie_connections');
        } else if (r.kind === 'connection') {
          assert.ok(existed, 'routed to a connection that did not exist');
        }
      }
      assert.ok(endpoint.size <= 1, `endpoint holds ${endpoint.size} connections`);
      if (endpoint.size === 1) assert.ok(endpoint.get(GENUINE) !== undefined);
      assert.ok(created <= items.length);
    });
    assert.ok(tally.get('result_reply') > 0 && tally.get('result_dropped') > 0);
  });
});
