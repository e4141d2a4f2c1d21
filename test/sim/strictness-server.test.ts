/**
 * Protocol strictness, server role (REFERENCES §4 classes 2, 3 and 8): a scripted client (test/helpers/craft.ts)
 * runs the handshake against a real server Endpoint and sends, in every server state, messages that do not
 * belong there — plaintext or encrypted under the real session keys. Each case asserts the exact outcome: the
 * fatal alert and error code, or a silent discard with its counter, and that the server never reports
 * `connected` when it must not.
 *
 * Cases that exist elsewhere and are not repeated here: application data in epoch 0 (test/sim/records.test.ts),
 * an empty client Certificate when one is required (test/sim/authentication.test.ts "client certificate required
 * but the client has none"), a client restarting with a new ClientHello (test/sim/endpoint.test.ts §4.2.8).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { testCerts, type CertSet } from '../helpers/certs.js';
import { ScriptedClient, STEP, alertsIn, concat, fragment, type Step } from '../helpers/craft.js';
import { AlertDescription, ContentType, HandshakeType } from '../../src/msgs/enums.js';
import { decodeHandshakeFragments, encodeHandshakeFragment } from '../../src/msgs/handshake.js';
import { encodeClientHello, decodeClientHello } from '../../src/msgs/client-hello.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { verifyData } from '../../src/crypto/prf12.js';

/** Every handshake type a DTLS 1.2 peer could send, plus values that name nothing. */
const ALL_TYPES = [
  HandshakeType.hello_request,
  HandshakeType.client_hello,
  HandshakeType.server_hello,
  HandshakeType.hello_verify_request,
  HandshakeType.new_session_ticket,
  HandshakeType.certificate,
  HandshakeType.server_key_exchange,
  HandshakeType.certificate_request,
  HandshakeType.server_hello_done,
  HandshakeType.certificate_verify,
  HandshakeType.client_key_exchange,
  HandshakeType.finished,
  HandshakeType.key_update,
  99,
  255,
];

let certs: CertSet;
async function client(requestCert: boolean, extra: Record<string, unknown> = {}): Promise<ScriptedClient> {
  certs ??= await testCerts('ec');
  const sc = new ScriptedClient({ certs, server: { requestCert, ...extra } });
  sc.hello();
  return sc;
}

/** The server failed with `code`, sent exactly one fatal alert `alert`, never connected and has no timer left. */
function assertServerFailed(sc: ScriptedClient, code: string, alert: AlertDescription, what: string): void {
  const s = sc.server!;
  assert.equal(s.isClosed, true, `${what}: server closed (state ${s.handshakeState})`);
  assert.equal(s.error?.code, code, `${what}: ${s.error?.message}`);
  assert.equal(s.error?.alert, alert, what);
  const fatal = sc.alerts().filter((a) => a.level === 2);
  assert.deepEqual(fatal, [{ level: 2, description: alert }], `${what}: fatal alerts sent`);
  assert.equal(sc.serverConnected, false, `${what}: never connected`);
  assert.equal(s.handshakeResult, undefined, what);
  assert.equal(s.pollTimeout(), undefined, `${what}: no timers after failure`);
}

/** States of the server, with the steps of a genuine flight 5 that lead there. */
const SERVER_STATES: { name: string; requestCert: boolean; before: Step[]; expected: number | undefined; encrypted: boolean }[] = [
  { name: 'ExpectClientKeyExchange', requestCert: false, before: [], expected: HandshakeType.client_key_exchange, encrypted: false },
  { name: 'ExpectChangeCipherSpec', requestCert: false, before: [STEP.cke], expected: undefined, encrypted: false },
  { name: 'ExpectFinished', requestCert: false, before: [STEP.cke, STEP.ccs], expected: HandshakeType.finished, encrypted: true },
  { name: 'ExpectCertificate', requestCert: true, before: [], expected: HandshakeType.certificate, encrypted: false },
  { name: 'ExpectClientKeyExchange', requestCert: true, before: [STEP.cert], expected: HandshakeType.client_key_exchange, encrypted: false },
  { name: 'ExpectCertificateVerify', requestCert: true, before: [STEP.cert, STEP.cke], expected: HandshakeType.certificate_verify, encrypted: false },
  { name: 'ExpectChangeCipherSpec', requestCert: true, before: [STEP.cert, STEP.cke, STEP.cv], expected: undefined, encrypted: false },
  { name: 'ExpectFinished', requestCert: true, before: [STEP.cert, STEP.cke, STEP.cv, STEP.ccs], expected: HandshakeType.finished, encrypted: true },
];

