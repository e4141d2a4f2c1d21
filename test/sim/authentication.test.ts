/**
 * Negotiation and authentication failures (RFC 5246 §7.4, §7.2.2; RFC 5280 / RFC 6125 via the verifier;
 * RFC 7627 extended master secret). Each failure must be final on the side that detects it, with the right
 * error code, and reach the peer as the matching fatal alert.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, flightOf, rewriteHandshake, type SimOptions } from '../helpers/sim.js';
import { testCerts, type CertSet } from '../helpers/certs.js';
import { AlertReceivedError, type DtlsError } from '../../src/errors.js';
import { AlertDescription, ExtensionType, HandshakeType } from '../../src/msgs/enums.js';
import { decodeClientHello, encodeClientHello } from '../../src/msgs/client-hello.js';
import { decodeServerHello, encodeServerHello } from '../../src/msgs/server-hello.js';
import { encodeCertificate } from '../../src/msgs/certificate.js';
import { parsePemCertificates } from '../../src/pki/credentials.js';

function opts(certs: CertSet, extra: Partial<SimOptions> = {}): SimOptions {
  return {
    ...extra,
    client: { ca: certs.ca, ...extra.client },
    server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, ...extra.server },
  };
}

function closeError(sim: Sim, side: 'client' | 'server'): DtlsError | undefined {
  const e = sim.closedWith(side);
  assert.ok(e !== undefined && e.type === 'closed', `${side} closed\n${sim.trace()}`);
  return e.error;
}

/** `detector` failed with `code` and sent alert `alert`; the other side got it as AlertReceivedError. */
function assertFatal(sim: Sim, detector: 'client' | 'server', code: string, alert: AlertDescription): void {
  sim.run(() => sim.client.isClosed && sim.server?.isClosed === true, 5_000);
  const other = detector === 'client' ? 'server' : 'client';
  const err = closeError(sim, detector);
  assert.equal(err?.code, code, `${detector}: ${err?.message}\n${sim.trace()}`);
  assert.equal(err?.alert, alert);
  const received = closeError(sim, other);
  assert.ok(received instanceof AlertReceivedError, `${other} got ${received?.name}: ${received?.message}`);
  assert.equal(received.code, 'ERR_DTLS_ALERT_RECEIVED');
  assert.equal(received.receivedAlert, alert);
  assert.equal(sim.client.isConnected, false);
  assert.equal(sim.server?.isConnected, false);
  // A failure is final: no more handshake traffic, no timers left.
  assert.equal(sim.client.pollTimeout(), undefined);
  assert.equal(sim.server?.pollTimeout(), undefined);
  assert.equal(sim.clientEvents.filter((e) => e.type === 'closed').length, 1);
  assert.equal(sim.serverEvents.filter((e) => e.type === 'closed').length, 1);
  assert.ok(sim.packets(detector).at(-1)!.labels.some((l) => l === 'Alert' || l === 'EncryptedAlert'), sim.trace());
}

test('RFC 5246 §7.4.6 client certificate required but the client has none: server fails, client receives handshake_failure', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { server: { requestCert: true } }));
  sim.handshake();
  // The client answers the CertificateRequest with an empty Certificate message.
  assert.ok(sim.packets('client').some((p) => p.labels.includes('Certificate') && flightOf(p) === 5));
  assertFatal(sim, 'server', 'ERR_DTLS_CLIENT_CERTIFICATE_REQUIRED', AlertDescription.handshake_failure);
});

test('RFC 5246 §7.4.6 requestCert with rejectUnauthorized false: a client without certificate is accepted', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { server: { requestCert: true, rejectUnauthorized: false } }));
  sim.handshake();
  assert.ok(sim.bothConnected, sim.trace());
  assert.equal(sim.server!.handshakeResult!.peer, undefined);
});

test('RFC 5280 §6.1 server certificate from an unknown CA: client fails with ERR_DTLS_UNKNOWN_CA, server receives unknown_ca', async () => {
  const certs = await testCerts('ec');
  const other = await testCerts('rsa');
  const sim = new Sim(opts(certs, { client: { ca: other.ca } }));
  sim.handshake();
  assertFatal(sim, 'client', 'ERR_DTLS_UNKNOWN_CA', AlertDescription.unknown_ca);
  assert.equal(flightTimes5(sim), 0, 'the client sends no flight 5 to an unauthenticated server');
});

function flightTimes5(sim: Sim): number {
  return sim.packets('client').filter((p) => flightOf(p) === 5).length;
}

