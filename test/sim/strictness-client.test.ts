/**
 * Protocol strictness, client role (REFERENCES §4 classes 2, 3 and 8): a real server whose flights are rewritten on
 * the wire (test/helpers/sim.ts filters, test/helpers/craft.ts), and records injected under the real session keys
 * once the server has them. Every case asserts the exact outcome — fatal alert and error code, or a silent discard
 * with its counter — and that the client never reports `connected` when it must not.
 *
 * Renegotiation, extra Finished and other post-handshake messages for both roles are here too, since they need an
 * established pair. Application data in epoch 0 is in test/sim/records.test.ts and not repeated.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, flightOf, rewriteHandshake, type Packet, type SimOptions, type Verdict } from '../helpers/sim.js';
import { testCerts, type CertSet } from '../helpers/certs.js';
import {
  alertsIn,
  concat,
  fragment,
  highestSeq,
  plainFlight,
  plainMessages,
  plainRecord,
  renumber,
  rewriteFlight,
  sealed,
  sessionKeys,
  type Msg,
} from '../helpers/craft.js';
import { AlertReceivedError } from '../../src/errors.js';
import { AlertDescription, ContentType, ExtensionType, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme } from '../../src/msgs/enums.js';
import { decodeServerHello, encodeServerHello, type ServerHello } from '../../src/msgs/server-hello.js';
import { decodeClientHello, encodeClientHello } from '../../src/msgs/client-hello.js';
import { decodeServerKeyExchangeEcdhe, encodeServerEcdhParams, encodeServerKeyExchangeEcdhe, type ServerKeyExchangeEcdhe } from '../../src/msgs/key-exchange.js';
import { encodeAlpn, encodeRenegotiationInfo, encodeUseSrtp } from '../../src/msgs/extensions.js';
import { decodeHandshakeFragments, encodeHandshakeFragment } from '../../src/msgs/handshake.js';
import { encodeCertificateRequest } from '../../src/msgs/certificate-request.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { loadSigningKey } from '../../src/crypto/signing-key.js';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import type { Connection } from '../../src/core/connection.js';

let certs: CertSet;

async function makeSim(extra: Partial<SimOptions> = {}): Promise<Sim> {
  certs ??= await testCerts('ec');
  return new Sim({
    ...extra,
    client: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, ...extra.client },
    // A large MTU puts the whole of flight 4 in one datagram, so it can be rewritten as a list of messages.
    server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, mtu: 4000, ...extra.server },
  });
}

/** A filter rewriting the first transmission of flight `n` from the server with `edit`. */
function onceFlight(n: number, edit: (d: Uint8Array) => Uint8Array): (p: Packet) => Verdict {
  let done = false;
  return (p) => {
    if (done || p.from !== 'server' || flightOf(p) !== n) return 'deliver';
    done = true;
    return { replace: edit(p.data) };
  };
}

/** The client failed with `code`/`alert`; the server (if it has a connection) got that alert; nobody connected. */
function assertClientFailed(sim: Sim, code: string, alert: AlertDescription, what = ''): void {
  sim.run(() => sim.client.isClosed && (sim.server === undefined || sim.server.isClosed), 5_000);
  const c = sim.client;
  assert.equal(c.isClosed, true, `${what}: client closed (${c.handshakeState})\n${sim.trace()}`);
  assert.equal(c.error?.code, code, `${what}: ${c.error?.message}`);
  assert.equal(c.error?.alert, alert, what);
  assert.equal(sim.clientEvents.some((e) => e.type === 'connected'), false, `${what}: client never connected`);
  assert.equal(c.handshakeResult, undefined);
  assert.equal(c.pollTimeout(), undefined);
  const last = sim.packets('client').at(-1)!;
  assert.ok(last.labels.some((l) => l === 'Alert' || l === 'EncryptedAlert'), `${what}: the last datagram is the alert\n${sim.trace()}`);
  if (sim.server !== undefined) {
    const err = sim.server.error;
    assert.ok(err instanceof AlertReceivedError, `${what}: server got ${err?.code} ${err?.message}`);
    assert.equal(err.receivedAlert, alert);
  }
}

/** Both connected with the same keys: equal exporters and data each way. */
function assertSound(sim: Sim): void {
  assert.ok(sim.bothConnected, `${sim.client.error?.message} / ${sim.server?.error?.message}\n${sim.trace()}`);
  assert.equal(sim.clientEvents.filter((e) => e.type === 'connected').length, 1);
  assert.deepEqual(sim.client.exportKeyingMaterial('EXPERIMENTAL-strict', 32), sim.server!.exportKeyingMaterial('EXPERIMENTAL-strict', 32));
  const n = { c: sim.received('client').length, s: sim.received('server').length };
  sim.client.send(Buffer.from('ping'));
  sim.server!.send(Buffer.from('pong'));
  sim.settle();
  assert.deepEqual(sim.received('server').slice(n.s), ['ping']);
  assert.deepEqual(sim.received('client').slice(n.c), ['pong']);
}

const ALL_TYPES = [0, 1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 20, 24, 99, 255];
const BODY = Uint8Array.of(1, 2, 3);

