/**
 * Loss, duplication, reordering, delay and corruption through real UDP sockets on 127.0.0.1 (test/helpers/relay.ts
 * between the peers): handshakes complete, and with an application that resends what is not acknowledged every
 * message arrives; the library itself never delivers a datagram twice or altered — every delivery is counted per
 * (message id, attempt) at the receiver and must be at most one, and every message carries its own checksum.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type DtlsSocket } from '../../src/index.js';
import { LossyRelay, type RelayOptions } from '../helpers/relay.js';
import { testCerts } from '../helpers/certs.js';
import { killAll, startOpensslClient, startOpensslServer, type PeerProcess } from '../helpers/peers.js';
import { closeSocket, waitEvent } from '../interop/common.js';
import { DeliveryLog, Resender, line, parse } from './app.js';

const IMPAIRED: Omit<RelayOptions, 'targetPort'> = {
  drop: 0.1,
  duplicate: 0.1,
  reorder: 0.1,
  reorderMs: 25,
  corrupt: 0.05,
  jitterMs: 4,
};

/** Accumulates a child's stdout and hands complete lines to `onText`. */
function lineReader(peer: PeerProcess, onText: (text: string) => void): void {
  let buf = '';
  peer.proc.stdout.on('data', (s: string) => {
    buf += s;
    const cut = buf.lastIndexOf('\n');
    if (cut < 0) return;
    onText(buf.slice(0, cut + 1));
    buf = buf.slice(cut + 1);
  });
}

function assertImpaired(relay: LossyRelay): void {
  for (const dir of ['toServer', 'toClient'] as const) {
    const s = relay.stats[dir];
    assert.ok(s.dropped > 0 && s.duplicated > 0 && s.reordered > 0, `${dir}: ${relay.describe()}`);
  }
}