test('RFC 5280 §6.1 client certificate from an unknown CA: server fails with ERR_DTLS_UNKNOWN_CA, client receives unknown_ca', async () => {
  const certs = await testCerts('ec');
  const other = await testCerts('rsa');
  const sim = new Sim(opts(certs, {
    client: { cert: other.clientCert, key: other.clientKey },
    server: { requestCert: true },
  }));
  sim.handshake();
  assertFatal(sim, 'server', 'ERR_DTLS_UNKNOWN_CA', AlertDescription.unknown_ca);
});

test('RFC 6125 §6.4 servername mismatch (example.com): client fails with ERR_DTLS_HOSTNAME_MISMATCH', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { client: { servername: 'example.com' } }));
  sim.handshake();
  assertFatal(sim, 'client', 'ERR_DTLS_HOSTNAME_MISMATCH', AlertDescription.bad_certificate);
  // The SNI the server saw was example.com: it never got as far as a result.
  assert.equal(sim.server!.handshakeResult, undefined);
});

test('RFC 6125 §6.4 servername matched by SAN IP address (127.0.0.1), no SNI sent for an IP literal', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { client: { servername: '127.0.0.1' } }));
  sim.handshake();
  assert.ok(sim.bothConnected, `${sim.client.error?.message}\n${sim.trace()}`);
  assert.equal(sim.server!.handshakeResult!.servername, undefined);
  assert.equal(sim.client.handshakeResult!.peer!.authorized, true);
});

test('RFC 5280 §6.1, RFC 6125 §6.4 rejectUnauthorized false: unknown CA and wrong servername are let through with peer.authorized false', async () => {
  const certs = await testCerts('ec');
  const other = await testCerts('rsa');
  for (const client of [{ ca: other.ca }, { servername: 'example.com' }]) {
    const sim = new Sim(opts(certs, { client: { ...client, rejectUnauthorized: false } }));
    sim.handshake();
    assert.ok(sim.bothConnected, `${sim.client.error?.message}\n${sim.trace()}`);
    const peer = sim.client.handshakeResult!.peer!;
    assert.equal(peer.authorized, false);
    assert.equal(peer.leaf.subject, 'CN=localhost');
    assert.equal(peer.authorizationError?.code, 'ca' in client ? 'ERR_DTLS_UNKNOWN_CA' : 'ERR_DTLS_HOSTNAME_MISMATCH');
    sim.client.send(Buffer.from('unauthorized but encrypted'));
    sim.settle();
    assert.deepEqual(sim.received('server'), ['unauthorized but encrypted']);
  }
});

test('RFC 5246 §7.4.1.3 no cipher suite in common (client CCM_8 only, server GCM only): handshake_failure on both sides', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, {
    client: { ciphers: ['TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'] },
    server: { ciphers: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'] },
  }));
  sim.handshake();
  assertFatal(sim, 'server', 'ERR_DTLS_INCOMPATIBLE', AlertDescription.handshake_failure);
  assert.equal(sim.packets('server').filter((p) => flightOf(p) === 4).length, 0, 'no ServerHello was sent');
});

test('RFC 8422 §5.1.1 no key exchange group in common (client x25519, server P-384): handshake_failure on both sides', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { client: { groups: ['x25519'] }, server: { groups: ['P-384'] } }));
  sim.handshake();
  assertFatal(sim, 'server', 'ERR_DTLS_INCOMPATIBLE', AlertDescription.handshake_failure);
});

test('RFC 8422 §5.1 ECDSA-only client against an RSA server: handshake_failure (server cannot authenticate any offered suite)', async () => {
  const rsa = await testCerts('rsa');
  const sim = new Sim(opts(rsa, { client: { ciphers: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'] } }));
  sim.handshake();
  assertFatal(sim, 'server', 'ERR_DTLS_INCOMPATIBLE', AlertDescription.handshake_failure);
});

test('RFC 7627 §5.1 two peers that both do the extended master secret negotiate it (requireExtendedMasterSecret default true)', async () => {
  const certs = await testCerts('ec');
  for (const require of [true, false]) {
    const sim = new Sim(opts(certs, { client: { requireExtendedMasterSecret: require }, server: { requireExtendedMasterSecret: require } }));
    sim.handshake();
    assert.ok(sim.bothConnected, sim.trace());
    assert.equal(sim.client.handshakeResult!.extendedMasterSecret, true);
    assert.equal(sim.server!.handshakeResult!.extendedMasterSecret, true);
  }
});

function withoutEms<T extends { extensions: { type: number }[] }>(m: T): T {
  return { ...m, extensions: m.extensions.filter((e) => e.type !== ExtensionType.extended_master_secret) };
}

test('RFC 7627 §5.3 server requiring EMS refuses a ClientHello without it: handshake_failure', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, {
    // Strip extended_master_secret from both ClientHellos on the wire.
    filter: (p) =>
      p.from === 'client' && (flightOf(p) === 1 || flightOf(p) === 3)
        ? { replace: rewriteHandshake(p.data, HandshakeType.client_hello, (b) => encodeClientHello(withoutEms(decodeClientHello(b)))) }
        : 'deliver',
  }));
  sim.handshake();
  assertFatal(sim, 'server', 'ERR_DTLS_INCOMPATIBLE', AlertDescription.handshake_failure);
});

test('RFC 7627 §5.3 client requiring EMS refuses a ServerHello without it: handshake_failure', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, {
    filter: (p) =>
      p.from === 'server' && p.labels.includes('ServerHello')
        ? { replace: rewriteHandshake(p.data, HandshakeType.server_hello, (b) => encodeServerHello(withoutEms(decodeServerHello(b)))) }
        : 'deliver',
  }));
  sim.handshake();
  assertFatal(sim, 'client', 'ERR_DTLS_INCOMPATIBLE', AlertDescription.handshake_failure);
});

