/**
 * Interop with OpenSSL: our client against `openssl s_server -dtls1_2` (client certificate required), and
 * `openssl s_client -dtls1_2` against our server (client certificate required and verified). Each test starts its
 * own peer on 127.0.0.1 and kills it in `finally`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testCerts } from '../helpers/certs.js';
import { killAll, opensslCipherName, startOpensslClient, startOpensslServer, UdpRecorder, type PeerProcess } from '../helpers/peers.js';
import type { DtlsSocket } from '../../src/index.js';
import { closeSocket, derLength, GROUP_IDS, ourClient, ourServer, STEP_MS, TEST_TIMEOUT, until, waitEvent } from './common.js';

const T = { timeout: TEST_TIMEOUT };

const EC_SUITES = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CCM',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8',
];
const RSA_SUITES = [
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
];
/** Our group name → OpenSSL's. */
const OPENSSL_GROUPS: Record<string, string> = { x25519: 'X25519', 'P-256': 'P-256', 'P-384': 'P-384' };
/** How s_client names the server's ephemeral key ("Server Temp Key: ..."). */
const OPENSSL_TEMP_KEY: Record<string, string> = { x25519: 'X25519, 253 bits', 'P-256': 'ECDH, prime256v1, 256 bits', 'P-384': 'ECDH, secp384r1, 384 bits' };

/**
 * OpenSSL's group list for a test of `group`. OpenSSL (TLS 1.2) also checks the curve of the peer's ECDSA
 * certificate against its own group list (tls12_check_peer_sigalg: "wrong curve", then illegal_parameter), and our
 * certificates are P-256, so P-256 must stay in the list; preference (ours as server, -serverpref for s_server)
 * makes `group` the one chosen.
 */
function opensslGroups(group: string): string[] {
  return group === 'P-256' ? ['P-256'] : [OPENSSL_GROUPS[group]!, 'P-256'];
}

interface ClientCase {
  kind: 'ec' | 'rsa';
  /** The one suite s_server allows (our client offers all of its defaults). */
  suite?: string;
  /** The group s_server prefers (our client offers all three). */
  group?: string;
  mtu?: number;
}

/** Our client → s_server: handshake, then one message each way, then close_notify. */
async function clientToServer(c: ClientCase): Promise<void> {
  const certs = await testCerts(c.kind);
  let server: PeerProcess | undefined;
  let sock: DtlsSocket | undefined;
  let recorder: UdpRecorder | undefined;
  try {
    const started = await startOpensslServer({
      certs,
      requireClientCert: true,
      ...(c.suite !== undefined ? { ciphers: [c.suite] } : {}),
      ...(c.group !== undefined ? { groups: opensslGroups(c.group), extraArgs: ['-serverpref'] } : {}),
      ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
    });
    server = started.peer;
    const ctx = (): string => server!.describe();
    let port = started.port;
    if (c.mtu !== undefined) {
      recorder = await UdpRecorder.start(port);
      port = recorder.port;
    }
    sock = ourClient({ certs, port, ...(c.mtu !== undefined ? { mtu: c.mtu } : {}) });
    const messages: string[] = [];
    sock.on('message', (m: Buffer) => messages.push(m.toString('utf8')));
    await waitEvent(sock, 'secureConnect', STEP_MS, ctx);

    assert.equal(sock.getProtocol(), 'DTLSv1.2');
    const cipher = sock.getCipher()?.name;
    if (c.suite !== undefined) assert.equal(cipher, c.suite);
    if (c.group !== undefined) assert.equal(sock.connection.handshakeResult?.group, GROUP_IDS[c.group]);
    assert.equal(sock.authorized, true, 'the server certificate verified against the CA');
    assert.match(sock.getPeerCertificate().subject ?? '', /CN=localhost/);

    // s_server verified our certificate (-Verify 1) and agrees on the suite.
    await server.waitFor(/^CIPHER is (\S+)/m, STEP_MS);
    assert.match(server.output, /depth=0 CN = dtls-client\s+verify return:1/);
    assert.match(server.output, new RegExp(`^CIPHER is ${opensslCipherName(cipher!)}$`, 'm'), ctx());

    const out = `hello from node over ${cipher}`;
    sock.send(`${out}\n`);
    await server.waitFor(out, STEP_MS, 'stdout');

    const back = `hello from openssl over ${cipher}`;
    server.write(`${back}\n`);
    await until(() => messages.length > 0, 'a message from s_server', STEP_MS, ctx);
    assert.deepEqual(messages, [`${back}\n`]);

    // close_notify: s_server notices the shutdown (and with -naccept 1 it then exits).
    await closeSocket(sock);
    await server.waitFor(/shutting down SSL|CONNECTION CLOSED/, STEP_MS);

    if (recorder !== undefined) {
      // Both certificates are bigger than the MTU: the Certificate messages had to be fragmented both ways.
      assert.ok(derLength(certs.serverCert) > c.mtu! && derLength(certs.clientCert) > c.mtu!, 'certificates larger than the MTU');
      const over = [...recorder.toServer, ...recorder.toClient].filter((n) => n > c.mtu!);
      assert.deepEqual(over, [], `datagrams over the MTU: to server ${recorder.toServer.join(',')} / to client ${recorder.toClient.join(',')}`);
      // The RSA server flight (certificate chain > 1 KB) cannot fit one datagram, so it really was fragmented.
      const fromServer = recorder.toClient.reduce((a, b) => a + b, 0);
      assert.ok(fromServer > 2 * c.mtu!, `server sent ${fromServer} bytes in ${recorder.toClient.length} datagrams`);
    }
  } finally {
    await closeSocket(sock);
    await recorder?.close();
    await killAll(server);
  }
}

