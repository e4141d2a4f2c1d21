/**
 * DTLS 1.2 message codecs: hand-built fixtures (commented field by field), a real OpenSSL ClientHello,
 * truncation / trailing-byte / duplicate-extension rejection, and a seeded mutation fuzz over every decoder.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { DtlsError, InvalidMessageError, PeerMisbehavedError } from '../../src/errors.js';
import { AlertDescription } from '../../src/msgs/enums.js';
import { Reader } from '../../src/msgs/reader.js';
import { Writer } from '../../src/msgs/writer.js';
import {
  HANDSHAKE_HEADER_LENGTH,
  decodeHandshakeFragments,
  encodeHandshakeFragment,
  encodeHandshakeMessage,
} from '../../src/msgs/handshake.js';
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
  findExtension,
} from '../../src/msgs/extensions.js';
import type { Extension } from '../../src/msgs/extensions.js';
import { decodeClientHello, encodeClientHello } from '../../src/msgs/client-hello.js';
import type { ClientHello } from '../../src/msgs/client-hello.js';
import { decodeHelloVerifyRequest, encodeHelloVerifyRequest } from '../../src/msgs/hello-verify-request.js';
import { decodeServerHello, encodeServerHello } from '../../src/msgs/server-hello.js';
import { decodeCertificate, encodeCertificate } from '../../src/msgs/certificate.js';
import {
  decodeClientKeyExchangeEcdhe,
  decodeServerKeyExchangeEcdhe,
  encodeClientKeyExchangeEcdhe,
  encodeServerEcdhParams,
  encodeServerKeyExchangeEcdhe,
} from '../../src/msgs/key-exchange.js';
import { decodeCertificateRequest, encodeCertificateRequest } from '../../src/msgs/certificate-request.js';
import { decodeCertificateVerify, encodeCertificateVerify } from '../../src/msgs/certificate-verify.js';
import { decodeFinished, encodeFinished } from '../../src/msgs/finished.js';
import { decodeServerHelloDone, encodeServerHelloDone } from '../../src/msgs/server-hello-done.js';
import { decodeAlert, encodeAlert } from '../../src/msgs/alert.js';
import { CHANGE_CIPHER_SPEC_PAYLOAD, decodeChangeCipherSpec, encodeChangeCipherSpec } from '../../src/msgs/change-cipher-spec.js';
import { mulberry32 as prng } from '../helpers/rng.js';

// ---------------------------------------------------------------------------------------------------------
// helpers

/** Joins hex pieces, ignoring spaces. */
function hex(...parts: string[]): Uint8Array {
  const s = parts.join('').replace(/\s+/g, '');
  assert.equal(s.length % 2, 0, 'odd hex fixture');
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** n bytes counting up from `start` (mod 256), as hex. */
function countHex(n: number, start: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ((start + i) & 0xff).toString(16).padStart(2, '0');
  return s;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

const isInvalid = (e: unknown): boolean => e instanceof InvalidMessageError;

/** Every strict prefix of `bytes` (except the listed valid lengths) throws InvalidMessageError. */
function assertTruncationsRejected(decode: (b: Uint8Array) => unknown, bytes: Uint8Array, validPrefixLengths: number[] = []): void {
  for (let n = 0; n < bytes.length; n++) {
    if (validPrefixLengths.includes(n)) continue;
    assert.throws(() => decode(bytes.subarray(0, n)), isInvalid, `prefix of ${n}/${bytes.length} bytes`);
  }
}

function assertTrailingRejected(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): void {
  assert.throws(() => decode(cat(bytes, hex('00'))), isInvalid, 'one trailing byte');
  assert.throws(() => decode(cat(bytes, hex('0000'))), isInvalid, 'two trailing bytes');
}

function assertDuplicateExtension(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PeerMisbehavedError);
    assert.equal(e.code, 'ERR_DTLS_DUPLICATE_EXTENSION');
    assert.equal(e.alert, AlertDescription.illegal_parameter);
    return true;
  });
}


function mutate(rand: () => number, src: Uint8Array): Uint8Array {
  const b = Array.from(src);
  const ops = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < ops; k++) {
    const op = Math.floor(rand() * 5);
    const i = Math.floor(rand() * (b.length + 1));
    if (op === 0 && b.length > 0) b[i % b.length] = Math.floor(rand() * 256);
    else if (op === 1 && b.length > 0) b[i % b.length] = b[i % b.length]! ^ (1 << Math.floor(rand() * 8));
    else if (op === 2) b.splice(i, 0, Math.floor(rand() * 256));
    else if (op === 3 && b.length > 0) b.splice(i % b.length, 1);
    else b.length = Math.min(b.length, i);
  }
  return Uint8Array.from(b);
}

/**
 * Mutation fuzz: a decoder either succeeds, and then re-encodes to the same bytes (modulo an empty
 * extensions block, which re-encodes as absent), or throws a DtlsError; never RangeError/TypeError.
 */
