/**
 * Fuzzing every decoder of src/msgs and the record framing (DESIGN §5, §9): arbitrary bytes, and valid encodings
 * with a few byte edits. A decoder either returns a value that encodes back to exactly the input (where the codec
 * promises it), or throws one of the two typed errors — InvalidMessageError (decode_error) or PeerMisbehavedError
 * (illegal_parameter for a duplicate extension or a curve type) — never RangeError, TypeError or anything else.
 * Valid values generated structurally must round-trip the other way too: decode(encode(v)) equals v.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidMessageError, PeerMisbehavedError } from '../../src/errors.js';
import { decodeHandshakeFragments, encodeHandshakeFragment, type HandshakeFragment } from '../../src/msgs/handshake.js';
import { decodeClientHello, decodeClientHelloPrefix, encodeClientHello, type ClientHello } from '../../src/msgs/client-hello.js';
import { decodeServerHello, encodeServerHello, type ServerHello } from '../../src/msgs/server-hello.js';
import { decodeHelloVerifyRequest, encodeHelloVerifyRequest } from '../../src/msgs/hello-verify-request.js';
import { decodeCertificate, encodeCertificate } from '../../src/msgs/certificate.js';
import { decodeCertificateRequest, encodeCertificateRequest } from '../../src/msgs/certificate-request.js';
import { decodeCertificateVerify, encodeCertificateVerify } from '../../src/msgs/certificate-verify.js';
import {
  decodeClientKeyExchangeEcdhe,
  decodeServerKeyExchangeEcdhe,
  encodeClientKeyExchangeEcdhe,
  encodeServerKeyExchangeEcdhe,
} from '../../src/msgs/key-exchange.js';
import { decodeFinished, encodeFinished } from '../../src/msgs/finished.js';
import { decodeServerHelloDone, encodeServerHelloDone } from '../../src/msgs/server-hello-done.js';
import { decodeAlert, encodeAlert } from '../../src/msgs/alert.js';
import { decodeChangeCipherSpec, encodeChangeCipherSpec } from '../../src/msgs/change-cipher-spec.js';
import {
  decodeAlpn,
  decodeEcPointFormats,
  decodeExtensions,
  decodeRenegotiationInfo,
  decodeServerName,
  decodeSignatureAlgorithms,
  decodeSupportedGroups,
  decodeUseSrtp,
  encodeAlpn,
  encodeEcPointFormats,
  encodeExtensions,
  encodeRenegotiationInfo,
  encodeServerName,
  encodeSignatureAlgorithms,
  encodeSupportedGroups,
  encodeUseSrtp,
  type Extension,
} from '../../src/msgs/extensions.js';
import { Reader } from '../../src/msgs/reader.js';
import { Writer } from '../../src/msgs/writer.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { encodeRecordHeader, readRecordHeader, MAX_CIPHERTEXT_LENGTH, type RecordHeader } from '../../src/record/header12.js';
import { RecordProtection12 } from '../../src/record/protection.js';
import { DTLS12_SUITES } from '../../src/crypto/suites.js';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import { check, fuzzRuns, hex, mutated, type Tally } from './common.js';

const QUICK = 400;

/** Asserts `e` is one of the two typed decode errors. */
function typed(e: unknown, what: string, input: Uint8Array): void {
  if (e instanceof InvalidMessageError || e instanceof PeerMisbehavedError) return;
  assert.fail(`${what}(${hex(input)}) threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
}

interface Codec<T> {
  name: string;
  decode: (b: Uint8Array) => T;
  /** Omitted for decoders that promise no round trip. */
  encode?: (v: T) => Uint8Array;
  /** Valid values, to be encoded (and then mutated). */
  valid: fc.Arbitrary<T>;
  /** The input may re-encode with its empty extensions block left out (it means the same). */
  optionalTrailer?: Uint8Array;
}

/** decode(bytes): a value re-encoding to bytes, or a typed error. */
function decodeOrTypedError<T>(c: Codec<T>, input: Uint8Array, tally: Tally): void {
  let v: T;
  try {
    v = c.decode(input);
  } catch (e) {
    typed(e, c.name, input);
    tally.add('rejected');
    return;
  }
  tally.add('accepted');
  if (c.encode === undefined) return;
  let again: Uint8Array;
  try {
    again = c.encode(v);
  } catch (e) {
    assert.fail(`${c.name}: decoded ${hex(input)} but cannot encode the result: ${(e as Error).message}`);
  }
  if (hex(again) === hex(input)) return;
  if (c.optionalTrailer !== undefined && hex(again) + hex(c.optionalTrailer) === hex(input)) return;
  assert.fail(`${c.name}: ${hex(input)} re-encodes as ${hex(again)}`);
}

/** Views and arrays compared as plain data. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${hex(v)}`;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });
const latin1 = (min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 1, max: 255 }), { minLength: min, maxLength: max }).map((cs) => String.fromCharCode(...cs));
const hostName = fc.array(fc.integer({ min: 0x21, max: 0x7e }), { minLength: 1, maxLength: 80 }).map((cs) => String.fromCharCode(...cs));
const extensions: fc.Arbitrary<Extension[]> = fc.uniqueArray(fc.record({ type: u16, data: bytes(0, 40) }), {
  maxLength: 8,
  selector: (e) => e.type,
});

