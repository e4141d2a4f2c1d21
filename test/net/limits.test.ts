/**
 * Server limits through real UDP sockets on 127.0.0.1: a full half-open table refuses new peers with silence while
 * an established connection keeps working, and frees itself at the handshake deadline; the idle timeout closes a
 * quiet connection; the server's counters say what was refused and why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type DtlsError, type DtlsSocket } from '../../src/index.js';
import { testCerts } from '../helpers/certs.js';
import { HelloTemplate, bindSocket, garbage, halfOpen } from '../helpers/attackers.js';
import { closeSocket, until, waitEvent } from '../interop/common.js';

/** An echo server; errors of its connections (established or not) are collected in `errors`. */
async function echoServer(options: Parameters<typeof createServer>[0], errors: DtlsError[] = []): Promise<ReturnType<typeof createServer>> {
  const server = createServer(options, (s: DtlsSocket) => {
    s.on('error', (e: DtlsError) => errors.push(e));
    s.on('message', (m: Buffer) => {
      if (s.connected) s.send(m);
    });
  });
  server.on('clientError', (e: DtlsError) => errors.push(e));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

async function echo(c: DtlsSocket, text: string, ms = 2_000): Promise<string> {
  const reply = waitEvent<[Buffer]>(c, 'message', ms);
  c.send(text);
  return (await reply)[0].toString();
}

test('real sockets: a full half-open table (maxHandshaking 5) gives a new client silence while an established one keeps exchanging; the handshake deadline frees the places and it connects', { timeout: 20_000 }, async () => {
  const certs = await testCerts('ec');
  const server = await echoServer({ cert: certs.serverCert, key: certs.serverKey, maxHandshaking: 5, handshakeTimeout: 1_500 });
  const port = server.address().port;
  const clientOpts = { host: '127.0.0.1', port, servername: 'localhost', ca: certs.ca, retransmitTimeout: 200, handshakeTimeout: 10_000 };
  const attackers = await Promise.all(Array.from({ length: 6 }, () => bindSocket()));
  let established: DtlsSocket | undefined;
  let late: DtlsSocket | undefined;
  try {
    established = connect(clientOpts);
    await waitEvent(established, 'secureConnect');
    const template = new HelloTemplate();
    // Six half-open handshakes: five fill the table, the sixth is refused.
    for (const s of attackers) assert.ok(await halfOpen(s, port, template));
    await until(() => server.getStats().refused.max_handshaking === 1, 'the sixth half-open handshake refused', 2_000);
    assert.equal(server.getStats().handshaking, 5);
    const t0 = Date.now();
    late = connect(clientOpts);
    let lateConnectedAt: number | undefined;
    late.on('secureConnect', () => (lateConnectedAt = Date.now()));
    // While the table is full: the established connection works, the new client gets nothing but HelloVerifyRequests.
    for (let i = 0; i < 5; i++) {
      assert.equal(await echo(established, `ping ${i}`), `ping ${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(lateConnectedAt, undefined, 'refused while the table is full');
    assert.ok(server.getStats().refused.max_handshaking >= 2, JSON.stringify(server.getStats()));
    // The half-open handshakes end at their 1.5 s deadline; the new client's next ClientHello gets in.
    await waitEvent(late, 'secureConnect', 8_000);
    assert.ok(Date.now() - t0 >= 500, 'not before the deadline');
    assert.equal(await echo(late, 'finally'), 'finally');
    const stats = server.getStats();
    assert.equal(stats.closedWithError['ERR_DTLS_HANDSHAKE_TIMEOUT'], 5);
    assert.equal(stats.handshaking, 0);
    assert.equal(stats.established, 2);
    assert.equal(stats.refused.max_handshaking, stats.dropped.capacity);
  } finally {
    await closeSocket(established);
    await closeSocket(late);
    for (const s of attackers) s.close();
    await server.close();
  }
});

test('real sockets: idleTimeout closes a quiet connection on the server (ERR_DTLS_IDLE_TIMEOUT, close_notify to the client); traffic keeps another one open', { timeout: 20_000 }, async () => {
  const certs = await testCerts('ec');
  const errors: DtlsError[] = [];
  const server = await echoServer({ cert: certs.serverCert, key: certs.serverKey, idleTimeout: 600 }, errors);
  const port = server.address().port;
  const quiet = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: certs.ca });
  const busy = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: certs.ca });
  try {
    await Promise.all([waitEvent(quiet, 'secureConnect'), waitEvent(busy, 'secureConnect')]);
    const t0 = Date.now();
    const quietClosed = once(quiet, 'close');
    let quietError: unknown;
    quiet.on('error', (e) => (quietError = e));
    // busy talks every 200 ms for 1.5 s: never idle for 600 ms.
    for (let i = 0; i < 8; i++) {
      assert.equal(await echo(busy, `keepalive ${i}`), `keepalive ${i}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const [hadError] = (await quietClosed) as [boolean];
    const after = Date.now() - t0;
    assert.ok(after >= 500, `closed after ${after} ms`);
    assert.equal(hadError, false, 'the client saw an orderly close (close_notify)');
    assert.equal(quietError, undefined);
    assert.ok(busy.connected, 'the busy connection is still open');
    assert.deepEqual(errors.map((e) => e.code), ['ERR_DTLS_IDLE_TIMEOUT']);
    assert.equal(server.getStats().closedWithError['ERR_DTLS_IDLE_TIMEOUT'], 1);
    assert.equal(server.connections, 1);
  } finally {
    await closeSocket(quiet);
    await closeSocket(busy);
    await server.close();
  }
});

test('real sockets: garbage and cookie-less ClientHellos from 50 source ports leave no state; an established connection is unaffected', { timeout: 20_000 }, async () => {
  const certs = await testCerts('ec');
  const server = await echoServer({ cert: certs.serverCert, key: certs.serverKey });
  const port = server.address().port;
  const sockets = await Promise.all(Array.from({ length: 50 }, () => bindSocket()));
  const c = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: certs.ca });
  try {
    await waitEvent(c, 'secureConnect');
    const template = new HelloTemplate();
    let hvr = 0;
    for (const s of sockets) s.on('message', () => hvr++);
    for (let round = 0; round < 20; round++) {
      for (const s of sockets) {
        s.send(garbage(), port, '127.0.0.1');
        s.send(template.first(), port, '127.0.0.1');
      }
      assert.equal(await echo(c, `round ${round}`), `round ${round}`);
    }
    await until(() => server.getStats().helloVerifyRequestsSent >= 1000, 'a HelloVerifyRequest for every hello', 3_000);
    const stats = server.getStats();
    assert.equal(stats.connections, 1, 'only the genuine connection');
    assert.equal(stats.connectionsAccepted, 1);
    assert.ok(stats.dropped.not_client_hello + stats.dropped.malformed > 0);
    await until(() => hvr >= 1000, 'HelloVerifyRequests received', 3_000);
  } finally {
    await closeSocket(c);
    for (const s of sockets) s.close();
    await server.close();
  }
});