/** Client states reached by flight 4 truncated after `keep` messages (at: 'hvr' replaces the HelloVerifyRequest). */
const CLIENT_STATES: { name: string; at: 'hvr' | 'f4'; keep: number; requestCert: boolean; expected: number[] }[] = [
  { name: 'ExpectServerHello (before the HelloVerifyRequest)', at: 'hvr', keep: 0, requestCert: false, expected: [2, 3] },
  { name: 'ExpectServerHello (after the HelloVerifyRequest)', at: 'f4', keep: 0, requestCert: false, expected: [2, 3] },
  { name: 'ExpectCertificate', at: 'f4', keep: 1, requestCert: false, expected: [11] },
  { name: 'ExpectServerKeyExchange', at: 'f4', keep: 2, requestCert: false, expected: [12] },
  { name: 'ExpectCertificateRequestOrDone', at: 'f4', keep: 3, requestCert: false, expected: [13, 14] },
  { name: 'ExpectServerHelloDone', at: 'f4', keep: 4, requestCert: true, expected: [14] },
];

describe('RFC 5246 §7.3 / RFC 6347 §4.2: an unexpected handshake message in every client state is a fatal unexpected_message', () => {
  for (const st of CLIENT_STATES) {
    test(`client ${st.name}: every other handshake type → unexpected_message, never connected`, async () => {
      for (const type of ALL_TYPES) {
        // HelloRequest during a handshake is ignored (RFC 5246 §7.4.1.1): tested on its own below.
        if (st.expected.includes(type) || type === HandshakeType.hello_request) continue;
        const edit =
          st.at === 'hvr'
            ? (d: Uint8Array) => plainFlight(0, [{ type, seq: 0, body: BODY }])
            : (d: Uint8Array) => rewriteFlight(d, (m) => [...m.slice(0, st.keep), { type, seq: m[st.keep]!.seq, body: BODY }]);
        const sim = await makeSim({ server: { requestCert: st.requestCert }, filter: onceFlight(st.at === 'hvr' ? 2 : 4, edit) });
        sim.handshake();
        assertClientFailed(sim, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, `type ${type} in ${st.name}`);
      }
    });
  }

  for (const which of ['ExpectChangeCipherSpec', 'ExpectFinished'] as const) {
    test(`client ${which}: every other handshake type${which === 'ExpectFinished' ? ' (encrypted under the server keys)' : ' (plaintext; Finished here is "Finished before ChangeCipherSpec")'} → unexpected_message`, async () => {
      for (const type of ALL_TYPES) {
        if ((which === 'ExpectFinished' && type === HandshakeType.finished) || type === HandshakeType.hello_request) continue;
        const { sim, next, keys } = await clientAwaitingFlight6();
        assert.equal(sim.client.handshakeState, 'ExpectChangeCipherSpec');
        const msg = encodeHandshakeFragment(type, BODY.length, next, 0, BODY);
        const hi = highestSeq(sim.packets('server').map((p) => p.data), 0);
        sim.inject(
          'client',
          which === 'ExpectChangeCipherSpec'
            ? plainRecord(ContentType.handshake, hi + 1, msg)
            : concat([plainRecord(ContentType.change_cipher_spec, hi + 1, Uint8Array.of(1)), sealed(keys.server, ContentType.handshake, 1, 20, msg)]),
        );
        assertClientFailed(sim, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, `type ${type} in ${which}`);
      }
    });
  }
});

/** A pair where the server completed but its flight 6 was lost: the client waits in ExpectChangeCipherSpec. */
async function clientAwaitingFlight6(extra: Partial<SimOptions> = {}): Promise<{ sim: Sim; next: number; keys: ReturnType<typeof sessionKeys>; flight6: Packet[] }> {
  const flight6: Packet[] = [];
  const sim = await makeSim({
    ...extra,
    filter: (p) => {
      if (flightOf(p) === 6) {
        flight6.push(p);
        return 'drop';
      }
      return 'deliver';
    },
  });
  sim.start();
  sim.run(() => sim.server?.isConnected === true);
  assert.ok(sim.server?.isConnected);
  const f4 = sim.packets('server').find((p) => flightOf(p) === 4)!;
  const next = plainMessages(f4.data).at(-1)!.seq + 1;
  return { sim, next, keys: sessionKeys(sim.server!.handshakeResult!), flight6 };
}