const clientHello: fc.Arbitrary<ClientHello> = fc.record({
  clientVersion: fc.oneof(fc.constantFrom(0xfefd, 0xfeff, 0xfefc), u16),
  random: bytes(32, 32),
  sessionId: bytes(0, 32),
  cookie: bytes(0, 255),
  cipherSuites: fc.array(u16, { minLength: 1, maxLength: 40 }),
  compressionMethods: fc.array(u8, { minLength: 1, maxLength: 4 }),
  extensions,
});

const serverHello: fc.Arbitrary<ServerHello> = fc.record({
  serverVersion: u16,
  random: bytes(32, 32),
  sessionId: bytes(0, 32),
  cipherSuite: u16,
  compressionMethod: u8,
  extensions,
});

const CODECS: Codec<any>[] = [
  { name: 'ClientHello', decode: decodeClientHello, encode: encodeClientHello, valid: clientHello, optionalTrailer: Uint8Array.of(0, 0) },
  { name: 'ServerHello', decode: decodeServerHello, encode: encodeServerHello, valid: serverHello, optionalTrailer: Uint8Array.of(0, 0) },
  { name: 'HelloVerifyRequest', decode: decodeHelloVerifyRequest, encode: encodeHelloVerifyRequest, valid: fc.record({ serverVersion: u16, cookie: bytes(0, 255) }) },
  {
    name: 'Certificate',
    decode: decodeCertificate,
    encode: encodeCertificate,
    valid: fc.record({ certificates: fc.array(bytes(1, 300), { maxLength: 4 }) }),
  },
  {
    name: 'CertificateRequest',
    decode: decodeCertificateRequest,
    encode: encodeCertificateRequest,
    valid: fc.record({
      certificateTypes: fc.array(u8, { minLength: 1, maxLength: 6 }),
      signatureSchemes: fc.array(u16, { minLength: 1, maxLength: 20 }),
      certificateAuthorities: fc.array(bytes(1, 60), { maxLength: 4 }),
    }),
  },
  { name: 'CertificateVerify', decode: decodeCertificateVerify, encode: encodeCertificateVerify, valid: fc.record({ signatureScheme: u16, signature: bytes(0, 300) }) },
  {
    name: 'ServerKeyExchange',
    decode: decodeServerKeyExchangeEcdhe,
    encode: encodeServerKeyExchangeEcdhe,
    valid: fc.record({ params: fc.record({ namedGroup: u16, publicKey: bytes(1, 255) }), signatureScheme: u16, signature: bytes(0, 300) }),
  },
  { name: 'ClientKeyExchange', decode: decodeClientKeyExchangeEcdhe, encode: encodeClientKeyExchangeEcdhe, valid: fc.record({ publicKey: bytes(1, 255) }) },
  { name: 'Finished', decode: (b) => decodeFinished(b), encode: encodeFinished, valid: bytes(12, 12) },
  { name: 'ServerHelloDone', decode: decodeServerHelloDone, encode: () => encodeServerHelloDone(), valid: fc.constant(undefined) },
  { name: 'Alert', decode: decodeAlert, encode: encodeAlert, valid: fc.record({ level: u8, description: u8 }) },
  { name: 'ChangeCipherSpec', decode: decodeChangeCipherSpec, encode: () => encodeChangeCipherSpec(), valid: fc.constant(undefined) },
  {
    name: 'server_name',
    decode: decodeServerName,
    encode: (s: string | undefined) => (s === undefined ? new Uint8Array(0) : encodeServerName(s)),
    valid: fc.option(hostName, { nil: undefined }),
  },
  { name: 'supported_groups', decode: decodeSupportedGroups, encode: encodeSupportedGroups, valid: fc.array(u16, { minLength: 1, maxLength: 30 }) },
  { name: 'ec_point_formats', decode: decodeEcPointFormats, encode: encodeEcPointFormats, valid: fc.array(u8, { minLength: 1, maxLength: 5 }) },
  { name: 'signature_algorithms', decode: decodeSignatureAlgorithms, encode: encodeSignatureAlgorithms, valid: fc.array(u16, { minLength: 1, maxLength: 30 }) },
  { name: 'alpn', decode: decodeAlpn, encode: encodeAlpn, valid: fc.array(latin1(1, 20), { minLength: 1, maxLength: 6 }) },
  { name: 'renegotiation_info', decode: decodeRenegotiationInfo, encode: encodeRenegotiationInfo, valid: bytes(0, 255) },
  {
    name: 'use_srtp',
    decode: decodeUseSrtp,
    encode: (m: { profiles: number[]; mki: Uint8Array }) => encodeUseSrtp(m.profiles, m.mki),
    valid: fc.record({ profiles: fc.array(u16, { minLength: 1, maxLength: 8 }), mki: bytes(0, 255) }),
  },
  {
    name: 'extensions block',
    decode: (b: Uint8Array) => {
      const r = new Reader(b);
      const exts = decodeExtensions(r);
      r.expectEnd('extensions');
      return exts;
    },
    encode: (exts: Extension[]) => {
      const w = new Writer();
      encodeExtensions(w, exts);
      return w.finish();
    },
    valid: extensions,
    optionalTrailer: Uint8Array.of(0, 0),
  },
];