test('our client and our server through a lossy relay (10% drop, 10% duplicate, 10% reorder, 5% corrupt): 4 clients × 200 messages, every message delivered, none twice, none altered', { timeout: 30_000 }, async () => {
  const certs = await testCerts('ec');
  const server = createServer({ cert: certs.serverCert, key: certs.serverKey, retransmitTimeout: 100, handshakeTimeout: 15_000 });
  const serverLogs = new Map<DtlsSocket, DeliveryLog>();
  server.on('secureConnection', (s: DtlsSocket) => {
    const log = new DeliveryLog('m');
    serverLogs.set(s, log);
    s.on('error', () => undefined);
    s.on('message', (msg: Buffer) => {
      // Acknowledge each transmission with its own id and attempt: an ack seen twice is a duplicate too.
      for (const p of log.record(msg.toString('utf8'))) if (s.connected) s.send(line('a', p.id, p.attempt));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const relay = await LossyRelay.start({ targetPort: server.address().port, seed: 42, ...IMPAIRED });
  const clients: DtlsSocket[] = [];
  try {
    const TOTAL = 200;
    const runs = Array.from({ length: 4 }, async (_, i) => {
      const c = connect({ host: '127.0.0.1', port: relay.port, servername: 'localhost', ca: certs.ca, retransmitTimeout: 100, handshakeTimeout: 15_000 });
      clients.push(c);
      await waitEvent(c, 'secureConnect', 15_000, () => relay.describe());
      const acks = new DeliveryLog('a');
      const resender = new Resender(TOTAL, (id, attempt) => c.send(line('m', id, attempt)), { window: 16, resendMs: 150 });
      c.on('message', (msg: Buffer) => {
        for (const p of acks.record(msg.toString('utf8'))) resender.ack(p.id);
      });
      const ok = await resender.run(20_000);
      return { i, ok, acks, resender, stats: c.getStats() };
    });
    const results = await Promise.all(runs);
    for (const r of results) {
      assert.ok(r.ok, `client ${r.i}: ${r.resender.ackedCount}/${TOTAL} acknowledged; ${relay.describe()}`);
      assert.deepEqual(r.acks.duplicates, [], `client ${r.i} got an ack twice: ${r.acks.describe()}`);
      assert.equal(r.acks.corrupted, 0);
      assert.equal(r.acks.unparsable, 0);
    }
    assert.equal(serverLogs.size, 4);
    for (const [sock, log] of serverLogs) {
      assert.deepEqual(log.duplicates, [], `the server library delivered a transmission twice: ${log.describe()}`);
      assert.equal(log.corrupted, 0, log.describe());
      assert.equal(log.unparsable, 0, log.describe());
      assert.deepEqual(log.missing(TOTAL), [], log.describe());
      assert.ok(sock.getStats().discarded.replay > 0, 'duplicated datagrams were dropped by the replay window');
    }
    assertImpaired(relay);
    const badMac = [...serverLogs.keys()].reduce((n, s) => n + s.getStats().discarded.bad_mac, 0) + results.reduce((n, r) => n + r.stats.discarded.bad_mac, 0);
    assert.ok(relay.stats.toServer.corrupted + relay.stats.toClient.corrupted > 0);
    assert.ok(badMac > 0, 'corrupted records were caught by authentication');
    assert.ok(results.some((r) => r.resender.resends > 0), 'the application had to resend');
  } finally {
    await Promise.all(clients.map((c) => closeSocket(c)));
    await server.close();
    await relay.close();
  }
});

test('our client and openssl s_server -dtls1_2 through a lossy relay: the handshake completes; both directions deliver every message, our side never twice or altered', { timeout: 40_000 }, async () => {
  const certs = await testCerts('ec');
  // -nbio: with a blocking socket, an OpenSSL tool that discards a record (duplicate, bad MAC) blocks inside
  // SSL_read until the next datagram and stops reading its stdin meanwhile.
  const { peer, port } = await startOpensslServer({ certs, requireClientCert: false, extraArgs: ['-nbio'] });
  const relay = await LossyRelay.start({ targetPort: port, seed: 7, ...IMPAIRED });
  let client: DtlsSocket | undefined;
  try {
    client = connect({ host: '127.0.0.1', port: relay.port, servername: 'localhost', ca: certs.ca, retransmitTimeout: 250, handshakeTimeout: 25_000 });
    client.on('error', () => undefined);
    await waitEvent(client, 'secureConnect', 25_000, () => `${relay.describe()}\n${peer.describe()}`);
    const c = client;
    const TOTAL = 60;
    // Our client → s_server: s_server prints what it receives; that is our acknowledgement.
    const atOpenssl = new DeliveryLog('m');
    const up = new Resender(TOTAL, (id, attempt) => c.send(`${line('m', id, attempt)}\n`), { window: 8, resendMs: 300 });
    lineReader(peer, (text) => {
      for (const p of atOpenssl.record(text)) up.ack(p.id);
    });
    // s_server → our client: lines written to its stdin; our client counts what it receives.
    const atUs = new DeliveryLog('v');
    const down = new Resender(TOTAL, (id, attempt) => peer.write(`${line('v', id, attempt)}\n`), { window: 4, resendMs: 300 });
    c.on('message', (msg: Buffer) => {
      for (const p of atUs.record(msg.toString('utf8'))) down.ack(p.id);
    });
    const [okUp, okDown] = await Promise.all([up.run(25_000), down.run(25_000)]);
    const context = `${relay.describe()}\n${atOpenssl.describe()}\n${atUs.describe()}`;
    assert.ok(okUp, `to openssl: ${up.ackedCount}/${TOTAL}\n${context}`);
    assert.ok(okDown, `from openssl: ${down.ackedCount}/${TOTAL}\n${context}`);
    assert.deepEqual(atUs.duplicates, [], `our client delivered a transmission twice\n${context}`);
    assert.equal(atUs.corrupted, 0, context);
    assert.deepEqual(atUs.missing(TOTAL), []);
    assert.deepEqual(atOpenssl.duplicates, [], context);
    assert.equal(atOpenssl.corrupted, 0, context);
    assertImpaired(relay);
    assert.ok(c.getStats().discarded.replay + c.getStats().discarded.bad_mac > 0, 'our client discarded duplicated or corrupted records');
  } finally {
    await closeSocket(client);
    await killAll(peer);
    await relay.close();
  }
});

test('openssl s_client -dtls1_2 and our server through a lossy relay: the handshake completes; every message arrives at our server once and unaltered, every ack at s_client', { timeout: 40_000 }, async () => {
  const certs = await testCerts('ec');
  const server = createServer({ cert: certs.serverCert, key: certs.serverKey, retransmitTimeout: 250, handshakeTimeout: 25_000 });
  const atUs = new DeliveryLog('m');
  const connected: DtlsSocket[] = [];
  server.on('secureConnection', (s: DtlsSocket) => {
    connected.push(s);
    s.on('error', () => undefined);
    s.on('message', (msg: Buffer) => {
      const acks = atUs.record(msg.toString('utf8')).map((p) => line('a', p.id, p.attempt));
      if (acks.length > 0 && s.connected) s.send(`${acks.join('\n')}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const relay = await LossyRelay.start({ targetPort: server.address().port, seed: 99, ...IMPAIRED });
  // -nbio: see above (s_client would block in SSL_read after a discarded duplicate and stop reading stdin).
  const peer = startOpensslClient({ certs, port: relay.port, clientCert: false, extraArgs: ['-nbio'] });
  try {
    await peer.waitFor(/CONNECTED|Verify return code: 0/, 25_000);
    await peer.waitFor(/Verify return code: 0 \(ok\)/, 25_000);
    assert.equal(connected.length, 1, peer.describe());
    const TOTAL = 60;
    const atOpenssl = new DeliveryLog('a');
    const up = new Resender(TOTAL, (id, attempt) => peer.write(`${line('m', id, attempt)}\n`), { window: 4, resendMs: 300 });
    lineReader(peer, (text) => {
      for (const p of atOpenssl.record(text)) up.ack(p.id);
    });
    const ok = await up.run(25_000);
    const context = `${relay.describe()}\n${atUs.describe()}\n${atOpenssl.describe()}`;
    assert.ok(ok, `${up.ackedCount}/${TOTAL} acknowledged\n${context}\n${peer.describe()}`);
    assert.deepEqual(atUs.duplicates, [], `our server delivered a transmission twice\n${context}`);
    assert.equal(atUs.corrupted, 0, context);
    assert.deepEqual(atUs.missing(TOTAL), []);
    assert.equal(atOpenssl.corrupted, 0, context);
    assertImpaired(relay);
  } finally {
    await killAll(peer);
    await server.close();
    await relay.close();
  }
});

test('parse(): a line altered in transit is counted as corrupted, not delivered', () => {
  const good = line('m', 12, 3);
  assert.deepEqual(parse(good), [{ tag: 'm', id: 12, attempt: 3, intact: true }]);
  const bad = good.replace(/:([0-9a-f])([0-9a-f]{15})$/, (_, a: string, b: string) => `:${a === '0' ? '1' : '0'}${b}`);
  const log = new DeliveryLog('m');
  assert.deepEqual(log.record(bad), []);
  assert.equal(log.corrupted, 1);
  log.record(good);
  log.record(good);
  assert.deepEqual(log.duplicates, ['12:3×2']);
});