describe('RFC 5246 §7.4.1.1 HelloRequest during the handshake is ignored by the client', () => {
  for (const st of CLIENT_STATES.filter((s) => s.at === 'f4')) {
    test(`client ${st.name}: a HelloRequest is ignored (no alert, no state change)`, async () => {
      const sim = await makeSim({
        server: { requestCert: st.requestCert, handshakeTimeout: 3000 },
        client: { handshakeTimeout: 3000 },
        filter: onceFlight(4, (d) => rewriteFlight(d, (m) => [...m.slice(0, st.keep), { type: 0, seq: m[st.keep]!.seq, body: new Uint8Array(0) }])),
      });
      sim.start();
      sim.run(() => false, 900);
      assert.equal(sim.client.isClosed, false, sim.client.error?.message);
      assert.equal(sim.client.handshakeState, st.name.split(' ')[0]);
      assert.equal(sim.packets('client').filter((p) => p.labels.includes('Alert')).length, 0);
    });
  }

  test('client ExpectChangeCipherSpec: a plaintext HelloRequest is ignored and the genuine flight 6 completes the handshake', async () => {
    const { sim, next, flight6 } = await clientAwaitingFlight6();
    sim.inject('client', plainRecord(ContentType.handshake, 700, encodeHandshakeFragment(0, 0, next, 0, new Uint8Array(0))));
    sim.run(() => false, 5);
    assert.equal(sim.client.handshakeState, 'ExpectChangeCipherSpec');
    assert.equal(sim.client.isClosed, false);
    // The server's Finished now sits at a message_seq the HelloRequest took, as a server that sent one would
    // have numbered it: renumber it under the server keys.
    const keys = sessionKeys(sim.server!.handshakeResult!);
    const recs = splitDatagram(flight6[0]!.data).records;
    const finRec = recs.find((r) => r.header.contentType === ContentType.handshake)!;
    const fin = decodeHandshakeFragments(keys.server.open(finRec.header, finRec.fragment)!)[0]!;
    const moved = encodeHandshakeFragment(fin.msgType, fin.length, next + 1, 0, fin.body);
    sim.inject('client', concat([plainRecord(ContentType.change_cipher_spec, 701, Uint8Array.of(1)), sealed(keys.server, ContentType.handshake, 1, 40, moved)]));
    sim.run(() => sim.client.isConnected, 100);
    assertSound(sim);
  });

  test('a HelloRequest with a body during the handshake is decode_error', async () => {
    const sim = await makeSim({ filter: onceFlight(4, (d) => rewriteFlight(d, (m) => [m[0]!, { type: 0, seq: m[1]!.seq, body: Uint8Array.of(0) }])) });
    sim.handshake();
    assertClientFailed(sim, 'ERR_DTLS_INVALID_MESSAGE', AlertDescription.decode_error);
  });
});

describe('CVE-2014-0224 / CVE-2017-7243 (early ChangeCipherSpec): never switches the client\'s keys, never crashes', () => {
  for (let at = 0; at <= 5; at++) {
    test(`client: ChangeCipherSpec inserted before message ${at} of flight 4 waits; the genuine handshake completes with sound keys`, async () => {
      const sim = await makeSim({
        server: { requestCert: true },
        filter: onceFlight(4, (d) => {
          const recs = splitDatagram(d).records.map((r) => r.raw);
          return concat([...recs.slice(0, at), plainRecord(ContentType.change_cipher_spec, 900 + at, Uint8Array.of(1)), ...recs.slice(at)]);
        }),
      });
      sim.handshake();
      assertSound(sim);
      assert.equal(sim.client.stats.discarded.bad_mac, 0);
    });
  }

  test('client: ChangeCipherSpec before any HelloVerifyRequest, and a flood of them, changes nothing', async () => {
    const sim = await makeSim();
    sim.start();
    for (let i = 0; i < 50; i++) sim.inject('client', plainRecord(ContentType.change_cipher_spec, 500 + i, Uint8Array.of(1)));
    sim.run(() => false, 1);
    assert.equal(sim.client.handshakeState, 'ExpectServerHello');
    assert.ok(sim.client.stats.discarded.deferred_overflow >= 50 - 32);
    sim.run(() => sim.bothConnected);
    assertSound(sim);
  });
});

describe('Finished before ChangeCipherSpec (client)', () => {
  test('flight 6 with the encrypted Finished ahead of the ChangeCipherSpec in the datagram: the Finished waits, then completes', async () => {
    const sim = await makeSim({
      filter: (p) => {
        if (p.from !== 'server' || flightOf(p) !== 6) return 'deliver';
        const recs = splitDatagram(p.data).records.map((r) => r.raw);
        return { replace: concat([...recs].reverse()) };
      },
    });
    sim.handshake();
    assertSound(sim);
  });

  test('the server\'s encrypted Finished with no ChangeCipherSpec at all is never read; the client does not complete', async () => {
    const { sim, flight6 } = await clientAwaitingFlight6({ client: { handshakeTimeout: 4000 }, server: { handshakeTimeout: 4000 } });
    const fin = splitDatagram(flight6[0]!.data).records.find((r) => r.header.contentType === ContentType.handshake)!;
    sim.inject('client', fin.raw);
    sim.run(() => sim.client.isClosed, 10_000);
    assert.equal(sim.clientEvents.some((e) => e.type === 'connected'), false);
    assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  });
});