function fuzz<T>(name: string, decode: (b: Uint8Array) => T, encode: (m: T) => Uint8Array, seeds: Uint8Array[], iterations = 3000): void {
  const rand = prng(0xd715 ^ name.length);
  for (let it = 0; it < iterations; it++) {
    const input = mutate(rand, seeds[it % seeds.length]!);
    let m: T;
    try {
      m = decode(input);
    } catch (e) {
      assert.ok(e instanceof DtlsError, `${name}: ${toHex(input)} threw ${String(e)}`);
      continue;
    }
    const again = toHex(encode(m));
    if (again !== toHex(input)) {
      assert.equal(again + '0000', toHex(input), `${name}: re-encoding ${toHex(input)}`);
    }
  }
}

/** decode → expected, encode → same bytes. */
function roundTrip<T>(decode: (b: Uint8Array) => T, encode: (m: T) => Uint8Array, bytes: Uint8Array, expected: T): void {
  const m = decode(bytes);
  assert.deepEqual(normalize(m), normalize(expected));
  assert.equal(toHex(encode(m)), toHex(bytes));
  assert.equal(toHex(encode(expected)), toHex(bytes));
}

/** deepEqual-friendly: Uint8Array views → hex strings. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return `hex:${toHex(v)}`;
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// Handshake header, RFC 6347 §4.2.2

describe('Handshake fragments (RFC 6347 §4.2.2)', () => {
  // ClientHello-typed fragment: 5 body bytes at offset 2 of a 10-byte message with message_seq 3
  const frag = hex(
    '01', //       msg_type client_hello
    '00000a', //   length 10
    '0003', //     message_seq 3
    '000002', //   fragment_offset 2
    '000005', //   fragment_length 5
    '0102030405', // body
  );

  test('§4.2.2 header fixture decodes and re-encodes', () => {
    const [f, ...rest] = decodeHandshakeFragments(frag);
    assert.equal(rest.length, 0);
    assert.deepEqual(normalize(f), normalize({ msgType: 1, length: 10, messageSeq: 3, fragmentOffset: 2, fragmentLength: 5, body: hex('0102030405') }));
    assert.equal(toHex(encodeHandshakeFragment(1, 10, 3, 2, f!.body)), toHex(frag));
    assert.equal(HANDSHAKE_HEADER_LENGTH, 12);
  });

  test('§4.2.2 body is a view into the record payload', () => {
    const [f] = decodeHandshakeFragments(frag);
    assert.equal(f!.body.buffer, frag.buffer);
    assert.equal(f!.body.byteOffset, frag.byteOffset + 12);
  });

  test('§4.2.3 a record may carry several fragments', () => {
    const done = hex('0e 000000 0004 000000 000000'); // ServerHelloDone, seq 4, empty
    const fin = hex('14 00000c 0005 000000 00000c', countHex(12, 0x40)); // Finished, seq 5
    const fs = decodeHandshakeFragments(cat(frag, done, fin));
    assert.deepEqual(fs.map((f) => [f.msgType, f.messageSeq, f.fragmentLength]), [[1, 3, 5], [14, 4, 0], [20, 5, 12]]);
    assert.equal(toHex(fs[2]!.body), countHex(12, 0x40));
  });

  test('§4.2.2 fragment_offset + fragment_length beyond length is rejected', () => {
    assert.throws(() => decodeHandshakeFragments(hex('01 000004 0000 000002 000003 aabbcc')), isInvalid);
    assert.throws(() => decodeHandshakeFragments(hex('01 000000 0000 000000 000001 aa')), isInvalid);
    assert.throws(() => decodeHandshakeFragments(hex('01 000004 0000 ffffff 000001 aa')), isInvalid);
  });

  test('§4.2.2 truncated header or body, and a partial trailing header, are rejected', () => {
    assertTruncationsRejected(decodeHandshakeFragments, frag);
    assert.throws(() => decodeHandshakeFragments(cat(frag, hex('01 000000'))), isInvalid);
    assert.throws(() => decodeHandshakeFragments(new Uint8Array(0)), isInvalid);
  });

  test('§4.2.6 encodeHandshakeMessage is the unfragmented form the transcript hashes', () => {
    const body = hex(countHex(300, 0));
    const m = encodeHandshakeMessage(11, 2, body);
    assert.equal(toHex(m.subarray(0, 12)), '0b00012c0002000000' + '00012c');
    assert.equal(toHex(m.subarray(12)), toHex(body));
    assert.deepEqual(
      decodeHandshakeFragments(m).map((f) => [f.length, f.fragmentOffset, f.fragmentLength]),
      [[300, 0, 300]],
    );
  });

  test('§4.2.2 encoder refuses fragments that do not fit the message', () => {
    assert.throws(() => encodeHandshakeFragment(1, 4, 0, 2, hex('aabbcc')), isInvalid);
    assert.throws(() => encodeHandshakeFragment(1, 0x1000000, 0, 0, hex('')), isInvalid);
    assert.throws(() => encodeHandshakeFragment(1, 4, 0x10000, 0, hex('')), isInvalid);
  });

  test('fuzz: decodeHandshakeFragments never throws anything but InvalidMessageError', () => {
    const rand = prng(42);
    const seeds = [frag, cat(frag, frag)];
    for (let i = 0; i < 3000; i++) {
      const input = mutate(rand, seeds[i % 2]!);
      try {
        const fs = decodeHandshakeFragments(input);
        const re = cat(...fs.map((f) => encodeHandshakeFragment(f.msgType, f.length, f.messageSeq, f.fragmentOffset, f.body)));
        assert.equal(toHex(re), toHex(input));
      } catch (e) {
        assert.ok(e instanceof InvalidMessageError, String(e));
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Extensions

describe('Extensions block (RFC 5246 §7.4.1.4)', () => {
  const block = hex(
    '000d', //         extensions length 13
    '0017 0000', //    extended_master_secret, empty
    'fafa 0005', //    unknown type 0xfafa (GREASE-like), 5 bytes: kept raw
    '0102030405',
  );
  const exts: Extension[] = [
    { type: 0x17, data: hex('') },
    { type: 0xfafa, data: hex('0102030405') },
  ];

  test('§7.4.1.4 block fixture decodes (unknown types kept raw) and re-encodes', () => {
    const r = new Reader(block);
    assert.deepEqual(normalize(decodeExtensions(r)), normalize(exts));
    assert.ok(r.atEnd());
    const w = new Writer();
    encodeExtensions(w, exts);
    assert.equal(toHex(w.finish()), toHex(block));
    assert.equal(toHex(findExtension(exts, 0xfafa)!), '0102030405');
    assert.equal(findExtension(exts, 1), undefined);
  });

  test('§7.4.1.4 absent block decodes to [] and [] encodes to nothing', () => {
    assert.deepEqual(decodeExtensions(new Reader(new Uint8Array(0))), []);
    const w = new Writer();
    encodeExtensions(w, []);
    assert.equal(w.length, 0);
  });

  test('§7.4.1.4 an extension type may appear only once', () => {
    assertDuplicateExtension(() => decodeExtensions(new Reader(hex('0008 0017 0000 0017 0000'))));
  });

  test('§7.4.1.4 truncated block or extension_data is rejected', () => {
    for (let n = 1; n < block.length; n++) {
      assert.throws(() => decodeExtensions(new Reader(block.subarray(0, n))), isInvalid, `prefix ${n}`);
    }
    assert.throws(() => decodeExtensions(new Reader(hex('0005 0017 0002 00'))), isInvalid);
    assert.throws(() => decodeExtensions(new Reader(hex('0003 0017 00'))), isInvalid);
  });
});

describe('Extension bodies', () => {
  test('RFC 6066 §3 server_name fixture round-trips; empty data is the server ack', () => {
    const data = hex(
      '000e', //           server_name_list length 14
      '00', //             name_type host_name
      '000b', //           HostName length 11
      '6578616d706c652e636f6d', // "example.com"
    );
    assert.equal(decodeServerName(data), 'example.com');
    assert.equal(toHex(encodeServerName('example.com')), toHex(data));
    assert.equal(decodeServerName(new Uint8Array(0)), undefined);
    assertTruncationsRejected(decodeServerName, data, [0]);
    assertTrailingRejected(decodeServerName, data);
  });

  test('RFC 6066 §3 server_name: empty list, empty name, other name types, two names, non-ASCII are rejected', () => {
    assert.throws(() => decodeServerName(hex('0000')), isInvalid);
    assert.throws(() => decodeServerName(hex('0003 00 0000')), isInvalid);
    assert.throws(() => decodeServerName(hex('0004 01 0001 61')), isInvalid);
    assert.throws(() => decodeServerName(hex('0008 00 0001 61 00 0001 62')), isInvalid);
    assert.throws(() => decodeServerName(hex('0005 00 0002 61c3')), isInvalid);
    assert.throws(() => decodeServerName(hex('0005 00 0002 6100')), isInvalid);
    assert.throws(() => encodeServerName(''), isInvalid);
    assert.throws(() => encodeServerName('h\u00e9llo'), isInvalid);
  });

  test('RFC 8422 §5.1.1 supported_groups fixture round-trips; empty and odd lists rejected', () => {
    const data = hex('0006', '001d', '0017', '0018'); // list length 6: x25519, secp256r1, secp384r1
    assert.deepEqual(decodeSupportedGroups(data), [29, 23, 24]);
    assert.equal(toHex(encodeSupportedGroups([29, 23, 24])), toHex(data));
    assertTruncationsRejected(decodeSupportedGroups, data);
    assertTrailingRejected(decodeSupportedGroups, data);
    assert.throws(() => decodeSupportedGroups(hex('0000')), isInvalid);
    assert.throws(() => decodeSupportedGroups(hex('0003 001d00')), isInvalid);
    assert.throws(() => encodeSupportedGroups([]), isInvalid);
    assert.throws(() => encodeSupportedGroups([0x10000]), isInvalid);
  });

  test('RFC 8422 §5.1.2 ec_point_formats fixture round-trips; empty list rejected', () => {
    const data = hex('03', '00', '01', '02'); // list length 3: uncompressed, deprecated 1, deprecated 2
    assert.deepEqual(decodeEcPointFormats(data), [0, 1, 2]);
    assert.equal(toHex(encodeEcPointFormats([0, 1, 2])), toHex(data));
    assertTruncationsRejected(decodeEcPointFormats, data);
    assertTrailingRejected(decodeEcPointFormats, data);
    assert.throws(() => decodeEcPointFormats(hex('00')), isInvalid);
    assert.throws(() => encodeEcPointFormats([]), isInvalid);
  });

  test('RFC 5246 §7.4.1.4.1 signature_algorithms fixture round-trips; empty and odd lists rejected', () => {
    const data = hex('0006', '0403', '0804', '0807'); // ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, ed25519
    assert.deepEqual(decodeSignatureAlgorithms(data), [0x0403, 0x0804, 0x0807]);
    assert.equal(toHex(encodeSignatureAlgorithms([0x0403, 0x0804, 0x0807])), toHex(data));
    assertTruncationsRejected(decodeSignatureAlgorithms, data);
    assertTrailingRejected(decodeSignatureAlgorithms, data);
    assert.throws(() => decodeSignatureAlgorithms(hex('0000')), isInvalid);
    assert.throws(() => decodeSignatureAlgorithms(hex('0001 04')), isInvalid);
  });

  test('RFC 7301 §3.1 ALPN fixture round-trips; empty list and empty names rejected', () => {
    const data = hex(
      '000c', //                 protocol_name_list length 12
      '02 6832', //              "h2"
      '08 687474702f312e31', //  "http/1.1"
    );
    assert.deepEqual(decodeAlpn(data), ['h2', 'http/1.1']);
    assert.equal(toHex(encodeAlpn(['h2', 'http/1.1'])), toHex(data));
    assertTruncationsRejected(decodeAlpn, data);
    assertTrailingRejected(decodeAlpn, data);
    assert.throws(() => decodeAlpn(hex('0000')), isInvalid);
    assert.throws(() => decodeAlpn(hex('0003 00 0161')), isInvalid);
    assert.throws(() => encodeAlpn([]), isInvalid);
    assert.throws(() => encodeAlpn(['']), isInvalid);
    assert.throws(() => encodeAlpn(['\u2603']), isInvalid);
  });

  test('RFC 7301 / RFC 8701 ALPN names are byte strings: non-UTF-8 (GREASE) names round-trip', () => {
    const data = hex('0005', '02 baba', '01 61');
    const names = decodeAlpn(data);
    assert.deepEqual(names, ['\u00ba\u00ba', 'a']);
    assert.equal(toHex(encodeAlpn(names)), toHex(data));
  });

  test('RFC 5746 §3.2 renegotiation_info fixture round-trips', () => {
    assert.equal(toHex(decodeRenegotiationInfo(hex('00'))), ''); // initial handshake: empty
    assert.equal(toHex(encodeRenegotiationInfo(new Uint8Array(0))), '00');
    const data = hex('0c', countHex(12, 1)); // renegotiated_connection: 12 bytes of verify_data
    assert.equal(toHex(decodeRenegotiationInfo(data)), countHex(12, 1));
    assert.equal(toHex(encodeRenegotiationInfo(hex(countHex(12, 1)))), toHex(data));
    assertTruncationsRejected(decodeRenegotiationInfo, data);
    assertTrailingRejected(decodeRenegotiationInfo, data);
  });

  test('RFC 5764 §4.1.1 use_srtp fixture round-trips; empty profile list rejected', () => {
    const data = hex(
      '0004', //  SRTPProtectionProfiles length 4
      '0001', //  SRTP_AES128_CM_HMAC_SHA1_80
      '0007', //  SRTP_AEAD_AES_128_GCM
      '02 abcd', // srtp_mki
    );
    assert.deepEqual(normalize(decodeUseSrtp(data)), normalize({ profiles: [1, 7], mki: hex('abcd') }));
    assert.equal(toHex(encodeUseSrtp([1, 7], hex('abcd'))), toHex(data));
    assertTruncationsRejected(decodeUseSrtp, data);
    assertTrailingRejected(decodeUseSrtp, data);
    assert.throws(() => decodeUseSrtp(hex('0000 00')), isInvalid);
    assert.throws(() => decodeUseSrtp(hex('0001 00 00')), isInvalid);
  });

  test('fuzz: extension body decoders throw only DtlsErrors and round-trip what they accept', () => {
    fuzz('server_name', (b) => decodeServerName(b), (s) => (s === undefined ? new Uint8Array(0) : encodeServerName(s)), [hex('000e 00 000b 6578616d706c652e636f6d')]);
    fuzz('supported_groups', decodeSupportedGroups, encodeSupportedGroups, [hex('0006 001d 0017 0018')]);
    fuzz('ec_point_formats', decodeEcPointFormats, encodeEcPointFormats, [hex('03 000102')]);
    fuzz('signature_algorithms', decodeSignatureAlgorithms, encodeSignatureAlgorithms, [hex('0006 0403 0804 0807')]);
    fuzz('alpn', decodeAlpn, encodeAlpn, [hex('000c 02 6832 08 687474702f312e31')]);
    fuzz('renegotiation_info', decodeRenegotiationInfo, encodeRenegotiationInfo, [hex('0c', countHex(12, 1))]);
    fuzz('use_srtp', decodeUseSrtp, (m) => encodeUseSrtp(m.profiles, m.mki), [hex('0004 0001 0007 02 abcd')]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// ClientHello, RFC 6347 §4.2.1 / §4.3.2

/**
 * A real DTLS 1.2 ClientHello datagram from OpenSSL 3.0.19, captured on loopback from
 * `openssl s_client -dtls1_2 -connect 127.0.0.1:47123 -servername example.com -alpn h2,http/1.1
 *  -use_srtp SRTP_AES128_CM_SHA1_80` (the first flight: no cookie yet).
 */
