/**
 * Signature schemes and certificate key types against OpenSSL (RFC 5246 §7.4.1.4.1, RFC 8422 §5.4): each
 * scheme is the only one our side allows (`sigalgs`), so a completed handshake proves the peer's
 * ServerKeyExchange or CertificateVerify used it and ours verified, and the reverse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type DtlsSocket } from '../../src/index.js';
import { testCerts } from '../helpers/certs.js';
import {
  killAll,
  requireGnutls,
  startGnutlsClient,
  startGnutlsServer,
  startOpensslClient,
  startOpensslServer,
  type PeerProcess,
} from '../helpers/peers.js';
import { STEP_MS, TEST_TIMEOUT, closeSocket, ourServer, waitEvent } from './common.js';

const T = { timeout: TEST_TIMEOUT };
type Kind = 'ec' | 'p384' | 'rsa' | 'ed25519';
// OpenSSL 3.0 does not do Ed25519 in DTLS 1.2 (its own s_client and s_server fail with "no shared cipher"), so
// Ed25519 is tested against GnuTLS below.
const CASES: readonly [string, Kind][] = [
  ['ecdsa_secp256r1_sha256', 'ec'],
  ['ecdsa_secp384r1_sha384', 'p384'],
  ['rsa_pss_rsae_sha256', 'rsa'],
  ['rsa_pss_rsae_sha384', 'rsa'],
  ['rsa_pkcs1_sha256', 'rsa'],
  ['rsa_pkcs1_sha384', 'rsa'],
];

for (const [scheme, kind] of CASES) {
  test(`our client → openssl s_server, ${kind} certificates, only ${scheme}`, T, async () => {
    const certs = await testCerts(kind);
    let server: PeerProcess | undefined;
    let sock: DtlsSocket | undefined;
    try {
      const started = await startOpensslServer({ certs, requireClientCert: true, ...(kind === 'p384' ? { groups: ['X25519', 'P-384'] } : {}) });
      server = started.peer;
      sock = connect({
        host: '127.0.0.1', port: started.port, servername: 'localhost', ca: certs.ca, cert: certs.clientCert, key: certs.clientKey,
        sigalgs: [scheme], retransmitTimeout: 500, handshakeTimeout: STEP_MS,
      });
      await waitEvent(sock, 'secureConnect', STEP_MS, () => server!.describe());
      assert.equal(sock.getProtocol(), 'DTLSv1.2');
      sock.send(`hello ${scheme}\n`);
      await server.waitFor(`hello ${scheme}`, STEP_MS);
      // s_server verified our client certificate (and with it our CertificateVerify, signed with `scheme`).
      assert.match(server.output, /verify return:1/);
    } finally {
      await closeSocket(sock);
      await killAll(server);
    }
  });

  test(`openssl s_client → our server, ${kind} certificates, only ${scheme}`, T, async () => {
    const certs = await testCerts(kind);
    const ours = await ourServer({ certs, requestCert: true, sigalgs: [scheme] });
    let client: PeerProcess | undefined;
    try {
      client = startOpensslClient({ certs, port: ours.port, ...(kind === 'p384' ? { groups: ['X25519', 'P-384'] } : {}) });
      const sock = await ours.nextConnection(STEP_MS, () => client!.describe());
      assert.equal(sock.getPeerCertificate().subject, 'CN=dtls-client');
      await client.waitFor(/Verify return code: 0 \(ok\)/, STEP_MS);
      const peerSig = /Peer signature type: (\S+)/.exec(client.output)?.[1];
      const expected = scheme.startsWith('rsa_pss') ? 'RSA-PSS' : scheme.startsWith('rsa_pkcs1') ? 'RSA' : scheme.startsWith('ecdsa') ? 'ECDSA' : 'Ed25519';
      assert.equal(peerSig, expected, client.output);
    } finally {
      await killAll(client);
      await ours.close();
    }
  });
}

const ED25519_PRIORITY = 'NORMAL:-VERS-ALL:+VERS-DTLS1.2:+SIGN-EDDSA-ED25519';

test('our client → gnutls-serv, Ed25519 certificates, only ed25519 (RFC 8422 §5.4 EdDSA)', T, async () => {
  requireGnutls();
  const certs = await testCerts('ed25519');
  let server: PeerProcess | undefined;
  let sock: DtlsSocket | undefined;
  try {
    const started = await startGnutlsServer({ certs, requireClientCert: true, priority: ED25519_PRIORITY, extraArgs: ['-d', '4'] });
    server = started.peer;
    sock = connect({
      host: '127.0.0.1', port: started.port, servername: 'localhost', ca: certs.ca, cert: certs.clientCert, key: certs.clientKey,
      sigalgs: ['ed25519'], retransmitTimeout: 500, handshakeTimeout: STEP_MS,
    });
    await waitEvent(sock, 'secureConnect', STEP_MS, () => server!.describe());
    const echoed = waitEvent<[Buffer]>(sock, 'message', STEP_MS, () => server!.describe());
    sock.send('hello ed25519');
    assert.equal((await echoed)[0].toString(), 'hello ed25519');
    assert.equal(sock.getPeerCertificate().subject, 'CN=localhost');
  } finally {
    await closeSocket(sock);
    await killAll(server);
  }
});

test('gnutls-cli → our server, Ed25519 certificates, only ed25519 (RFC 8422 §5.4 EdDSA)', T, async () => {
  requireGnutls();
  const certs = await testCerts('ed25519');
  const ours = await ourServer({ certs, requestCert: true, sigalgs: ['ed25519'] });
  let client: PeerProcess | undefined;
  try {
    client = startGnutlsClient({ certs, port: ours.port, priority: ED25519_PRIORITY });
    const sock = await ours.nextConnection(STEP_MS, () => client!.describe());
    assert.equal(sock.getPeerCertificate().subject, 'CN=dtls-client');
    await client.waitFor(/- Description: \(DTLS1\.2-X\.509\)-\([^)]*\)-\(EdDSA-Ed25519\)/, STEP_MS);
    assert.match(client.output, /The certificate is trusted/);
  } finally {
    await killAll(client);
    await ours.close();
  }
});