describe('CVE-2023-6937 (wolfSSL): a handshake message spanning a key change is never assembled (client)', () => {
  test('the server Finished cut in two, first half plaintext before the ChangeCipherSpec, second half encrypted after it: not combined', async () => {
    const { sim, next, keys, flight6 } = await clientAwaitingFlight6();
    // The genuine server Finished, opened with the server keys.
    const rec = splitDatagram(flight6[0]!.data).records.find((r) => r.header.contentType === ContentType.handshake)!;
    const fin = decodeHandshakeFragments(keys.server.open(rec.header, rec.fragment)!)[0]!;
    assert.equal(fin.messageSeq, next);
    sim.inject('client', plainRecord(ContentType.handshake, 800, fragment(HandshakeType.finished, 12, next, 0, fin.body.subarray(0, 6))));
    sim.inject('client', plainRecord(ContentType.change_cipher_spec, 801, Uint8Array.of(1)), 1);
    sim.inject('client', sealed(keys.server, ContentType.handshake, 1, 30, fragment(HandshakeType.finished, 12, next, 6, fin.body.subarray(6))), 2);
    sim.run(() => false, 10);
    assert.equal(sim.client.handshakeState, 'ExpectFinished');
    assert.equal(sim.client.isConnected, false, 'halves from two epochs were not combined');
    // The genuine flight 6 (ChangeCipherSpec from the old epoch ignored, whole Finished) then completes it.
    sim.inject('client', flight6[0]!.data);
    sim.run(() => sim.client.isConnected, 100);
    assertSound(sim);
  });
});

// ---------------------------------------------------------------------------------------------------- ServerHello

function editServerHello(edit: (sh: ServerHello) => ServerHello): (p: Packet) => Verdict {
  return onceFlight(4, (d) => rewriteHandshake(d, HandshakeType.server_hello, (b) => encodeServerHello(edit(decodeServerHello(b)))));
}

const withExt = (sh: ServerHello, type: number, data: Uint8Array): ServerHello => ({
  ...sh,
  extensions: [...sh.extensions.filter((e) => e.type !== type), { type, data }],
});