describe('RFC 5246 §7.3 / RFC 6347 §4.2: an unexpected handshake message in every server state is a fatal unexpected_message', () => {
  for (const st of SERVER_STATES) {
    const auth = st.requestCert ? 'with client auth' : 'without client auth';
    test(`server ${st.name} (${auth}): every other handshake type${st.encrypted ? ', encrypted under the session keys,' : ''} → unexpected_message, never connected`, async () => {
      let cases = 0;
      for (const type of ALL_TYPES) {
        if (type === st.expected) continue;
        const sc = await client(st.requestCert);
        sc.send(st.before);
        assert.equal(sc.server!.handshakeState, st.name);
        // The message is in the epoch the state reads: 0 before the client's ChangeCipherSpec, 1 after it.
        sc.send([STEP.msg(type, new Uint8Array([1, 2, 3]))]);
        assertServerFailed(sc, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, `type ${type} in ${st.name}`);
        cases++;
      }
      assert.ok(cases >= ALL_TYPES.length - 1);
    });
  }
});

describe('CVE-2014-0224 (early ChangeCipherSpec): a ChangeCipherSpec before the keys exist never switches the server\'s keys', () => {
  for (const st of SERVER_STATES.filter((s) => s.name !== 'ExpectChangeCipherSpec' && s.name !== 'ExpectFinished')) {
    const auth = st.requestCert ? 'with client auth' : 'without client auth';
    test(`server ${st.name} (${auth}): early ChangeCipherSpec waits, the epoch stays 0, the genuine handshake completes with the right keys`, async () => {
      const sc = await client(st.requestCert);
      sc.send(st.before);
      // Three early ChangeCipherSpecs, in separate datagrams.
      for (let i = 0; i < 3; i++) sc.deliver(sc.record(ContentType.change_cipher_spec, 0, Uint8Array.of(1)));
      const s = sc.server!;
      assert.equal(s.handshakeState, st.name, 'no state change');
      assert.equal(s.isClosed, false);
      assert.equal(s.stats.discarded.bad_mac, 0);
      // A record protected under the keys the client will derive is not readable yet: it waits (no bad_mac).
      const rest = st.requestCert
        ? [STEP.cert, STEP.cke, STEP.cv, STEP.ccs, STEP.fin].slice(st.before.length)
        : [STEP.cke, STEP.ccs, STEP.fin].slice(st.before.length);
      const answer = sc.send(rest);
      assert.ok(sc.serverConnected, `server connected: ${s.error?.message}`);
      assert.equal(s.stats.discarded.bad_mac, 0);
      // The server's Finished opens under the keys derived from the full exchange, and verifies.
      const fin = openFinished(sc, answer);
      const expected = verifyData(sc.crypto, sc.suite.hash, sc.master!, 'server finished', sc.transcript.hash(sc.crypto, sc.suite.hash));
      assert.deepEqual(fin, expected);
      assert.deepEqual(s.handshakeResult!.masterSecret, sc.master);
      // Application data both ways under those keys.
      sc.deliver(sc.record(ContentType.application_data, 1, Buffer.from('after early CCS')));
      assert.deepEqual(sc.serverEvents.filter((e) => e.type === 'data').map((e) => e.type === 'data' && Buffer.from(e.data).toString()), ['after early CCS']);
    });
  }

  test('server ExpectChangeCipherSpec: a ChangeCipherSpec with a bad payload (0x02, two bytes) is discarded as malformed, the real one then works', async () => {
    const sc = await client(false);
    sc.send([STEP.cke]);
    sc.deliver(sc.record(ContentType.change_cipher_spec, 0, Uint8Array.of(2)));
    sc.deliver(sc.record(ContentType.change_cipher_spec, 0, Uint8Array.of(1, 1)));
    const s = sc.server!;
    assert.equal(s.stats.discarded.malformed, 2);
    assert.equal(s.handshakeState, 'ExpectChangeCipherSpec');
    sc.send([STEP.ccs, STEP.fin]);
    assert.ok(sc.serverConnected);
  });
});

/** Opens the server's epoch-1 Finished in `datagrams` with the server's keys. */
function openFinished(sc: ScriptedClient, datagrams: Uint8Array[]): Uint8Array {
  for (const d of datagrams) {
    for (const r of splitDatagram(d).records) {
      if (r.header.epoch !== 1 || r.header.contentType !== ContentType.handshake) continue;
      const p = sc.keys!.server.open(r.header, r.fragment);
      assert.ok(p, 'server Finished authenticates under the derived keys');
      const f = decodeHandshakeFragments(p)[0]!;
      assert.equal(f.msgType, HandshakeType.finished);
      return f.body.slice();
    }
  }
  assert.fail('no encrypted Finished from the server');
}