describe('fuzz: message decoders (fast-check)', () => {
  for (const c of CODECS) {
    test(`${c.name}: arbitrary and mutated bytes decode to a value that re-encodes exactly, or to a typed error`, () => {
      const validBytes = c.valid.map((v) => c.encode!(v));
      const input = fc.oneof(bytes(0, 600), mutated(validBytes));
      check(c.name, input, fuzzRuns(QUICK), (b, tally) => decodeOrTypedError(c, b, tally));
    });

    test(`${c.name}: valid values round-trip (decode(encode(v)) = v)`, () => {
      check(`${c.name} round trip`, c.valid, fuzzRuns(QUICK / 4), (v) => {
        const b = c.encode!(v);
        assert.deepEqual(plain(c.decode(b)), plain(v));
      });
    });
  }

  test('ClientHello prefix (the stateless cookie check of a fragmented hello): agrees with the full decoder, typed errors only', () => {
    const validBytes = clientHello.map(encodeClientHello);
    check('ClientHello prefix', fc.oneof(bytes(0, 300), mutated(validBytes), validBytes.chain((b) => fc.nat(b.length).map((n) => b.subarray(0, n)))), fuzzRuns(QUICK), (b, tally) => {
      let prefix;
      try {
        prefix = decodeClientHelloPrefix(b);
      } catch (e) {
        typed(e, 'decodeClientHelloPrefix', b);
        tally.add('rejected');
        return;
      }
      tally.add('accepted');
      try {
        const whole = decodeClientHello(b);
        assert.deepEqual(plain({ clientVersion: whole.clientVersion, random: whole.random, sessionId: whole.sessionId, cookie: whole.cookie }), plain(prefix));
        tally.add('whole');
      } catch (e) {
        typed(e, 'decodeClientHello', b);
      }
    });
  });
});

