/**
 * Interop with GnuTLS: our client against `gnutls-serv -u --echo` (client certificate required and verified), and
 * `gnutls-cli -u` against our server (client certificate required and verified). Each test starts its own peer on
 * 127.0.0.1 and kills it in `finally`. These tests need the gnutls-bin package; without it they fail (they do not
 * skip) with a message saying so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testCerts } from '../helpers/certs.js';
import { gnutlsVersion, killAll, requireGnutls, startGnutlsClient, startGnutlsServer, UdpRecorder, type PeerProcess } from '../helpers/peers.js';
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
/** GnuTLS's name of a suite in its debug log: TLS_X → GNUTLS_X without "WITH_" (and CHACHA20 without the hash). */
function gnutlsSuiteName(iana: string): string {
  return iana.replace(/^TLS_/, 'GNUTLS_').replace('_WITH_', '_').replace('CHACHA20_POLY1305_SHA256', 'CHACHA20_POLY1305');
}
/** How gnutls-cli's "- Description:" names the key exchange group. */
const GNUTLS_DESCRIPTION_GROUP: Record<string, string> = { x25519: 'ECDHE-X25519', 'P-256': 'ECDHE-SECP256R1', 'P-384': 'ECDHE-SECP384R1' };
/** GnuTLS's debug-log name of a group. */
const GNUTLS_LOG_GROUP: Record<string, string> = { x25519: 'X25519', 'P-256': 'SECP256R1', 'P-384': 'SECP384R1' };
/** The cipher as gnutls-cli's "- Description:" names it. */
const GNUTLS_DESCRIPTION_CIPHER: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'AES-128-GCM',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'AES-256-GCM',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM: 'AES-128-CCM',
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: 'AES-128-CCM-8',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'AES-128-GCM',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'AES-256-GCM',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'CHACHA20-POLY1305',
};

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('GnuTLS tools are installed (Debian/Ubuntu package gnutls-bin)', () => {
  requireGnutls();
  assert.match(gnutlsVersion() ?? '', /gnutls-serv \d+\.\d+/);
});

interface ClientCase {
  kind: 'ec' | 'rsa';
  /** The one suite gnutls-serv allows (our client offers all of its defaults). */
  suite?: string;
  /** The one group gnutls-serv allows (our client offers all three). */
  group?: string;
  mtu?: number;
}