describe('RFC 5246 §7.4.1.3 a ServerHello choosing what the client did not offer is fatal', () => {
  const cases: { name: string; client?: SimOptions['client']; edit: (sh: ServerHello) => ServerHello; code: string; alert: AlertDescription }[] = [
    {
      name: 'a cipher suite not offered (client offers only AES-128-GCM, server says ChaCha20)',
      client: { ciphers: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'] },
      edit: (sh) => ({ ...sh, cipherSuite: 0xcca9 }),
      code: 'ERR_DTLS_ILLEGAL_PARAMETER',
      alert: AlertDescription.illegal_parameter,
    },
    { name: 'an unknown cipher suite (0x1301, a TLS 1.3 suite)', edit: (sh) => ({ ...sh, cipherSuite: 0x1301 }), code: 'ERR_DTLS_ILLEGAL_PARAMETER', alert: AlertDescription.illegal_parameter },
    { name: 'TLS_NULL_WITH_NULL_NULL', edit: (sh) => ({ ...sh, cipherSuite: 0 }), code: 'ERR_DTLS_ILLEGAL_PARAMETER', alert: AlertDescription.illegal_parameter },
    { name: 'compression method 1 (deflate)', edit: (sh) => ({ ...sh, compressionMethod: 1 }), code: 'ERR_DTLS_ILLEGAL_PARAMETER', alert: AlertDescription.illegal_parameter },
    { name: 'version DTLS 1.0', edit: (sh) => ({ ...sh, serverVersion: ProtocolVersion.DTLS1_0 }), code: 'ERR_DTLS_INCOMPATIBLE', alert: AlertDescription.protocol_version },
    { name: 'version DTLS 1.3 (0xfefc) in a 1.2 ServerHello', edit: (sh) => ({ ...sh, serverVersion: ProtocolVersion.DTLS1_3 }), code: 'ERR_DTLS_INCOMPATIBLE', alert: AlertDescription.protocol_version },
    {
      name: 'an extension the client did not send (use_srtp)',
      edit: (sh) => withExt(sh, ExtensionType.use_srtp, encodeUseSrtp([1], new Uint8Array(0))),
      code: 'ERR_DTLS_UNSUPPORTED_EXTENSION',
      alert: AlertDescription.unsupported_extension,
    },
    {
      name: 'an unknown extension (0x5a5a)',
      edit: (sh) => withExt(sh, 0x5a5a, new Uint8Array(0)),
      code: 'ERR_DTLS_UNSUPPORTED_EXTENSION',
      alert: AlertDescription.unsupported_extension,
    },
    {
      name: 'ALPN when the client offered none',
      edit: (sh) => withExt(sh, ExtensionType.application_layer_protocol_negotiation, encodeAlpn(['h2'])),
      code: 'ERR_DTLS_UNSUPPORTED_EXTENSION',
      alert: AlertDescription.unsupported_extension,
    },
    {
      name: 'an ALPN protocol the client did not offer',
      client: { ALPNProtocols: ['coap', 'webrtc'] },
      edit: (sh) => withExt(sh, ExtensionType.application_layer_protocol_negotiation, encodeAlpn(['h2'])),
      code: 'ERR_DTLS_ILLEGAL_PARAMETER',
      alert: AlertDescription.illegal_parameter,
    },
    {
      name: 'two ALPN protocols (RFC 7301 §3.1: exactly one)',
      client: { ALPNProtocols: ['coap', 'webrtc'] },
      edit: (sh) => withExt(sh, ExtensionType.application_layer_protocol_negotiation, encodeAlpn(['coap', 'webrtc'])),
      code: 'ERR_DTLS_ILLEGAL_PARAMETER',
      alert: AlertDescription.illegal_parameter,
    },
    {
      name: 'a non-empty renegotiation_info on an initial handshake (RFC 5746 §3.4)',
      edit: (sh) => withExt(sh, ExtensionType.renegotiation_info, encodeRenegotiationInfo(new Uint8Array(24).fill(7))),
      code: 'ERR_DTLS_RENEGOTIATION',
      alert: AlertDescription.handshake_failure,
    },
    {
      name: 'a non-empty extended_master_secret (RFC 7627 §5.1)',
      edit: (sh) => withExt(sh, ExtensionType.extended_master_secret, Uint8Array.of(0)),
      code: 'ERR_DTLS_ILLEGAL_PARAMETER',
      alert: AlertDescription.decode_error,
    },
    {
      name: 'a duplicate extension (RFC 5246 §7.4.1.4)',
      edit: (sh) => ({ ...sh, extensions: [...sh.extensions, sh.extensions[0]!] }),
      code: 'ERR_DTLS_DUPLICATE_EXTENSION',
      alert: AlertDescription.illegal_parameter,
    },
  ];
  for (const c of cases) {
    test(`ServerHello with ${c.name}: ${c.code}, ${AlertDescription[c.alert]}`, async () => {
      const sim = await makeSim({ ...(c.client ? { client: c.client } : {}), filter: editServerHello(c.edit) });
      sim.handshake();
      assertClientFailed(sim, c.code, c.alert, c.name);
    });
  }

  test('a genuine ServerHello with ALPN the client offered is accepted (control for the cases above)', async () => {
    const sim = await makeSim({ client: { ALPNProtocols: ['coap'] }, server: { ALPNProtocols: ['coap'] } });
    sim.handshake();
    assertSound(sim);
    assert.equal(sim.client.handshakeResult!.alpnProtocol, 'coap');
  });
});

describe('RFC 8422 §5.4 a ServerKeyExchange with what the client did not offer is fatal (even correctly signed)', () => {
  /** Rewrites the ServerKeyExchange with `edit` and signs it again with the server's real key. */
  function editSke(sim: () => Sim, edit: (ske: ServerKeyExchangeEcdhe) => ServerKeyExchangeEcdhe, resign = true): (p: Packet) => Verdict {
    return onceFlight(4, (d) => {
      const msgs = plainMessages(d);
      const serverRandom = decodeServerHello(msgs[0]!.body).random;
      const ch = sim().packets('client').filter((p) => flightOf(p) === 3).at(-1)!;
      const clientRandom = decodeClientHello(plainMessages(ch.data)[0]!.body).random;
      const key = loadSigningKey(certs.serverKey);
      return rewriteHandshake(d, HandshakeType.server_key_exchange, (b) => {
        const ske = edit(decodeServerKeyExchangeEcdhe(b));
        const signature = resign
          ? key.sign(ske.signatureScheme as SignatureScheme, concat([clientRandom, serverRandom, encodeServerEcdhParams(ske.params)]))
          : ske.signature;
        return encodeServerKeyExchangeEcdhe({ ...ske, signature });
      });
    });
  }

  test('a group the client did not offer (client x25519 + P-256, server signs P-384): illegal_parameter', async () => {
    let sim!: Sim;
    const p384 = new NodeCryptoProvider().generateKeyShare(NamedGroup.secp384r1).publicKey;
    sim = await makeSim({ client: { groups: ['x25519', 'P-256'] } });
    sim.filter = editSke(() => sim, (ske) => ({ ...ske, params: { namedGroup: NamedGroup.secp384r1, publicKey: p384 } }));
    sim.handshake();
    assertClientFailed(sim, 'ERR_DTLS_ILLEGAL_PARAMETER', AlertDescription.illegal_parameter);
    assert.match(sim.client.error!.message, /group 24/);
  });

  test('a signature scheme the client did not offer (ecdsa_secp521r1_sha512 label on a P-256 signature): illegal_parameter', async () => {
    let sim!: Sim;
    sim = await makeSim();
    sim.filter = editSke(() => sim, (ske) => ({ ...ske, signatureScheme: SignatureScheme.ecdsa_secp521r1_sha512 }), false);
    sim.handshake();
    assertClientFailed(sim, 'ERR_DTLS_ILLEGAL_PARAMETER', AlertDescription.illegal_parameter);
  });

  test('a tampered ServerECDHParams (signature no longer matches): decrypt_error', async () => {
    let sim!: Sim;
    sim = await makeSim();
    sim.filter = editSke(() => sim, (ske) => ({ ...ske, params: { ...ske.params, publicKey: ske.params.publicKey.map((x, i) => (i === 1 ? x ^ 1 : x)) } }), false);
    sim.handshake();
    assertClientFailed(sim, 'ERR_DTLS_BAD_SIGNATURE', AlertDescription.decrypt_error);
  });

  test('an invalid public key, correctly signed (x25519 all-zero point, RFC 7748 §6.1): illegal_parameter, no flight 5', async () => {
    let sim!: Sim;
    sim = await makeSim({ client: { groups: ['x25519', 'P-256'] } });
    sim.filter = editSke(() => sim, (ske) => ({ ...ske, params: { namedGroup: NamedGroup.x25519, publicKey: new Uint8Array(32) } }));
    sim.handshake();
    assertClientFailed(sim, 'ERR_DTLS_BAD_KEY_SHARE', AlertDescription.illegal_parameter);
    assert.equal(sim.packets('client').filter((p) => flightOf(p) === 5).length, 0);
  });

  test('an explicit curve (curve_type 1) instead of a named group: illegal_parameter', async () => {
    const sim = await makeSim({
      filter: onceFlight(4, (d) => rewriteHandshake(d, HandshakeType.server_key_exchange, (b) => Uint8Array.of(1, ...b.subarray(1)))),
    });
    sim.handshake();
    assertClientFailed(sim, 'ERR_DTLS_UNSUPPORTED_CURVE_TYPE', AlertDescription.illegal_parameter);
  });
});

describe('Flight 4 with messages missing, repeated or out of order (USENIX 2020 bad_serverhello, wolfSSL #9198)', () => {
  const drop = (types: number[]) => (m: Msg[]) => renumber(m.filter((x) => !types.includes(x.type)), m[0]!.seq);
  const cr = (): Msg => ({
    type: HandshakeType.certificate_request,
    seq: 0,
    body: encodeCertificateRequest({ certificateTypes: [64], signatureSchemes: [SignatureScheme.ecdsa_secp256r1_sha256], certificateAuthorities: [] }),
  });
  const cases: { name: string; requestCert?: boolean; edit: (m: Msg[]) => Msg[] }[] = [
    { name: 'a server that skips ServerKeyExchange', edit: drop([HandshakeType.server_key_exchange]) },
    { name: 'a server that skips Certificate', edit: drop([HandshakeType.certificate]) },
    { name: 'a server that skips Certificate and ServerKeyExchange', edit: drop([HandshakeType.certificate, HandshakeType.server_key_exchange]) },
    { name: 'a ServerHelloDone right after ServerHello', edit: (m) => renumber([m[0]!, m.at(-1)!], m[0]!.seq) },
    { name: 'a CertificateRequest sent twice', requestCert: true, edit: (m) => renumber([...m.slice(0, 4), m[3]!, ...m.slice(4)], m[0]!.seq) },
    { name: 'a CertificateRequest before Certificate', edit: (m) => renumber([m[0]!, cr(), ...m.slice(1)], m[0]!.seq) },
    { name: 'a CertificateRequest before ServerKeyExchange', edit: (m) => renumber([m[0]!, m[1]!, cr(), ...m.slice(2)], m[0]!.seq) },
    { name: 'a CertificateRequest after ServerHelloDone', edit: (m) => renumber([...m, cr()], m[0]!.seq) },
    { name: 'a ServerKeyExchange twice', edit: (m) => renumber([...m.slice(0, 3), m[2]!, ...m.slice(3)], m[0]!.seq) },
    { name: 'a second ServerHello', edit: (m) => renumber([m[0]!, m[0]!, ...m.slice(1)], m[0]!.seq) },
    { name: 'a HelloVerifyRequest after ServerHello', edit: (m) => renumber([m[0]!, { type: 3, seq: 0, body: Uint8Array.of(0xfe, 0xff, 0) }, ...m.slice(1)], m[0]!.seq) },
  ];
  for (const c of cases) {
    test(`${c.name}: unexpected_message, the client sends no flight 5`, async () => {
      const sim = await makeSim({ server: { requestCert: c.requestCert ?? false }, filter: onceFlight(4, (d) => rewriteFlight(d, c.edit)) });
      sim.handshake();
      assertClientFailed(sim, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, c.name);
      // A CertificateRequest after ServerHelloDone arrives with flight 5 already built; every other case fails first.
      if (c.name !== 'a CertificateRequest after ServerHelloDone') assert.equal(sim.packets('client').filter((p) => flightOf(p) === 5).length, 0);
    });
  }
});

describe('RFC 5246 §7.4.1.4 duplicate extensions in a ClientHello', () => {
  test('a ClientHello with a duplicate extension is discarded by the endpoint without state or answer', async () => {
    const dup = (b: Uint8Array): Uint8Array => {
      const ch = decodeClientHello(b);
      return encodeClientHello({ ...ch, extensions: [...ch.extensions, ch.extensions.at(-1)!] });
    };
    const sim = await makeSim({
      client: { handshakeTimeout: 3000 },
      filter: (p) => (p.from === 'client' && p.labels[0] === 'ClientHello' ? { replace: rewriteHandshake(p.data, HandshakeType.client_hello, dup) } : 'deliver'),
    });
    sim.handshake();
    sim.run(() => sim.client.isClosed, 5000);
    assert.equal(sim.endpoint.size, 0);
    assert.equal(sim.endpoint.stats.connectionsAccepted, 0);
    assert.equal(sim.endpoint.stats.helloVerifyRequestsSent, 0);
    assert.ok(sim.endpoint.stats.dropped.malformed >= 2, JSON.stringify(sim.endpoint.stats.dropped));
    assert.equal(sim.packets('server').length, 0);
    assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  });
});

// ---------------------------------------------------------------------------------------------------- after the handshake

async function established(extra: Partial<SimOptions> = {}): Promise<Sim> {
  const sim = await makeSim({ server: { requestCert: true }, ...extra });
  sim.handshake();
  // Traffic both ways so the final flight is released and epoch 0 is gone on both sides.
  sim.client.send(Buffer.from('hello'));
  sim.server!.send(Buffer.from('hi'));
  sim.settle();
  assert.ok(sim.bothConnected);
  return sim;
}

/** Seals a handshake message from `from` under the session keys, with a record number ahead of the real ones. */
function fromPeer(sim: Sim, from: 'client' | 'server', type: number, seq: number, body: Uint8Array, recordAhead = 10): Uint8Array {
  const keys = sessionKeys(sim.client.handshakeResult!);
  const hi = highestSeq(sim.packets(from).map((p) => p.data), 1);
  return sealed(from === 'client' ? keys.client : keys.server, ContentType.handshake, 1, hi + recordAhead, encodeHandshakeFragment(type, body.length, seq, 0, body));
}

function peerOf(sim: Sim, side: 'client' | 'server'): Connection {
  return side === 'client' ? sim.client : sim.server!;
}

/** Next message_seq the receiver expects: one after the last the sender sent. */
function nextMsgSeq(sim: Sim, sender: 'client' | 'server'): number {
  // Client: CH 0, CH 1, Certificate 2, CKE 3, CV 4, Finished 5. Server (requestCert): SH 1 ... SHD 5, Finished 6.
  return sender === 'client' ? 6 : 7;
}

describe('RFC 5746 / RFC 6347 §4.2.8 renegotiation is refused with a no_renegotiation warning and the connection keeps working', () => {
  for (const [sender, type, name] of [
    ['server', HandshakeType.hello_request, 'HelloRequest from the server'],
    ['client', HandshakeType.client_hello, 'ClientHello from the client'],
  ] as const) {
    for (const seqKind of ['message_seq 0 (a new handshake, RFC 6347 §4.2.2)', 'the next message_seq'] as const) {
      test(`${name} with ${seqKind}: warning no_renegotiation, counted, data still flows`, async () => {
        const sim = await established();
        const receiver = sender === 'client' ? 'server' : 'client';
        const target = peerOf(sim, receiver);
        const seq = seqKind.startsWith('message_seq 0') ? 0 : nextMsgSeq(sim, sender);
        const body = type === HandshakeType.client_hello ? encodeClientHello(decodeClientHello(plainMessages(sim.packets('client').filter((p) => flightOf(p) === 3)[0]!.data)[0]!.body)) : new Uint8Array(0);
        const before = sim.packets(receiver).length;
        const resent = target.stats.retransmissions;
        sim.inject(receiver, fromPeer(sim, sender, type, seq, body));
        sim.settle();
        const keys = sessionKeys(sim.client.handshakeResult!);
        const alerts = alertsIn(sim.packets(receiver).slice(before).map((p) => p.data), receiver === 'client' ? keys.client : keys.server);
        assert.deepEqual(alerts, [{ level: 1, description: AlertDescription.no_renegotiation }]);
        assert.equal(target.stats.discarded.renegotiation, 1);
        assert.equal(target.stats.retransmissions, resent, 'not taken for a retransmission');
        assertSound(sim);
        assert.equal(sim.serverEvents.filter((e) => e.type === 'connected').length, 1);
      });
    }
  }

  test('a plaintext (epoch 0) HelloRequest after the handshake is unauthenticated: discarded, no alert', async () => {
    const sim = await established();
    const before = sim.packets('client').length;
    const discarded = { ...sim.client.stats.discarded };
    sim.inject('client', plainRecord(ContentType.handshake, 100, encodeHandshakeFragment(0, 0, 0, 0, new Uint8Array(0))));
    sim.settle();
    assert.equal(sim.packets('client').length, before);
    // The client stops reading epoch 0 once its handshake is complete.
    assert.deepEqual(sim.client.stats.discarded, { ...discarded, unknown_epoch: discarded.unknown_epoch + 1 });
    assertSound(sim);
  });
});

describe('wolfSSL #9197 / #9198: handshake messages after the handshake are not acted on', () => {
  for (const [sender, type, name] of [
    ['server', HandshakeType.finished, 'an extra Finished from the server'],
    ['client', HandshakeType.finished, 'an extra Finished from the client'],
    ['server', HandshakeType.certificate_request, 'a CertificateRequest from the server'],
    ['server', HandshakeType.server_hello_done, 'a ServerHelloDone from the server'],
    ['client', HandshakeType.certificate, 'a Certificate from the client'],
  ] as const) {
    test(`${name} under the session keys with a new message_seq: discarded and counted, no second connected event, data still flows`, async () => {
      const sim = await established();
      const receiver = sender === 'client' ? 'server' : 'client';
      const target = peerOf(sim, receiver);
      const body = type === HandshakeType.finished ? new Uint8Array(12).fill(9) : Uint8Array.of(0, 0, 0);
      const before = sim.packets(receiver).length;
      sim.inject(receiver, fromPeer(sim, sender, type, nextMsgSeq(sim, sender), body));
      sim.settle();
      assert.equal(target.stats.discarded.renegotiation, 1);
      assert.equal(sim.packets(receiver).length, before, 'nothing sent in answer');
      assert.equal((receiver === 'client' ? sim.clientEvents : sim.serverEvents).filter((e) => e.type === 'connected').length, 1);
      assertSound(sim);
    });
  }

  test('the client\'s Finished again with its own message_seq (a retransmission) makes the server resend its final flight, nothing more', async () => {
    const sim = await makeSim({ server: { requestCert: true } });
    sim.handshake();
    const s = sim.server!;
    sim.now += 300; // past the resend rate limit
    // The client's Finished record, sealed again under a new record number, as a real retransmission would be.
    const keys = sessionKeys(s.handshakeResult!);
    const rec = sim.packets('client').flatMap((p) => splitDatagram(p.data).records).find((r) => r.header.epoch === 1 && r.header.contentType === ContentType.handshake)!;
    const plain = keys.client.open(rec.header, rec.fragment)!;
    assert.equal(decodeHandshakeFragments(plain)[0]!.msgType, HandshakeType.finished);
    sim.inject('server', sealed(keys.client, ContentType.handshake, 1, rec.header.sequenceNumber + 5, plain));
    sim.settle();
    assert.equal(s.stats.retransmissions, 1);
    assert.equal(sim.serverEvents.filter((e) => e.type === 'connected').length, 1);
    assertSound(sim);
  });
});

describe('RFC 6347 §4.2.8 restart detection and spoofed hellos', () => {
  /** The real client's hello with one bit of its random changed: any off-path host can send this. */
  function spoofedHello(sim: Sim): Uint8Array {
    const ch2 = sim.packets('client').filter((p) => flightOf(p) === 3).at(-1)!;
    const hello = decodeClientHello(plainMessages(ch2.data)[0]!.body);
    const spoofed = { ...hello, random: hello.random.map((x, i) => (i === 0 ? x ^ 1 : x)), cookie: new Uint8Array(0) };
    return plainFlight(0, [{ type: HandshakeType.client_hello, seq: 1, body: encodeClientHello(spoofed) }]);
  }

  test('a spoofed ClientHello (another random) from the client\'s address while flight 4 is lost: the client follows the HelloVerifyRequest it provokes, the server restarts, the handshake completes', async () => {
    const sim = await makeSim({ filter: onceFlight(4, () => new Uint8Array(0)) });
    sim.start();
    sim.run(() => sim.server !== undefined);
    const first = sim.server!;
    sim.inject('server', spoofedHello(sim));
    sim.run(() => sim.bothConnected || sim.client.isClosed, 60_000);
    assertSound(sim);
    assert.notEqual(sim.server, first);
    assert.equal(first.error?.code, 'ERR_DTLS_PEER_RESTARTED');
  });

  test('the same with only the first datagram of flight 4 lost: the rest of the old flight 4, buffered by the client, is not read as the answer to its new hello', async () => {
    let dropped = false;
    const sim = await makeSim({
      server: { mtu: 400 },
      filter: (p) => {
        if (!dropped && p.from === 'server' && flightOf(p) === 4) {
          dropped = true;
          return 'drop';
        }
        return 'deliver';
      },
    });
    sim.start();
    sim.run(() => sim.server !== undefined);
    assert.ok(sim.packets('server').filter((p) => flightOf(p) === 4).length >= 2, 'flight 4 spans several datagrams');
    sim.inject('server', spoofedHello(sim));
    sim.run(() => sim.bothConnected || sim.client.isClosed, 60_000);
    assertSound(sim);
  });

  test(
    'the same, when the old server connection resends flight 4 just after the provoked HelloVerifyRequest',
    {
      todo:
        'the resent flight 4 of the connection being replaced reaches the client after it followed the HelloVerifyRequest; its Certificate has ' +
        'the message_seq (2) the client now expects a ServerHello at, and is fatal (unexpected_message). Nothing in DTLS 1.2 tells the two ' +
        'handshakes apart; avoiding it means not provoking the HelloVerifyRequest (the Endpoint rule for another random from an address with ' +
        'a handshake under way) — found by test/fuzz/connection.test.ts "server fresh"',
    },
    async () => {
      const sim = await makeSim({ server: { mtu: 400 }, filter: onceFlight(4, () => new Uint8Array(0)) });
      sim.start();
      sim.run(() => sim.server !== undefined);
      sim.now += 300; // past the server's resend rate limit
      sim.inject('server', spoofedHello(sim));
      // A copy of the client's first hello (the same random): the old connection takes it for a retransmission.
      sim.inject('server', sim.packets('client').find((p) => flightOf(p) === 1)!.data);
      sim.run(() => sim.bothConnected || sim.client.isClosed, 60_000);
      assertSound(sim);
    },
  );
});