describe('Finished before ChangeCipherSpec', () => {
  for (const requestCert of [false, true]) {
    const auth = requestCert ? 'with client auth' : 'without client auth';
    test(`server (${auth}): a plaintext Finished in place of the ChangeCipherSpec is unexpected_message (Contiki-NG #998 class)`, async () => {
      const sc = await client(requestCert);
      sc.send(requestCert ? [STEP.cert, STEP.cke, STEP.cv, STEP.fin] : [STEP.cke, STEP.fin]);
      assertServerFailed(sc, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, 'plaintext Finished');
    });
  }

  test('server: an encrypted Finished that arrives before the ChangeCipherSpec (reordered) waits for it, then completes', async () => {
    const sc = await client(false);
    sc.send([STEP.cke, { kind: 'finished', epoch: 1 }, STEP.ccs]);
    assert.ok(sc.serverConnected, sc.server!.error?.message);
  });

  test('server: an encrypted Finished with no ChangeCipherSpec at all is never read; the server does not complete', async () => {
    const sc = await client(false, { handshakeTimeout: 2000 });
    sc.send([STEP.cke, { kind: 'finished', epoch: 1 }]);
    assert.equal(sc.server!.handshakeState, 'ExpectChangeCipherSpec');
    sc.advance(2000);
    assert.equal(sc.serverConnected, false);
    assert.equal(sc.server!.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  });

  test('server: a plaintext (epoch 0) Finished after the ChangeCipherSpec is not read as the Finished; the server does not complete', async () => {
    const sc = await client(false, { handshakeTimeout: 2000 });
    sc.send([STEP.cke, STEP.ccs, { kind: 'finished', epoch: 0 }]);
    const s = sc.server!;
    assert.equal(s.handshakeState, 'ExpectFinished');
    assert.equal(sc.serverConnected, false);
    assert.equal(s.stats.discarded.handshake_fragment, 1, JSON.stringify(s.stats.discarded));
    sc.advance(2000);
    assert.equal(s.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  });

  test('server: a Finished with a wrong verify_data is decrypt_error (RFC 5246 §7.4.9)', async () => {
    const sc = await client(false);
    sc.send([STEP.cke, STEP.ccs, { kind: 'finished', tamper: true }]);
    assertServerFailed(sc, 'ERR_DTLS_BAD_FINISHED', AlertDescription.decrypt_error, 'tampered Finished');
    // The alert goes out under the epoch it was in: still 0, the server never switched its writing.
    assert.equal(alertsIn(sc.received).length, 1);
  });
});

describe('CVE-2023-6937 (wolfSSL): a handshake message spanning a key change is never assembled', () => {
  test('server: Finished split into a plaintext half before the ChangeCipherSpec and an encrypted half after it does not complete; a whole Finished then does', async () => {
    const sc = await client(false);
    sc.send([STEP.cke]);
    const master = sc.master!;
    const fin = verifyData(sc.crypto, sc.suite.hash, master, 'client finished', sc.transcript.hash(sc.crypto, sc.suite.hash));
    const seq = sc.msgSeq;
    // The genuine verify_data, cut in two: bytes 0..5 in epoch 0, bytes 6..11 in epoch 1.
    sc.deliver(sc.record(ContentType.handshake, 0, fragment(HandshakeType.finished, 12, seq, 0, fin.subarray(0, 6))));
    sc.send([STEP.ccs]);
    sc.deliver(sc.record(ContentType.handshake, 1, fragment(HandshakeType.finished, 12, seq, 6, fin.subarray(6))));
    const s = sc.server!;
    assert.equal(s.handshakeState, 'ExpectFinished');
    assert.equal(sc.serverConnected, false, 'halves from two epochs were not combined');
    assert.equal(s.isClosed, false);
    // The first half, retransmitted under the new keys, completes the message.
    sc.deliver(sc.record(ContentType.handshake, 1, fragment(HandshakeType.finished, 12, seq, 0, fin.subarray(0, 6))));
    assert.ok(sc.serverConnected, s.error?.message);
  });

  test('server: ClientKeyExchange split across the key change (second half encrypted) is never completed', async () => {
    const sc = await client(false, { handshakeTimeout: 2000 });
    // Only the scripted client's own ClientKeyExchange body is needed; build it without sending.
    const records = sc.build([STEP.cke]);
    const cke = decodeHandshakeFragments(splitDatagram(records[0]!).records[0]!.fragment)[0]!;
    const half = cke.body.length >> 1;
    sc.deliver(sc.record(ContentType.handshake, 0, fragment(cke.msgType, cke.length, cke.messageSeq, 0, cke.body.subarray(0, half))));
    // A ChangeCipherSpec now is early (no keys on the server yet) and the encrypted rest cannot be read.
    sc.deliver(sc.record(ContentType.change_cipher_spec, 0, Uint8Array.of(1)));
    sc.deliver(sc.record(ContentType.handshake, 1, fragment(cke.msgType, cke.length, cke.messageSeq, half, cke.body.subarray(half))));
    const s = sc.server!;
    assert.equal(s.handshakeState, 'ExpectClientKeyExchange');
    sc.advance(2000);
    assert.equal(sc.serverConnected, false);
    assert.equal(s.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  });
});

describe('State-machine authentication bypasses (REFERENCES §4.3)', () => {
  test('pion CVE-2022-29222: client Certificate, ClientKeyExchange, ChangeCipherSpec, Finished without CertificateVerify: the server never completes', async () => {
    const sc = await client(true, { handshakeTimeout: 3000 });
    // Finished computed over the transcript without CertificateVerify, exactly as such a client would.
    sc.send([STEP.cert, STEP.cke, STEP.ccs, STEP.fin]);
    const s = sc.server!;
    assert.equal(s.handshakeState, 'ExpectCertificateVerify');
    assert.equal(sc.serverConnected, false);
    // The client keeps retransmitting; still nothing.
    for (let i = 0; i < 3; i++) {
      sc.advance(500);
      sc.deliver(concat(sc.build([])));
    }
    sc.advance(3000);
    assert.equal(sc.serverConnected, false);
    assert.equal(s.handshakeResult, undefined);
    assert.equal(s.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  });

  test('pion CVE-2022-29222: Certificate, ClientKeyExchange, then a plaintext Finished where CertificateVerify belongs: unexpected_message', async () => {
    const sc = await client(true);
    sc.send([STEP.cert, STEP.cke, STEP.fin]);
    assertServerFailed(sc, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, 'Finished for CertificateVerify');
  });

  test('JSSE bypass (USENIX 2020): client auth required, the client skips Certificate and CertificateVerify: unexpected_message', async () => {
    const sc = await client(true);
    sc.send([STEP.cke, STEP.ccs, STEP.fin]);
    assertServerFailed(sc, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, 'no Certificate');
  });

  test('CertificateVerify without a Certificate (none requested): unexpected_message', async () => {
    const sc = await client(false);
    sc.send([STEP.cke, STEP.cv]);
    assertServerFailed(sc, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, 'CertificateVerify unrequested');
  });

  test('CertificateVerify after an empty Certificate (certificate optional): unexpected_message', async () => {
    const sc = await client(true, { rejectUnauthorized: false });
    sc.send([STEP.emptyCert, STEP.cke, STEP.cv]);
    assertServerFailed(sc, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, 'CertificateVerify after empty Certificate');
  });

  test('an empty Certificate when one is optional, then the genuine rest: the server completes without a peer certificate', async () => {
    const sc = await client(true, { rejectUnauthorized: false });
    sc.send([STEP.emptyCert, STEP.cke, STEP.ccs, STEP.fin]);
    assert.ok(sc.serverConnected, sc.server!.error?.message);
    assert.equal(sc.server!.handshakeResult!.peer, undefined);
  });

  test('a second Certificate after the first: unexpected_message', async () => {
    const sc = await client(true);
    sc.send([STEP.cert, STEP.cert]);
    assertServerFailed(sc, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, 'second Certificate');
  });

  test('a second ClientKeyExchange: unexpected_message', async () => {
    const sc = await client(false);
    sc.send([STEP.cke, STEP.msg(HandshakeType.client_key_exchange, Uint8Array.of(1, 4))]);
    assertServerFailed(sc, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, 'second ClientKeyExchange');
  });
});

describe('A second ClientHello in the middle of the handshake', () => {
  test('the same ClientHello (same random and cookie) under a new message_seq: unexpected_message', async () => {
    const sc = await client(false);
    sc.send([STEP.msg(HandshakeType.client_hello, encodeClientHello(helloBody(sc)))]);
    assertServerFailed(sc, 'ERR_DTLS_UNEXPECTED_MESSAGE', AlertDescription.unexpected_message, 'ClientHello at message_seq 2');
  });

  test('a retransmitted ClientHello (same message_seq 1) makes the server resend flight 4, nothing else (RFC 6347 §4.2.4)', async () => {
    const sc = await client(false);
    const s = sc.server!;
    const before = s.stats.retransmissions;
    sc.advance(600); // past the resend rate limit
    const body = encodeClientHello(helloBody(sc));
    sc.deliver(sc.record(ContentType.handshake, 0, encodeHandshakeFragment(HandshakeType.client_hello, body.length, 1, 0, body)));
    assert.equal(s.stats.retransmissions, before + 1);
    assert.equal(s.isClosed, false);
    sc.send([STEP.cke, STEP.ccs, STEP.fin]);
    assert.ok(sc.serverConnected);
  });
});

/** The ClientHello with the cookie that the scripted client sent (from its transcript's first message). */
function helloBody(sc: ScriptedClient) {
  const first = sc.transcript.bytes();
  const len = (first[1]! << 16) | (first[2]! << 8) | first[3]!;
  return decodeClientHello(first.subarray(12, 12 + len));
}