/** Our client → gnutls-serv --echo: handshake, one message echoed, close_notify. */
async function clientToServer(c: ClientCase): Promise<void> {
  const certs = await testCerts(c.kind);
  let server: PeerProcess | undefined;
  let sock: DtlsSocket | undefined;
  let recorder: UdpRecorder | undefined;
  try {
    const started = await startGnutlsServer({
      certs,
      requireClientCert: true,
      ...(c.suite !== undefined ? { suite: c.suite } : {}),
      ...(c.group !== undefined ? { group: c.group } : {}),
      ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
      // -d 4 logs the negotiated suite and group, which the test compares with ours.
      extraArgs: ['-d', '4'],
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
    const cipher = sock.getCipher()!.name;
    if (c.suite !== undefined) assert.equal(cipher, c.suite);
    const group = sock.connection.handshakeResult?.group;
    if (c.group !== undefined) assert.equal(group, GROUP_IDS[c.group]);
    assert.equal(sock.authorized, true, 'the server certificate verified against the CA');
    assert.match(sock.getPeerCertificate().subject ?? '', /CN=localhost/);

    // gnutls-serv agrees on the suite and the group.
    assert.match(server.output, new RegExp(`Selected cipher suite: ${escapeRe(gnutlsSuiteName(cipher))}\\b`), ctx());
    assert.match(server.output, /Selected version DTLS1\.2/);
    const groupName = Object.entries(GROUP_IDS).find(([, id]) => id === group)?.[0];
    assert.ok(groupName !== undefined, `unknown group ${group}`);
    assert.match(server.output, new RegExp(`HSK\\[[^\\]]*\\]: Selected group ${GNUTLS_LOG_GROUP[groupName]}\\b`), ctx());

    const line = `hello from node over ${cipher}`;
    sock.send(`${line}\n`);
    await until(() => messages.length > 0, 'the echo from gnutls-serv', STEP_MS, ctx);
    assert.deepEqual(messages, [`${line}\n`]);
    assert.match(server.output, new RegExp(`Processing \\d+ bytes command: ${escapeRe(line)}`));

    await closeSocket(sock);

    if (recorder !== undefined) {
      // Both certificates are bigger than the MTU: the Certificate messages had to be fragmented both ways.
      assert.ok(derLength(certs.serverCert) > c.mtu! && derLength(certs.clientCert) > c.mtu!, 'certificates larger than the MTU');
      const over = [...recorder.toServer, ...recorder.toClient].filter((n) => n > c.mtu!);
      assert.deepEqual(over, [], `datagrams over the MTU: to server ${recorder.toServer.join(',')} / to client ${recorder.toClient.join(',')}`);
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
  /** The one suite gnutls-cli offers (our server allows all of its defaults). */
  suite?: string;
  /** The one group gnutls-cli offers. */
  group?: string;
  mtu?: number;
}

/** gnutls-cli → our server: handshake with a verified client certificate, one line echoed, close_notify. */
async function serverFromClient(c: ServerCase): Promise<void> {
  requireGnutls();
  const certs = await testCerts(c.kind);
  const ours = await ourServer({
    certs,
    requestCert: true,
    ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
    ...(c.group !== undefined ? { groups: [c.group] } : {}),
  });
  let client: PeerProcess | undefined;
  let recorder: UdpRecorder | undefined;
  try {
    let port = ours.port;
    if (c.mtu !== undefined) {
      recorder = await UdpRecorder.start(port);
      port = recorder.port;
    }
    client = startGnutlsClient({
      certs,
      port,
      clientCert: true,
      ...(c.suite !== undefined ? { suite: c.suite } : {}),
      ...(c.group !== undefined ? { group: c.group } : {}),
      ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
    });
    const ctx = (): string => `${client!.describe()}\nserver clientErrors: ${ours.clientErrors.map((e) => e.message).join('; ')}`;
    const sock = await ours.nextConnection(STEP_MS, ctx);
    await client.waitFor('- Simple Client Mode', STEP_MS);

    assert.match(client.output, /- Status: The certificate is trusted\./, ctx());
    assert.match(client.output, /- Successfully sent 1 certificate\(s\) to server\./);
    const cipher = sock.getCipher()!.name;
    if (c.suite !== undefined) assert.equal(cipher, c.suite);
    const desc = client.output.match(/- Description: \((DTLS[^)]*)\)-\(([^)]*)\)-\(([^)]*)\)-\(([^)]*)\)/);
    assert.ok(desc !== null, ctx());
    assert.equal(desc[1], 'DTLS1.2-X.509');
    assert.equal(desc[4], GNUTLS_DESCRIPTION_CIPHER[cipher]);
    const group = sock.connection.handshakeResult?.group;
    if (c.group !== undefined) assert.equal(group, GROUP_IDS[c.group]);
    const groupName = Object.entries(GROUP_IDS).find(([, id]) => id === group)?.[0];
    assert.equal(desc[2], GNUTLS_DESCRIPTION_GROUP[groupName ?? '']);
    assert.match(client.output, /- Options: .*extended master secret/);
    assert.equal(sock.getProtocol(), 'DTLSv1.2');
    assert.equal(sock.authorized, true);
    assert.match(sock.getPeerCertificate().subject ?? '', /CN=dtls-client/);

    const line = `ping from gnutls-cli over ${cipher}`;
    client.write(`${line}\n`);
    await until(() => ours.received.length > 0, 'a message from gnutls-cli', STEP_MS, ctx);
    assert.deepEqual(ours.received, [`${line}\n`]);
    await client.waitFor(`echo: ${line}`, STEP_MS, 'stdout');

    // EOF on gnutls-cli's stdin: it sends close_notify, which closes our side cleanly.
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

// ------------------------------------------------------------------ our client → gnutls-serv

for (const suite of EC_SUITES) {
  test(`client → gnutls-serv (EC, client cert required): ${suite}`, T, () => clientToServer({ kind: 'ec', suite }));
}
for (const suite of RSA_SUITES) {
  test(`client → gnutls-serv (RSA, client cert required): ${suite}`, T, () => clientToServer({ kind: 'rsa', suite }));
}
for (const group of ['x25519', 'P-256', 'P-384']) {
  test(`client → gnutls-serv: key exchange group ${group}`, T, () => clientToServer({ kind: 'ec', group }));
}
test('client → gnutls-serv: MTU 500 both sides, RSA certificates (handshake fragmentation)', T, () =>
  clientToServer({ kind: 'rsa', suite: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', mtu: 500 }),
);

test('client with a certificate from another CA → gnutls-serv rejects it, we report the alert', T, async () => {
  const certs = await testCerts('ec');
  const other = await testCerts('rsa');
  let server: PeerProcess | undefined;
  let sock: DtlsSocket | undefined;
  try {
    const started = await startGnutlsServer({ certs, requireClientCert: true });
    server = started.peer;
    // Trust the right CA for the server, but present a client certificate gnutls-serv cannot verify.
    sock = ourClient({ certs: { ...certs, clientCert: other.clientCert, clientKey: other.clientKey }, port: started.port });
    const s = sock;
    let connected = false;
    s.on('secureConnect', () => (connected = true));
    // events.once(emitter, 'error') resolves with the error event's arguments.
    const [err] = await waitEvent<[Error & { code?: string }]>(s, 'error', STEP_MS, () => server!.describe());
    assert.equal(connected, false, 'the handshake should fail');
    assert.equal(err.code, 'ERR_DTLS_ALERT_RECEIVED', `${err.message}\n${server.describe()}`);
    assert.match(err.message, /access_denied|bad_certificate|unknown_ca/);
    assert.equal(s.connected, false);
  } finally {
    await closeSocket(sock);
    await killAll(server);
  }
});

// ------------------------------------------------------------------ gnutls-cli → our server

for (const suite of EC_SUITES) {
  test(`gnutls-cli → server (EC, client cert verified): ${suite}`, T, () => serverFromClient({ kind: 'ec', suite }));
}
for (const suite of RSA_SUITES) {
  test(`gnutls-cli → server (RSA, client cert verified): ${suite}`, T, () => serverFromClient({ kind: 'rsa', suite }));
}
test('gnutls-cli → server: default offer, EC', T, () => serverFromClient({ kind: 'ec' }));
test('gnutls-cli → server: default offer, RSA', T, () => serverFromClient({ kind: 'rsa' }));
for (const group of ['x25519', 'P-256', 'P-384']) {
  test(`gnutls-cli → server: key exchange group ${group}`, T, () => serverFromClient({ kind: 'ec', group }));
}
test('gnutls-cli → server: MTU 500 both sides, RSA certificates (handshake fragmentation)', T, () =>
  serverFromClient({ kind: 'rsa', mtu: 500 }),
);

test('gnutls-cli without a client certificate → server rejects it with handshake_failure', T, async () => {
  requireGnutls();
  const certs = await testCerts('ec');
  const ours = await ourServer({ certs, requestCert: true });
  let client: PeerProcess | undefined;
  try {
    client = startGnutlsClient({ certs, port: ours.port, clientCert: false });
    const ctx = (): string => client!.describe();
    await until(() => ours.clientErrors.length > 0, 'clientError on our server', STEP_MS, ctx);
    const err = ours.clientErrors[0] as Error & { code?: string };
    assert.equal(err.code, 'ERR_DTLS_CLIENT_CERTIFICATE_REQUIRED', err.message);
    assert.equal(ours.sockets.length, 0, 'no secureConnection');
    await client.waitFor(/Received alert \[40\]|Handshake failed/, STEP_MS);
    const status = await client.waitExit(STEP_MS);
    assert.ok(status !== undefined && status.code !== 0, `gnutls-cli should fail, got ${JSON.stringify(status)}\n${ctx()}`);
  } finally {
    await killAll(client);
    await ours.close();
  }
});