interface ServerCase {
  kind: 'ec' | 'rsa';
  /** The one suite s_client offers (our server allows all of its defaults). */
  suite?: string;
  /** The one group our server allows (s_client offers it and P-256). */
  group?: string;
  mtu?: number;
}

/** s_client → our server: handshake with a verified client certificate, one line echoed, close_notify. */
async function serverFromClient(c: ServerCase): Promise<void> {
  const certs = await testCerts(c.kind);
  const ours = await ourServer({
    certs,
    requestCert: true,
    ...(c.group !== undefined ? { groups: [c.group] } : {}),
    ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
  });
  let client: PeerProcess | undefined;
  let recorder: UdpRecorder | undefined;
  try {
    let port = ours.port;
    if (c.mtu !== undefined) {
      recorder = await UdpRecorder.start(port);
      port = recorder.port;
    }
    client = startOpensslClient({
      certs,
      port,
      clientCert: true,
      ...(c.suite !== undefined ? { ciphers: [c.suite] } : {}),
      ...(c.group !== undefined ? { groups: opensslGroups(c.group) } : {}),
      ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
    });
    const ctx = (): string => `${client!.describe()}\nserver clientErrors: ${ours.clientErrors.map((e) => e.message).join('; ')}`;
    const sock = await ours.nextConnection(STEP_MS, ctx);

    await client.waitFor(/Verify return code: \d+/, STEP_MS);
    assert.match(client.output, /Verify return code: 0 \(ok\)/, ctx());
    assert.match(client.output, /Protocol\s*: DTLSv1\.2/);
    const cipher = sock.getCipher()?.name;
    if (c.suite !== undefined) assert.equal(cipher, c.suite);
    assert.match(client.output, new RegExp(`Cipher is ${opensslCipherName(cipher!)}\\b`), ctx());
    if (c.group !== undefined) {
      assert.equal(sock.connection.handshakeResult?.group, GROUP_IDS[c.group]);
      assert.ok(client.output.includes(`Server Temp Key: ${OPENSSL_TEMP_KEY[c.group]!}`), ctx());
    }
    assert.equal(sock.getProtocol(), 'DTLSv1.2');
    assert.equal(sock.authorized, true);
    assert.match(sock.getPeerCertificate().subject ?? '', /CN=dtls-client/);

    const line = `ping from s_client over ${cipher}`;
    client.write(`${line}\n`);
    await until(() => ours.received.length > 0, 'a message from s_client', STEP_MS, ctx);
    assert.deepEqual(ours.received, [`${line}\n`]);
    await client.waitFor(`echo: ${line}`, STEP_MS, 'stdout');

    // EOF on s_client's stdin: it sends close_notify, which closes our side cleanly.
    const closed = waitEvent<[boolean]>(sock, 'close', STEP_MS, ctx);
    client.endStdin();
    const [hadError] = await closed;
    assert.equal(hadError, false);

    if (recorder !== undefined) {
      // Both certificates are bigger than the MTU: the Certificate messages had to be fragmented both ways.
      assert.ok(derLength(certs.serverCert) > c.mtu! && derLength(certs.clientCert) > c.mtu!, 'certificates larger than the MTU');
      const over = [...recorder.toServer, ...recorder.toClient].filter((n) => n > c.mtu!);
      assert.deepEqual(over, [], `datagrams over the MTU: to server ${recorder.toServer.join(',')} / to client ${recorder.toClient.join(',')}`);
      const fromServer = recorder.toClient.reduce((a, b) => a + b, 0);
      assert.ok(fromServer > 2 * c.mtu!, `server sent ${fromServer} bytes in ${recorder.toClient.length} datagrams`);
    }
  } finally {
    await killAll(client);
    await recorder?.close();
    await ours.close();
  }
}

