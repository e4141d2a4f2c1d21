/**
 * The server endpoint (RFC 6347 §4.2.1 cookie exchange, §4.2.8 client restarts; DESIGN §2): stateless
 * HelloVerifyRequests that never amplify, no per-peer state before a valid cookie, and the restart rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_REMOTE, Sim, flightOf, makeClientConfig, makeServerConfig, rewriteHandshake, type Packet } from '../helpers/sim.js';
import { testCerts } from '../helpers/certs.js';
import { Connection } from '../../src/core/connection.js';
import { Endpoint, DEFAULT_ENDPOINT_LIMITS } from '../../src/core/endpoint.js';
import { ContentType, HandshakeType, ProtocolVersion } from '../../src/msgs/enums.js';
import { decodeClientHello, encodeClientHello, type ClientHello } from '../../src/msgs/client-hello.js';
import { encodeHandshakeFragment, decodeHandshakeFragments } from '../../src/msgs/handshake.js';
import { decodeHelloVerifyRequest } from '../../src/msgs/hello-verify-request.js';
import { sealPlaintextRecord } from '../../src/record/protection.js';
import { splitDatagram } from '../../src/record/deframer.js';

async function setup(): Promise<{ endpoint: Endpoint; client: () => Connection }> {
  const certs = await testCerts('ec');
  const serverConfig = makeServerConfig({ cert: certs.serverCert, key: certs.serverKey });
  const endpoint = new Endpoint(() => serverConfig, serverConfig.crypto, DEFAULT_ENDPOINT_LIMITS);
  return { endpoint, client: () => new Connection(makeClientConfig({ ca: certs.ca })) };
}

function clientHelloRecord(hello: ClientHello, messageSeq = 0, recordSeq = 0): Uint8Array {
  const body = encodeClientHello(hello);
  return sealPlaintextRecord(
    ContentType.handshake,
    ProtocolVersion.DTLS1_2,
    0,
    recordSeq,
    encodeHandshakeFragment(HandshakeType.client_hello, body.length, messageSeq, 0, body),
  );
}

function helloOf(datagram: Uint8Array): ClientHello {
  const f = decodeHandshakeFragments(splitDatagram(datagram).records[0]!.fragment)[0]!;
  return decodeClientHello(f.body);
}

function cookieOf(hvr: Uint8Array): Uint8Array {
  const rec = splitDatagram(hvr).records[0]!;
  const f = decodeHandshakeFragments(rec.fragment)[0]!;
  assert.equal(f.msgType, HandshakeType.hello_verify_request);
  return decodeHelloVerifyRequest(f.body).cookie;
}

function minimalHello(suites = 1, sessionId = 0, cookie = 0): ClientHello {
  return {
    clientVersion: ProtocolVersion.DTLS1_2,
    random: new Uint8Array(32).fill(7),
    sessionId: new Uint8Array(sessionId).fill(1),
    cookie: new Uint8Array(cookie).fill(2),
    cipherSuites: Array.from({ length: suites }, (_, i) => 0xc02b + i),
    compressionMethods: [0],
    extensions: [],
  };
}

test('RFC 6347 §4.2.1 the HelloVerifyRequest is never larger than the ClientHello that caused it', async () => {
  const { endpoint, client } = await setup();
  const c = client();
  c.connect(0);
  const ch = c.pollTransmit()!;
  const r = endpoint.handleDatagram(0, ch, CLIENT_REMOTE);
  assert.equal(r.kind, 'reply');
  assert.ok(r.kind === 'reply' && r.datagram.length <= ch.length, `${r.kind === 'reply' ? r.datagram.length : '-'} > ${ch.length}`);
  // Smallest possible ClientHellos, with and without a (bogus) cookie or session id: the reply never exceeds them.
  let received = 0;
  let replied = 0;
  for (const [suites, sid, cookie] of [[1, 0, 0], [1, 0, 255], [1, 32, 0], [2, 0, 20], [100, 32, 0]] as const) {
    const d = clientHelloRecord(minimalHello(suites, sid, cookie));
    const rr = endpoint.handleDatagram(0, d, { address: '10.9.9.9', port: 1000 + suites });
    assert.equal(rr.kind, 'reply');
    if (rr.kind === 'reply') {
      assert.ok(rr.datagram.length <= d.length, `HVR ${rr.datagram.length} B for a ${d.length} B ClientHello`);
      received += d.length;
      replied += rr.datagram.length;
    }
  }
  assert.ok(replied < received);
  assert.equal(endpoint.size, 0);
});

test('RFC 6347 §4.2.1 HelloVerifyRequest format: version DTLS 1.0, ClientHello message_seq and record sequence number echoed', async () => {
  const { endpoint } = await setup();
  const d = clientHelloRecord(minimalHello(), 0, 42);
  const r = endpoint.handleDatagram(0, d, CLIENT_REMOTE);
  assert.ok(r.kind === 'reply');
  const rec = splitDatagram(r.datagram).records[0]!;
  assert.equal(rec.header.version, ProtocolVersion.DTLS1_0);
  assert.equal(rec.header.epoch, 0);
  assert.equal(rec.header.sequenceNumber, 42);
  const f = decodeHandshakeFragments(rec.fragment)[0]!;
  assert.equal(f.messageSeq, 0);
  assert.equal(decodeHelloVerifyRequest(f.body).serverVersion, ProtocolVersion.DTLS1_0);
});

test('DESIGN §2 no Connection exists before the cookie is valid (endpoint.size stays 0 after the first ClientHello)', async () => {
  const { endpoint, client } = await setup();
  // Many peers sending a first ClientHello leave no state behind.
  for (let i = 0; i < 50; i++) {
    const c = client();
    c.connect(0);
    const r = endpoint.handleDatagram(i, c.pollTransmit()!, { address: `10.1.0.${i}`, port: 5000 + i });
    assert.equal(r.kind, 'reply');
  }
  assert.equal(endpoint.size, 0);
  assert.equal(endpoint.stats.helloVerifyRequestsSent, 50);
  assert.equal(endpoint.stats.connectionsAccepted, 0);
  // The same in the simulator, checked at the moment the first ClientHello has been answered.
  const certs = await testCerts('ec');
  const sim = new Sim({ client: { ca: certs.ca }, server: { cert: certs.serverCert, key: certs.serverKey } });
  sim.start();
  sim.run(() => sim.sent.some((p) => flightOf(p) === 2));
  assert.equal(sim.endpoint.size, 0);
  assert.equal(sim.server, undefined);
  sim.run(() => sim.sent.some((p) => flightOf(p) === 3));
  assert.equal(sim.endpoint.size, 0, 'still nothing until the ClientHello with the cookie arrives');
  sim.run(() => sim.endpoint.size > 0);
  assert.equal(sim.endpoint.size, 1);
  sim.run(() => sim.bothConnected);
  assert.ok(sim.bothConnected);
});

test('RFC 6347 §4.2.1 a ClientHello with a forged, foreign, stale or mismatched cookie gets a new HelloVerifyRequest', async () => {
  const { endpoint, client } = await setup();
  const c = client();
  c.connect(0);
  const ch1 = c.pollTransmit()!;
  const r1 = endpoint.handleDatagram(0, ch1, CLIENT_REMOTE);
  assert.ok(r1.kind === 'reply');
  const cookie = cookieOf(r1.datagram);
  const hello = helloOf(ch1);
  const withCookie = (h: ClientHello, k: Uint8Array): Uint8Array => clientHelloRecord({ ...h, cookie: k }, 1, 1);

  const cases: [string, number, Uint8Array, typeof CLIENT_REMOTE][] = [
    ['forged cookie', 100, withCookie(hello, new Uint8Array(cookie.length).fill(0xaa)), CLIENT_REMOTE],
    ['cookie with one bit flipped', 100, withCookie(hello, cookie.map((b, i) => (i === 10 ? b ^ 1 : b))), CLIENT_REMOTE],
    ['truncated cookie', 100, withCookie(hello, cookie.subarray(0, 10)), CLIENT_REMOTE],
    ['cookie from another port', 100, withCookie(hello, cookie), { ...CLIENT_REMOTE, port: CLIENT_REMOTE.port + 1 }],
    ['cookie from another address', 100, withCookie(hello, cookie), { ...CLIENT_REMOTE, address: '10.0.0.3' }],
    ['cookie for another random', 100, withCookie({ ...hello, random: new Uint8Array(32) }, cookie), CLIENT_REMOTE],
  ];
  let badCookies = 0;
  for (const [name, now, d, remote] of cases) {
    const r = endpoint.handleDatagram(now, d, remote);
    assert.equal(r.kind, 'reply', name);
    assert.ok(r.kind === 'reply');
    assert.equal(cookieOf(r.datagram).length, cookie.length);
    assert.equal(endpoint.size, 0, name);
    assert.equal(endpoint.stats.dropped.bad_cookie, ++badCookies, name);
  }
  // The genuine cookie, in time and from the right address, is accepted.
  const ok = endpoint.handleDatagram(30_000, withCookie(hello, cookie), CLIENT_REMOTE);
  assert.equal(ok.kind, 'connection');
  assert.equal(endpoint.size, 1);

  // A cookie older than its lifetime (60 s) is refused, even though it was genuine.
  const remote2 = { address: '10.0.0.7', port: 4444 };
  const c2 = client();
  c2.connect(0);
  const first = c2.pollTransmit()!;
  const r2 = endpoint.handleDatagram(0, first, remote2);
  assert.ok(r2.kind === 'reply');
  const cookie2 = cookieOf(r2.datagram);
  const hello2 = helloOf(first);
  for (const now of [61_000, 180_000]) {
    const r = endpoint.handleDatagram(now, withCookie(hello2, cookie2), remote2);
    assert.equal(r.kind, 'reply', `cookie ${now / 1000} s old`);
    assert.equal(endpoint.stats.dropped.bad_cookie, ++badCookies);
    assert.equal(endpoint.get(remote2), undefined);
  }
  // And the fresh cookie from the last reply works.
  const r3 = endpoint.handleDatagram(180_000, withCookie(hello2, cookie2), remote2);
  assert.ok(r3.kind === 'reply');
  assert.equal(endpoint.handleDatagram(180_001, withCookie(hello2, cookieOf(r3.datagram)), remote2).kind, 'connection');
  assert.equal(endpoint.size, 2);
});

test('RFC 6347 §4.2.1 the client follows a second HelloVerifyRequest (cookie rejected) and still connects', async () => {
  const certs = await testCerts('ec');
  // Corrupt the cookie in the first ClientHello+cookie: the server answers with a new HelloVerifyRequest.
  let corrupted = false;
  const sim = new Sim({
    client: { ca: certs.ca },
    server: { cert: certs.serverCert, key: certs.serverKey },
    filter: (p: Packet) => {
      if (!corrupted && flightOf(p) === 3) {
        corrupted = true;
        return {
          replace: rewriteHandshake(p.data, HandshakeType.client_hello, (b) => {
            const h = decodeClientHello(b);
            return encodeClientHello({ ...h, cookie: h.cookie.map((x) => x ^ 0xff) });
          }),
        };
      }
      return 'deliver';
    },
  });
  sim.handshake();
  assert.ok(sim.bothConnected, sim.trace());
  assert.equal(sim.endpoint.stats.helloVerifyRequestsSent, 2);
  assert.equal(sim.endpoint.stats.dropped.bad_cookie, 1);
  assert.deepEqual([...new Set(sim.sent.map((p) => p.at))], [0, 5, 10, 15, 20, 25, 30, 35]);
});

test('RFC 6347 §4.2.8 a client restarting on the same address:port gets a new connection after a cookie exchange', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim({
    client: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requestCert: true },
  });
  sim.handshake();
  assert.ok(sim.bothConnected);
  const oldServer = sim.server!;
  sim.client.send(Buffer.from('before restart'));
  sim.settle();
  assert.deepEqual(sim.received('server'), ['before restart']);

  const mark = sim.sent.length;
  const oldClient = sim.restartClient();
  // The new ClientHello (epoch 0, message_seq 0) is answered statelessly; the old association is untouched until
  // the client proves it is reachable at that address.
  sim.run(() => sim.sent.slice(mark).some((p) => flightOf(p) === 2));
  assert.equal(sim.server, oldServer);
  assert.ok(oldServer.isConnected);
  assert.equal(sim.endpoint.size, 1);
  sim.run(() => sim.client.isConnected && sim.server !== oldServer && sim.server?.isConnected === true);
  const newServer = sim.server!;
  assert.notEqual(newServer, oldServer, sim.trace());
  assert.ok(sim.client.isConnected, `${sim.client.handshakeState} ${sim.client.error?.message}\n${sim.trace()}`);
  assert.ok(newServer.isConnected, `${newServer.handshakeState} ${newServer.error?.message}`);
  assert.equal(sim.endpoint.size, 1);
  assert.equal(sim.endpoint.get(CLIENT_REMOTE), newServer);
  assert.equal(sim.endpoint.stats.connectionsAccepted, 2);
  assert.equal(sim.endpoint.stats.helloVerifyRequestsSent, 2);
  assert.notDeepEqual(newServer.handshakeResult!.masterSecret, oldServer.handshakeResult!.masterSecret);
  assert.ok(!oldClient.isClosed || oldClient.error === undefined);

  sim.client.send(Buffer.from('after restart'));
  newServer.send(Buffer.from('welcome back'));
  sim.settle();
  assert.deepEqual(sim.received('server'), ['before restart', 'after restart']);
  assert.deepEqual(sim.received('client'), ['welcome back']);
});

test('RFC 6347 §4.2.8 a new ClientHello whose cookie exchange never completes leaves the existing connection alone', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim({ client: { ca: certs.ca }, server: { cert: certs.serverCert, key: certs.serverKey } });
  sim.handshake();
  const server = sim.server!;
  // An off-path attacker spoofing the client's address: its ClientHello gets a HelloVerifyRequest that goes to
  // the real client, who ignores it.
  const spoof = new Connection(makeClientConfig({ ca: certs.ca }));
  spoof.connect(sim.now);
  sim.inject('server', spoof.pollTransmit()!);
  sim.settle();
  assert.equal(sim.endpoint.size, 1);
  assert.equal(sim.endpoint.get(CLIENT_REMOTE), server);
  assert.ok(sim.bothConnected);
  sim.client.send(Buffer.from('still here'));
  sim.settle();
  assert.deepEqual(sim.received('server'), ['still here']);
  assert.equal(sim.endpoint.stats.connectionsAccepted, 1);
});

test('RFC 6347 §4.2.8 a late copy of the original ClientHello+cookie does not replace the established connection', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim({ client: { ca: certs.ca }, server: { cert: certs.serverCert, key: certs.serverKey } });
  sim.handshake();
  const server = sim.server!;
  const ch3 = sim.sent.find((p) => flightOf(p) === 3)!;
  sim.inject('server', ch3.data);
  sim.settle();
  assert.equal(sim.endpoint.get(CLIENT_REMOTE), server);
  assert.equal(sim.endpoint.stats.connectionsAccepted, 1);
  assert.ok(sim.bothConnected);
  sim.client.send(Buffer.from('unaffected'));
  sim.settle();
  assert.deepEqual(sim.received('server'), ['unaffected']);
});

test('DESIGN §3 a ClientHello larger than the MTU (fragmented): the first fragment\'s cookie is checked statelessly, the rest reassembled after', async () => {
  const certs = await testCerts('ec');
  // 12 ALPN names of 30 bytes push the ClientHello well past a 256-byte MTU.
  const alpn = Array.from({ length: 12 }, (_, i) => `protocol-${String(i).padStart(2, '0')}-${'x'.repeat(18)}`);
  const sim = new Sim({
    client: { ca: certs.ca, mtu: 256, ALPNProtocols: alpn, handshakeTimeout: 5000 },
    server: { cert: certs.serverCert, key: certs.serverKey, mtu: 256, ALPNProtocols: [alpn[5]!] },
  });
  sim.handshake();
  const firstHello = sim.sent.filter((p) => p.from === 'client' && p.index < 10 && p.labels.some((l) => l.startsWith('ClientHello[')));
  assert.ok(firstHello.length > 1, 'the ClientHello is fragmented');
  assert.ok(sim.bothConnected, `${sim.client.error?.message}`);
  assert.equal(sim.client.handshakeResult!.alpnProtocol, alpn[5]);
  // One HelloVerifyRequest, answering the first fragment; the cookie-less hello's other fragments left no state.
  assert.equal(sim.endpoint.stats.helloVerifyRequestsSent, 1);
  assert.equal(sim.endpoint.stats.connectionsAccepted, 1);
  assert.equal(sim.client.stats.retransmissions, 0);
});

test('DESIGN §3 a fragmented ClientHello whose later fragments never arrive gets no answer (no ServerHello from a partial hello)', async () => {
  const certs = await testCerts('ec');
  const alpn = Array.from({ length: 12 }, (_, i) => `protocol-${String(i).padStart(2, '0')}-${'x'.repeat(18)}`);
  const sim = new Sim({
    client: { ca: certs.ca, mtu: 256, ALPNProtocols: alpn, handshakeTimeout: 3000 },
    server: { cert: certs.serverCert, key: certs.serverKey, mtu: 256, ALPNProtocols: [alpn[5]!] },
    // Drop the second fragment of the hello with the cookie: the server holds a pending hello for this peer.
    filter: (p) => (p.from === 'client' && p.labels.some((l) => /^ClientHello\[[1-9]/.test(l)) && p.at > 0 ? 'drop' : 'deliver'),
  });
  sim.start();
  sim.run(() => sim.client.isClosed, 10_000);
  // Without the rest of the hello the server never answers; the pending connection ends at its deadline.
  assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  assert.equal(sim.sent.filter((p) => p.from === 'server' && p.labels.includes('ServerHello')).length, 0);
});

test('RFC 6347 §4.2.8 a client restarting on the same address:port during the handshake connects with a cookie exchange', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim({
    client: { ca: certs.ca },
    server: { cert: certs.serverCert, key: certs.serverKey },
    filter: (p) => (flightOf(p) === 5 ? 'drop' : 'deliver'),
  });
  sim.start();
  sim.run(() => sim.sent.some((p) => flightOf(p) === 5));
  const halfOpen = sim.server!;
  assert.ok(halfOpen.isHandshaking);
  sim.filter = () => 'deliver';
  sim.restartClient();
  sim.run(() => sim.client.isConnected || sim.client.isClosed, 10_000);
  assert.ok(sim.client.isConnected, `${sim.client.handshakeState} ${sim.client.error?.message}\n${sim.trace()}`);
  assert.notEqual(sim.server, halfOpen);
  assert.equal(sim.endpoint.size, 1);
});

test('issue 3 / RFC 6347 §4.2.1: a 3000-byte ClientHello at MTU 500 completes without per-peer state before the cookie', async () => {
  const certs = await testCerts('ec');
  // 12 ALPN names of 240 bytes: a ClientHello of about 3000 bytes, seven or more fragments at MTU 500.
  const alpn = Array.from({ length: 12 }, (_, i) => `p${String(i).padStart(2, '0')}-${'a'.repeat(236)}`);
  const sim = new Sim({
    client: { ca: certs.ca, mtu: 500, ALPNProtocols: alpn, handshakeTimeout: 5000 },
    server: { cert: certs.serverCert, key: certs.serverKey, mtu: 500, ALPNProtocols: [alpn[11]!] },
  });
  sim.start();
  const first = sim.sent.filter((p) => p.from === 'client');
  const total = Number(/\/(\d+)\]$/.exec(first[0]!.labels[0]!)?.[1]);
  assert.ok(total >= 3000, `ClientHello is ${total} bytes`);
  assert.ok(first.length >= 7, `${first.length} fragments`);
  assert.ok(first.every((p) => p.data.length <= 500));
  // Deliver the first hello: no state is kept for it, whichever fragments arrive.
  sim.run(() => sim.endpoint.stats.helloVerifyRequestsSent === 1);
  assert.equal(sim.endpoint.size, 0);
  sim.handshake();
  assert.ok(sim.bothConnected, `${sim.client.error?.message}\n${sim.trace()}`);
  assert.equal(sim.server!.handshakeResult!.alpnProtocol, alpn[11]);
  assert.equal(sim.endpoint.stats.helloVerifyRequestsSent, 1);
  // The cookie-less hello's later fragments were dropped without state; one connection, for the hello with the cookie.
  assert.ok(sim.endpoint.stats.dropped.fragmented_client_hello >= first.length - 1);
  assert.equal(sim.endpoint.stats.connectionsAccepted, 1);
  assert.ok(sim.sent.every((p) => p.data.length <= 500));
});