const OPENSSL_CLIENT_HELLO_DATAGRAM = hex(
  // DTLSPlaintext header: handshake(22), version feff, epoch 0, sequence 0, length 239
  '16 feff 0000 000000000000 00ef',
  // Handshake header: client_hello, length 227, message_seq 0, offset 0, fragment_length 227
  '01 0000e3 0000 000000 0000e3',
  // ClientHello body
  'fefd04534b4c45fa90f19a89a9c8f893791440edc65cffb142700bd04e9319c0e92300000038c02cc030009fcca9cca8',
  'ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff0100',
  '008100000010000e00000b6578616d706c652e636f6d000b000403000102000a000c000a001d0017001e001900180023',
  '00000010000e000c02683208687474702f312e31000e000500020001000016000000170000000d002a00280403050306',
  '03080708080809080a080b080408050806040105010601030303010302040205020602',
);

describe('ClientHello (RFC 6347 §4.2.1, §4.3.2)', () => {
  const random = countHex(32, 0xa0);
  const fixture = hex(
    'fefd', //              client_version DTLS 1.2
    random, //              random (32 bytes)
    '00', //                session_id: empty
    '08 0102030405060708', // cookie: 8 bytes
    '0004 c02b c02f', //    cipher_suites: ECDHE_ECDSA_AES128_GCM_SHA256, ECDHE_RSA_AES128_GCM_SHA256
    '01 00', //             compression_methods: null
    '0013', //              extensions length 19
    '000a 0006 0004 001d 0017', // supported_groups: x25519, secp256r1
    '0010 0005 0003 02 6832', //  ALPN: "h2"
  );
  const expected: ClientHello = {
    clientVersion: 0xfefd,
    random: hex(random),
    sessionId: hex(''),
    cookie: hex('0102030405060708'),
    cipherSuites: [0xc02b, 0xc02f],
    compressionMethods: [0],
    extensions: [
      { type: 10, data: hex('0004 001d 0017') },
      { type: 16, data: hex('0003 02 6832') },
    ],
  };
  const noExtLength = fixture.length - 21;

  test('§4.2.1 hand-built fixture with a cookie decodes and re-encodes', () => {
    roundTrip(decodeClientHello, encodeClientHello, fixture, expected);
    const exts = decodeClientHello(fixture).extensions;
    assert.deepEqual(decodeSupportedGroups(findExtension(exts, 10)!), [29, 23]);
    assert.deepEqual(decodeAlpn(findExtension(exts, 16)!), ['h2']);
  });

  test('§4.3.2 a ClientHello without extensions round-trips', () => {
    const bare = fixture.subarray(0, noExtLength);
    roundTrip(decodeClientHello, encodeClientHello, bare, { ...expected, extensions: [] });
  });

  test('real OpenSSL 3.0 DTLS 1.2 ClientHello decodes and re-encodes byte for byte', () => {
    const payload = OPENSSL_CLIENT_HELLO_DATAGRAM.subarray(13);
    const [f, ...more] = decodeHandshakeFragments(payload);
    assert.equal(more.length, 0);
    assert.equal(f!.msgType, 1);
    assert.equal(f!.messageSeq, 0);
    assert.equal(f!.fragmentLength, f!.length);
    const ch = decodeClientHello(f!.body);
    assert.equal(ch.clientVersion, 0xfefd);
    assert.equal(ch.sessionId.length, 0);
    assert.equal(ch.cookie.length, 0);
    assert.equal(ch.cipherSuites.length, 28);
    assert.equal(ch.cipherSuites[0], 0xc02c);
    assert.equal(ch.cipherSuites.at(-1), 0x00ff); // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    assert.deepEqual(ch.compressionMethods, [0]);
    assert.deepEqual(ch.extensions.map((e) => e.type), [0, 11, 10, 35, 16, 14, 22, 23, 13]);
    const x = (t: number): Uint8Array => findExtension(ch.extensions, t)!;
    assert.equal(findExtension(ch.extensions, 0xff01), undefined); // OpenSSL signals RFC 5746 with the SCSV
    assert.equal(decodeServerName(x(0)), 'example.com');
    assert.deepEqual(decodeEcPointFormats(x(11)), [0, 1, 2]);
    assert.deepEqual(decodeSupportedGroups(x(10)), [29, 23, 30, 25, 24]);
    assert.deepEqual(decodeAlpn(x(16)), ['h2', 'http/1.1']);
    assert.deepEqual(normalize(decodeUseSrtp(x(14))), normalize({ profiles: [1], mki: hex('') }));
    assert.equal(decodeSignatureAlgorithms(x(13)).length, 20);
    // byte for byte
    assert.equal(toHex(encodeClientHello(ch)), toHex(f!.body));
    assert.equal(toHex(encodeHandshakeMessage(1, 0, encodeClientHello(ch))), toHex(payload));
  });

  test('§4.2.1 truncated ClientHello and trailing bytes are rejected', () => {
    assertTruncationsRejected(decodeClientHello, fixture, [noExtLength]);
    assertTrailingRejected(decodeClientHello, fixture);
    const real = OPENSSL_CLIENT_HELLO_DATAGRAM.subarray(25);
    assertTruncationsRejected(decodeClientHello, real, [real.length - 131]);
    assertTrailingRejected(decodeClientHello, real);
  });

  test('§4.2.1 empty or odd cipher_suites, empty compression_methods, long session_id are rejected', () => {
    const head = hex('fefd', random);
    assert.throws(() => decodeClientHello(cat(head, hex('00 00 0000 01 00'))), isInvalid);
    assert.throws(() => decodeClientHello(cat(head, hex('00 00 0003 c02b00 01 00'))), isInvalid);
    assert.throws(() => decodeClientHello(cat(head, hex('00 00 0002 c02b 00'))), isInvalid);
    assert.throws(() => decodeClientHello(cat(head, hex('21', countHex(33, 0), '00 0002 c02b 01 00'))), isInvalid);
    assert.throws(() => encodeClientHello({ ...expected, cipherSuites: [] }), isInvalid);
    assert.throws(() => encodeClientHello({ ...expected, compressionMethods: [] }), isInvalid);
    assert.throws(() => encodeClientHello({ ...expected, random: hex('00') }), isInvalid);
  });

  test('§4.2.1 the cookie may be up to 255 bytes (RFC 6347, not 32 as in RFC 4347)', () => {
    const ch = { ...expected, cookie: hex(countHex(255, 0)) };
    const bytes = encodeClientHello(ch);
    assert.equal(decodeClientHello(bytes).cookie.length, 255);
    assert.throws(() => encodeClientHello({ ...expected, cookie: new Uint8Array(256) }), isInvalid);
  });

  test('RFC 5246 §7.4.1.4 duplicate extensions in a ClientHello are rejected', () => {
    const dup = cat(fixture.subarray(0, noExtLength), hex('0008 0017 0000 0017 0000'));
    assertDuplicateExtension(() => decodeClientHello(dup));
  });

  test('fuzz: decodeClientHello throws only DtlsErrors and round-trips what it accepts', () => {
    fuzz('ClientHello', decodeClientHello, encodeClientHello, [fixture, OPENSSL_CLIENT_HELLO_DATAGRAM.subarray(25)], 5000);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('HelloVerifyRequest (RFC 6347 §4.2.1)', () => {
  const fixture = hex(
    'feff', //        server_version DTLS 1.0 (as RFC 6347 recommends)
    '04 deadbeef', // cookie: 4 bytes
  );

  test('§4.2.1 fixture decodes and re-encodes', () => {
    roundTrip(decodeHelloVerifyRequest, encodeHelloVerifyRequest, fixture, { serverVersion: 0xfeff, cookie: hex('deadbeef') });
    roundTrip(decodeHelloVerifyRequest, encodeHelloVerifyRequest, hex('fefd 00'), { serverVersion: 0xfefd, cookie: hex('') });
  });

  test('§4.2.1 truncated and trailing bytes rejected', () => {
    assertTruncationsRejected(decodeHelloVerifyRequest, fixture);
    assertTrailingRejected(decodeHelloVerifyRequest, fixture);
  });

  test('fuzz: decodeHelloVerifyRequest', () => {
    fuzz('HelloVerifyRequest', decodeHelloVerifyRequest, encodeHelloVerifyRequest, [fixture]);
  });
});

describe('ServerHello (RFC 5246 §7.4.1.3)', () => {
  const random = countHex(32, 0x00);
  const fixture = hex(
    'fefd', //            server_version DTLS 1.2
    random, //            random
    '04 11223344', //     session_id: 4 bytes
    'c02b', //            cipher_suite TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    '00', //              compression_method null
    '000f', //            extensions length 15
    'ff01 0001 00', //    renegotiation_info, empty renegotiated_connection
    '0017 0000', //       extended_master_secret
    '000b 0002 01 00', // ec_point_formats: uncompressed
  );
  const expected = {
    serverVersion: 0xfefd,
    random: hex(random),
    sessionId: hex('11223344'),
    cipherSuite: 0xc02b,
    compressionMethod: 0,
    extensions: [
      { type: 0xff01, data: hex('00') },
      { type: 0x17, data: hex('') },
      { type: 0x0b, data: hex('01 00') },
    ],
  };
  const noExtLength = fixture.length - 17;

  test('§7.4.1.3 fixture decodes and re-encodes, with and without extensions', () => {
    roundTrip(decodeServerHello, encodeServerHello, fixture, expected);
    roundTrip(decodeServerHello, encodeServerHello, fixture.subarray(0, noExtLength), { ...expected, extensions: [] });
  });

  test('§7.4.1.3 truncated and trailing bytes rejected; session_id over 32 rejected', () => {
    assertTruncationsRejected(decodeServerHello, fixture, [noExtLength]);
    assertTrailingRejected(decodeServerHello, fixture);
    assert.throws(() => decodeServerHello(hex('fefd', random, '21', countHex(33, 0), 'c02b 00')), isInvalid);
  });

  test('RFC 5246 §7.4.1.4 duplicate extensions in a ServerHello are rejected', () => {
    assertDuplicateExtension(() => decodeServerHello(cat(fixture.subarray(0, noExtLength), hex('000a ff01 0001 00 ff01 0001 00'))));
  });

  test('fuzz: decodeServerHello', () => {
    fuzz('ServerHello', decodeServerHello, encodeServerHello, [fixture]);
  });
});

describe('Certificate (RFC 5246 §7.4.2)', () => {
  const fixture = hex(
    '00000b', //        certificate_list length 11
    '000003 308201', // ASN.1Cert, 3 bytes (placeholder DER)
    '000002 3000', //   ASN.1Cert, 2 bytes
  );

  test('§7.4.2 fixture decodes and re-encodes; empty list allowed', () => {
    roundTrip(decodeCertificate, encodeCertificate, fixture, { certificates: [hex('308201'), hex('3000')] });
    roundTrip(decodeCertificate, encodeCertificate, hex('000000'), { certificates: [] });
  });

  test('§7.4.2 truncated, trailing bytes and empty certificates rejected', () => {
    assertTruncationsRejected(decodeCertificate, fixture);
    assertTrailingRejected(decodeCertificate, fixture);
    assert.throws(() => decodeCertificate(hex('000003 000000')), isInvalid);
    assert.throws(() => encodeCertificate({ certificates: [new Uint8Array(0)] }), isInvalid);
  });

  test('fuzz: decodeCertificate', () => {
    fuzz('Certificate', decodeCertificate, encodeCertificate, [fixture]);
  });
});

describe('ServerKeyExchange / ClientKeyExchange, ECDHE (RFC 8422 §5.4, §5.7)', () => {
  const point = countHex(32, 0x50);
  const params = hex(
    '03', //        curve_type named_curve
    '001d', //      namedcurve x25519
    '20', point, // public: 32-byte X25519 key
  );
  const fixture = cat(
    params,
    hex(
      '0403', //            signed_params.algorithm ecdsa_secp256r1_sha256
      '0006 300402010102', // signature: 6 bytes (placeholder)
    ),
  );
  const expected = {
    params: { namedGroup: 29, publicKey: hex(point) },
    signatureScheme: 0x0403,
    signature: hex('300402010102'),
  };

  test('§5.4 ServerKeyExchange fixture decodes and re-encodes; params encode to the signed bytes', () => {
    roundTrip(decodeServerKeyExchangeEcdhe, encodeServerKeyExchangeEcdhe, fixture, expected);
    assert.equal(toHex(encodeServerEcdhParams(expected.params)), toHex(params));
  });

  test('§5.4 curve_type other than named_curve is illegal_parameter', () => {
    for (const t of ['01', '02', 'ff']) {
      assert.throws(() => decodeServerKeyExchangeEcdhe(cat(hex(t), fixture.subarray(1))), (e: unknown) => {
        assert.ok(e instanceof PeerMisbehavedError);
        assert.equal(e.alert, AlertDescription.illegal_parameter);
        return true;
      });
    }
  });

  test('§5.4 truncated, trailing bytes and empty point rejected', () => {
    assertTruncationsRejected(decodeServerKeyExchangeEcdhe, fixture);
    assertTrailingRejected(decodeServerKeyExchangeEcdhe, fixture);
    assert.throws(() => decodeServerKeyExchangeEcdhe(hex('03 0017 00 0403 0000')), isInvalid);
  });

  test('§5.7 ClientKeyExchange fixture decodes and re-encodes; empty point rejected', () => {
    const cke = hex('41 04', countHex(64, 0x10)); // ecdh_Yc: 65-byte uncompressed P-256 point
    roundTrip(decodeClientKeyExchangeEcdhe, encodeClientKeyExchangeEcdhe, cke, { publicKey: hex('04', countHex(64, 0x10)) });
    assertTruncationsRejected(decodeClientKeyExchangeEcdhe, cke);
    assertTrailingRejected(decodeClientKeyExchangeEcdhe, cke);
    assert.throws(() => decodeClientKeyExchangeEcdhe(hex('00')), isInvalid);
    assert.throws(() => encodeClientKeyExchangeEcdhe({ publicKey: new Uint8Array(0) }), isInvalid);
  });

  test('fuzz: key exchange decoders', () => {
    fuzz('ServerKeyExchange', decodeServerKeyExchangeEcdhe, encodeServerKeyExchangeEcdhe, [fixture]);
    fuzz('ClientKeyExchange', decodeClientKeyExchangeEcdhe, encodeClientKeyExchangeEcdhe, [hex('20', point)]);
  });
});

describe('CertificateRequest (RFC 5246 §7.4.4)', () => {
  const fixture = hex(
    '02 01 40', //        certificate_types: rsa_sign, ecdsa_sign
    '0004 0403 0804', //  supported_signature_algorithms
    '0008', //            certificate_authorities length 8
    '0006 300431023000', // DistinguishedName, 6 bytes (placeholder DER)
  );
  const expected = { certificateTypes: [1, 64], signatureSchemes: [0x0403, 0x0804], certificateAuthorities: [hex('300431023000')] };

  test('§7.4.4 fixture decodes and re-encodes; empty CA list allowed', () => {
    roundTrip(decodeCertificateRequest, encodeCertificateRequest, fixture, expected);
    roundTrip(decodeCertificateRequest, encodeCertificateRequest, hex('01 40 0002 0403 0000'), {
      certificateTypes: [64],
      signatureSchemes: [0x0403],
      certificateAuthorities: [],
    });
  });

  test('§7.4.4 truncated, trailing, empty types / algorithms / names rejected', () => {
    assertTruncationsRejected(decodeCertificateRequest, fixture);
    assertTrailingRejected(decodeCertificateRequest, fixture);
    assert.throws(() => decodeCertificateRequest(hex('00 0002 0403 0000')), isInvalid);
    assert.throws(() => decodeCertificateRequest(hex('01 40 0000 0000')), isInvalid);
    assert.throws(() => decodeCertificateRequest(hex('01 40 0003 040300 0000')), isInvalid);
    assert.throws(() => decodeCertificateRequest(hex('01 40 0002 0403 0002 0000')), isInvalid);
  });

  test('fuzz: decodeCertificateRequest', () => {
    fuzz('CertificateRequest', decodeCertificateRequest, encodeCertificateRequest, [fixture]);
  });
});

describe('CertificateVerify (RFC 5246 §7.4.8)', () => {
  const fixture = hex(
    '0807', //           algorithm ed25519
    '0040', countHex(64, 0x80), // signature: 64 bytes
  );

  test('§7.4.8 fixture decodes and re-encodes', () => {
    roundTrip(decodeCertificateVerify, encodeCertificateVerify, fixture, { signatureScheme: 0x0807, signature: hex(countHex(64, 0x80)) });
  });

  test('§7.4.8 truncated and trailing bytes rejected', () => {
    assertTruncationsRejected(decodeCertificateVerify, fixture);
    assertTrailingRejected(decodeCertificateVerify, fixture);
  });

  test('fuzz: decodeCertificateVerify', () => {
    fuzz('CertificateVerify', decodeCertificateVerify, encodeCertificateVerify, [fixture]);
  });
});

describe('Finished and ServerHelloDone (RFC 5246 §7.4.9, §7.4.5)', () => {
  test('§7.4.9 Finished: 12 bytes of verify_data round-trip; other lengths rejected', () => {
    const fixture = hex(countHex(12, 0xe0)); // verify_data[12]
    assert.equal(toHex(decodeFinished(fixture)), toHex(fixture));
    assert.equal(toHex(encodeFinished(decodeFinished(fixture))), toHex(fixture));
    assertTruncationsRejected((b) => decodeFinished(b), fixture);
    assertTrailingRejected((b) => decodeFinished(b), fixture);
    assert.equal(decodeFinished(hex(countHex(32, 0)), 32).length, 32);
    assert.throws(() => decodeFinished(fixture, 32), isInvalid);
  });

  test('§7.4.5 ServerHelloDone must be empty', () => {
    decodeServerHelloDone(new Uint8Array(0));
    assert.equal(encodeServerHelloDone().length, 0);
    assert.throws(() => decodeServerHelloDone(hex('00')), isInvalid);
  });
});

describe('Alert and ChangeCipherSpec (RFC 5246 §7.2, §7.1)', () => {
  test('§7.2 Alert fixture round-trips; unknown values kept; not 2 bytes rejected', () => {
    roundTrip(decodeAlert, encodeAlert, hex('02 28'), { level: 2, description: 40 }); // fatal, handshake_failure
    roundTrip(decodeAlert, encodeAlert, hex('01 00'), { level: 1, description: 0 }); // warning, close_notify
    roundTrip(decodeAlert, encodeAlert, hex('07 fe'), { level: 7, description: 254 });
    assertTruncationsRejected(decodeAlert, hex('02 28'));
    assertTrailingRejected(decodeAlert, hex('02 28'));
    assert.throws(() => encodeAlert({ level: 256, description: 0 }), isInvalid);
  });

  test('§7.1 ChangeCipherSpec is exactly one byte 0x01', () => {
    decodeChangeCipherSpec(CHANGE_CIPHER_SPEC_PAYLOAD);
    assert.equal(toHex(CHANGE_CIPHER_SPEC_PAYLOAD), '01');
    assert.equal(toHex(encodeChangeCipherSpec()), '01');
    assert.throws(() => decodeChangeCipherSpec(new Uint8Array(0)), isInvalid);
    assert.throws(() => decodeChangeCipherSpec(hex('02')), isInvalid);
    assert.throws(() => decodeChangeCipherSpec(hex('0101')), isInvalid);
  });
});