// ------------------------------------------------------------------ our client → openssl s_server

for (const suite of EC_SUITES) {
  test(`client → openssl s_server (EC, client cert required): ${suite}`, T, () => clientToServer({ kind: 'ec', suite }));
}
for (const suite of RSA_SUITES) {
  test(`client → openssl s_server (RSA, client cert required): ${suite}`, T, () => clientToServer({ kind: 'rsa', suite }));
}
for (const group of ['x25519', 'P-256', 'P-384']) {
  test(`client → openssl s_server: key exchange group ${group}`, T, () => clientToServer({ kind: 'ec', group }));
}
test('client → openssl s_server: MTU 500 both sides, RSA certificates (handshake fragmentation)', T, () =>
  clientToServer({ kind: 'rsa', suite: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', mtu: 500 }),
);

// ------------------------------------------------------------------ openssl s_client → our server

for (const suite of EC_SUITES) {
  test(`openssl s_client → server (EC, client cert verified): ${suite}`, T, () => serverFromClient({ kind: 'ec', suite }));
}
for (const suite of RSA_SUITES) {
  test(`openssl s_client → server (RSA, client cert verified): ${suite}`, T, () => serverFromClient({ kind: 'rsa', suite }));
}
test('openssl s_client → server: default offer, EC', T, () => serverFromClient({ kind: 'ec' }));
test('openssl s_client → server: default offer, RSA', T, () => serverFromClient({ kind: 'rsa' }));
for (const group of ['x25519', 'P-256', 'P-384']) {
  test(`openssl s_client → server: key exchange group ${group}`, T, () => serverFromClient({ kind: 'ec', group }));
}
test('openssl s_client → server: MTU 500 both sides, RSA certificates (handshake fragmentation)', T, () =>
  serverFromClient({ kind: 'rsa', mtu: 500 }),
);

test('openssl s_client without a client certificate → server rejects it with handshake_failure', T, async () => {
  const certs = await testCerts('ec');
  const ours = await ourServer({ certs, requestCert: true });
  let client: PeerProcess | undefined;
  try {
    client = startOpensslClient({ certs, port: ours.port, clientCert: false });
    const ctx = (): string => client!.describe();
    await until(() => ours.clientErrors.length > 0, 'clientError on our server', STEP_MS, ctx);
    const err = ours.clientErrors[0] as Error & { code?: string };
    assert.equal(err.code, 'ERR_DTLS_CLIENT_CERTIFICATE_REQUIRED', err.message);
    assert.equal(ours.sockets.length, 0, 'no secureConnection');
    await client.waitFor(/alert handshake failure|alert number 40/, STEP_MS);
    const status = await client.waitExit(STEP_MS);
    assert.ok(status !== undefined && status.code !== 0, `s_client should fail, got ${JSON.stringify(status)}\n${ctx()}`);
  } finally {
    await killAll(client);
    await ours.close();
  }
});