describe('fuzz: handshake fragments and record framing (fast-check)', () => {
  const frag: fc.Arbitrary<HandshakeFragment> = fc
    .record({ msgType: u8, messageSeq: u16, body: bytes(0, 200), before: fc.nat(300), after: fc.nat(300) })
    .map(({ msgType, messageSeq, body, before, after }) => ({
      msgType,
      messageSeq,
      length: before + body.length + after,
      fragmentOffset: before,
      fragmentLength: body.length,
      body,
    }));
  const encodeFrags = (fs: HandshakeFragment[]): Uint8Array =>
    Buffer.concat(fs.map((f) => encodeHandshakeFragment(f.msgType, f.length, f.messageSeq, f.fragmentOffset, f.body)));

  test('decodeHandshakeFragments: arbitrary and mutated records give fragments that re-encode exactly, or InvalidMessageError', () => {
    const valid = fc.array(frag, { minLength: 1, maxLength: 4 }).map(encodeFrags);
    check('handshake fragments', fc.oneof(bytes(0, 400), mutated(valid)), fuzzRuns(QUICK), (b, tally) => {
      let fs: HandshakeFragment[];
      try {
        fs = decodeHandshakeFragments(b);
      } catch (e) {
        assert.ok(e instanceof InvalidMessageError, `${hex(b)}: ${String(e)}`);
        tally.add('rejected');
        return;
      }
      tally.add('accepted');
      for (const f of fs) {
        assert.ok(f.fragmentOffset + f.fragmentLength <= f.length);
        assert.equal(f.body.length, f.fragmentLength);
      }
      assert.equal(hex(encodeFrags(fs)), hex(b));
    });
  });

  test('decodeHandshakeFragments: valid fragment lists round-trip', () => {
    check('handshake fragments round trip', fc.array(frag, { minLength: 1, maxLength: 4 }), fuzzRuns(QUICK / 4), (fs) => {
      assert.deepEqual(plain(decodeHandshakeFragments(encodeFrags(fs))), plain(fs));
    });
  });

  const header: fc.Arbitrary<RecordHeader> = fc.record({
    contentType: fc.integer({ min: 20, max: 26 }),
    version: fc.oneof(fc.constantFrom(0xfefd, 0xfeff), u16),
    epoch: u16,
    sequenceNumber: fc.integer({ min: 0, max: 0xffff_ffff_ffff }),
    length: fc.constant(0),
  });
  const record = fc.tuple(header, bytes(0, 300)).map(([h, body]) => Buffer.concat([encodeRecordHeader({ ...h, length: body.length }), body]));
  const datagram = fc.array(record, { minLength: 1, maxLength: 5 }).map((rs) => new Uint8Array(Buffer.concat(rs)));

  test('splitDatagram never throws; framed records are exact views of the datagram and their headers re-encode', () => {
    check('splitDatagram', fc.oneof(bytes(0, 600), mutated(datagram)), fuzzRuns(QUICK), (d, tally) => {
      const { records, malformed } = splitDatagram(d);
      tally.add(malformed ? 'malformed' : 'framed');
      tally.add('records', records.length);
      let at = 0;
      for (const r of records) {
        assert.equal(r.raw.byteOffset - d.byteOffset, at, 'records are consecutive from the start');
        assert.equal(r.raw.length, 13 + r.header.length);
        assert.ok(r.header.length <= MAX_CIPHERTEXT_LENGTH);
        assert.ok(r.header.contentType >= 20 && r.header.contentType <= 26);
        assert.deepEqual(readRecordHeader(d, at), r.header);
        assert.equal(hex(encodeRecordHeader(r.header)), hex(r.raw.subarray(0, 13)));
        assert.equal(hex(r.fragment), hex(r.raw.subarray(13)));
        at += r.raw.length;
      }
      if (!malformed) assert.equal(at, d.length, 'a datagram that is not malformed is nothing but records');
      else assert.ok(at < d.length);
    });
  });

  test('splitDatagram returns well-formed datagrams record for record', () => {
    const recs = fc.array(fc.tuple(header, bytes(0, 300)), { minLength: 1, maxLength: 5 });
    check('splitDatagram round trip', recs, fuzzRuns(QUICK / 4), (rs) => {
      const d = new Uint8Array(Buffer.concat(rs.map(([h, b]) => Buffer.concat([encodeRecordHeader({ ...h, length: b.length }), b]))));
      const { records, malformed } = splitDatagram(d);
      assert.equal(malformed, false);
      assert.equal(records.length, rs.length);
      records.forEach((r, i) => {
        assert.deepEqual(r.header, { ...rs[i]![0], length: rs[i]![1].length });
        assert.equal(hex(r.fragment), hex(rs[i]![1]));
      });
    });
  });

  test('RecordProtection12.open never throws and never authenticates forged or mutated records (every suite)', () => {
    const crypto = new NodeCryptoProvider();
    const prots = DTLS12_SUITES.map((s) => new RecordProtection12(s, crypto.createAead(s.aead, new Uint8Array(s.keyLength).fill(7)), new Uint8Array(s.fixedIvLength).fill(9)));
    const input = fc.record({
      which: fc.nat(prots.length - 1),
      genuine: fc.boolean(),
      plaintext: bytes(0, 100),
      h: header,
      ops: fc.array(fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), { minLength: 1, maxLength: 3 }),
      fragment: bytes(0, 200),
      headerEdit: fc.constantFrom('none', 'seq', 'epoch', 'type', 'version', 'length'),
    });
    check('RecordProtection12.open', input, fuzzRuns(QUICK), (x, tally) => {
      const p = prots[x.which]!;
      if (!x.genuine) {
        // Arbitrary bytes under an arbitrary header.
        assert.equal(p.open({ ...x.h, length: x.fragment.length }, x.fragment), undefined);
        tally.add('arbitrary');
        return;
      }
      const epoch = x.h.epoch;
      const seq = x.h.sequenceNumber;
      const rec = p.seal(x.h.contentType, x.h.version, epoch, seq, x.plaintext);
      const h: RecordHeader = { ...x.h, epoch, sequenceNumber: seq, length: rec.length - 13 };
      const frag = rec.subarray(13);
      assert.equal(hex(p.open(h, frag)!), hex(x.plaintext), 'a genuine record opens');
      // One change anywhere (header field or fragment bit): never opens.
      let h2 = h;
      let f2 = frag.slice();
      if (x.headerEdit === 'none' || f2.length === 0) {
        for (const o of x.ops) f2[o.at % f2.length]! ^= 1 << o.bit;
        if (hex(f2) === hex(frag)) f2 = f2.subarray(1); // the bit flips cancelled out
      } else if (x.headerEdit === 'seq') h2 = { ...h, sequenceNumber: (seq + 1) % 0x1_0000_0000_0000 };
      else if (x.headerEdit === 'epoch') h2 = { ...h, epoch: (epoch + 1) & 0xffff };
      else if (x.headerEdit === 'type') h2 = { ...h, contentType: h.contentType === 23 ? 22 : 23 };
      else if (x.headerEdit === 'version') h2 = { ...h, version: h.version ^ 1 };
      else h2 = { ...h, length: h.length + 1 };
      assert.equal(p.open(h2, f2), undefined, `edit ${x.headerEdit} authenticated`);
      tally.add(`edit_${x.headerEdit}`);
    });
  });
});