test('RFC 5246 §7.4.9 a tampered handshake (ServerHello without EMS, client not requiring it) fails the Finished check', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, {
    client: { requireExtendedMasterSecret: false },
    filter: (p) =>
      p.from === 'server' && p.labels.includes('ServerHello')
        ? { replace: rewriteHandshake(p.data, HandshakeType.server_hello, (b) => encodeServerHello(withoutEms(decodeServerHello(b)))) }
        : 'deliver',
  }));
  sim.handshake();
  // The client derives a master secret without EMS, the server with it: the server cannot verify the client's
  // Finished (it cannot even decrypt it, so it is dropped as bad_mac) and the handshake never completes.
  sim.run(() => sim.client.isClosed && sim.server?.isClosed === true, 60_000);
  assert.equal(sim.client.isConnected, false);
  assert.equal(sim.server!.isConnected, false);
  assert.equal(sim.client.handshakeResult, undefined);
  assert.equal(sim.server!.handshakeResult, undefined);
  assert.ok(sim.server!.stats.discarded.bad_mac >= 1, JSON.stringify(sim.server!.stats.discarded));
  assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  assert.equal(sim.server!.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
});

test('RFC 5246 §7.4.8 client Certificate swapped on the wire for another trusted certificate: CertificateVerify fails, decrypt_error', async () => {
  const certs = await testCerts('ec');
  const rsa = await testCerts('rsa');
  const [rsaClientDer] = parsePemCertificates(rsa.clientCert, 'rsa client');
  const sim = new Sim(opts(certs, {
    client: { cert: certs.clientCert, key: certs.clientKey },
    server: { ca: [certs.ca, rsa.ca], requestCert: true },
    filter: (p) =>
      p.from === 'client' && flightOf(p) === 5 && p.labels.includes('Certificate')
        ? { replace: rewriteHandshake(p.data, HandshakeType.certificate, () => encodeCertificate({ certificates: [rsaClientDer!] })) }
        : 'deliver',
  }));
  sim.handshake();
  assertFatal(sim, 'server', 'ERR_DTLS_BAD_SIGNATURE', AlertDescription.decrypt_error);
  assert.equal(sim.packets('server').filter((p) => flightOf(p) === 6).length, 0);
});

test('RFC 5246 §7.4.9 a tampered Finished: the server cannot authenticate it and the handshake does not complete', async () => {
  const certs = await testCerts('ec');
  // Flip a bit in the client's encrypted Finished, in every transmission of flight 5.
  const sim = new Sim(opts(certs, {
    server: { handshakeTimeout: 5000 },
    client: { handshakeTimeout: 5000 },
    filter: (p) => {
      if (p.from !== 'client' || flightOf(p) !== 5) return 'deliver';
      const d = p.data.slice();
      d[d.length - 1]! ^= 1;
      return { replace: d };
    },
  }));
  sim.handshake();
  sim.run(() => sim.client.isClosed && sim.server?.isClosed === true, 10_000);
  assert.equal(sim.server!.handshakeResult, undefined);
  assert.equal(sim.client.handshakeResult, undefined);
  assert.ok(sim.server!.stats.discarded.bad_mac >= 1);
  assert.equal(sim.server!.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
});

test('RFC 8422 §5.1.1 a client whose supported_groups lacks the curve of the server\'s ECDSA certificate gets handshake_failure', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { client: { groups: ['P-384'] } }));
  sim.handshake();
  assertFatal(sim, 'server', 'ERR_DTLS_INCOMPATIBLE', AlertDescription.handshake_failure);
  assert.match(sim.server?.error?.message ?? '', /curve of our certificate/);
});
