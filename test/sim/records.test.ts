/**
 * Record layer after the handshake (RFC 6347 §4.1, §4.1.2.6, §4.1.2.7; RFC 5246 §7.2.1; RFC 5705): epoch rules,
 * replay protection, authentication failures, orderly close and the keying material exporter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, type Packet, type Side, type SimOptions } from '../helpers/sim.js';
import { testCerts } from '../helpers/certs.js';
import { sealPlaintextRecord } from '../../src/record/protection.js';
import { ContentType, ProtocolVersion } from '../../src/msgs/enums.js';
import type { Connection } from '../../src/core/connection.js';

async function connectedSim(extra: Partial<SimOptions> = {}): Promise<Sim> {
  const certs = await testCerts('ec');
  const sim = new Sim({
    ...extra,
    client: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, ...extra.client },
    server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requestCert: true, ...extra.server },
  });
  sim.handshake();
  assert.ok(sim.bothConnected, sim.trace());
  return sim;
}

function conn(sim: Sim, side: Side): Connection {
  return side === 'client' ? sim.client : sim.server!;
}

const other = (side: Side): Side => (side === 'client' ? 'server' : 'client');

for (const side of ['client', 'server'] as const) {
  test(`RFC 6347 §4.1 application data in epoch 0 injected after the handshake is discarded and counted (to the ${side})`, async () => {
    const sim = await connectedSim();
    // Real traffic first, so the server has also released its epoch-0 state for the final flight.
    sim.client.send(Buffer.from('one'));
    sim.server!.send(Buffer.from('two'));
    sim.settle();
    const target = conn(sim, side);
    for (const seq of [0, 50, 1000]) {
      sim.inject(side, sealPlaintextRecord(ContentType.application_data, ProtocolVersion.DTLS1_2, 0, seq, Buffer.from(`forged${seq}`)));
    }
    sim.settle();
    assert.equal(target.stats.discarded.plaintext_application_data, 3, JSON.stringify(target.stats.discarded));
    assert.ok(!sim.received(side).some((m) => m.startsWith('forged')));
    assert.ok(sim.bothConnected);
    sim.client.send(Buffer.from('three'));
    sim.settle();
    assert.deepEqual(sim.received('server'), ['one', 'three']);
    assert.deepEqual(sim.received('client'), ['two']);
  });
}

test('RFC 6347 §4.1 application data in epoch 0 during the handshake is discarded and counted', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim({ client: { ca: certs.ca }, server: { cert: certs.serverCert, key: certs.serverKey } });
  sim.start();
  sim.inject('client', sealPlaintextRecord(ContentType.application_data, ProtocolVersion.DTLS1_2, 0, 7, Buffer.from('early')), 1);
  sim.run(() => sim.bothConnected);
  assert.ok(sim.bothConnected);
  assert.equal(sim.client.stats.discarded.plaintext_application_data, 1);
  assert.deepEqual(sim.received('client'), []);
});

for (const side of ['client', 'server'] as const) {
  test(`RFC 6347 §4.1.2.6 a replayed application record is delivered once (sent by the ${side})`, async () => {
    const sim = await connectedSim();
    const from = side;
    const to = other(side);
    const n = sim.sent.length;
    conn(sim, from).send(Buffer.from('once'));
    sim.settle();
    const packet = sim.sent.slice(n).find((p) => p.from === from && p.labels.includes('ApplicationData'))!;
    assert.ok(packet);
    for (let i = 0; i < 3; i++) sim.inject(to, packet.data, i);
    sim.settle();
    assert.deepEqual(sim.received(to), ['once']);
    assert.equal(conn(sim, to).stats.discarded.replay, 3);
    assert.equal(conn(sim, to).stats.messagesDelivered, 1);
    assert.ok(sim.bothConnected);
  });
}

test('RFC 6347 §4.1.2.6 records reordered within the replay window are each delivered once', async () => {
  const sim = await connectedSim();
  // Small records are coalesced into one datagram: they come back taken apart, to deliver one per datagram.
  const records = sim.holdClientRecords(Array.from({ length: 10 }, (_, i) => `m${i}`));
  assert.equal(records.length, 10);
  for (const r of [...records].reverse()) sim.inject('server', r);
  for (const r of records) sim.inject('server', r);
  sim.settle();
  assert.deepEqual(sim.received('server'), ['m9', 'm8', 'm7', 'm6', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0']);
  assert.equal(sim.server!.stats.discarded.replay, 10);
});

for (const [what, at] of [['ciphertext', 21], ['authentication tag', -1], ['explicit nonce', 13]] as const) {
  test(`RFC 6347 §4.1.2.7 a record with a flipped ${what} bit is discarded as bad_mac and the connection stays up`, async () => {
    const sim = await connectedSim();
    let original: Uint8Array | undefined;
    sim.filter = (p) => {
      if (original === undefined && p.from === 'client' && p.labels.includes('ApplicationData')) {
        original = p.data;
        return 'drop';
      }
      return 'deliver';
    };
    sim.client.send(Buffer.from('genuine'));
    sim.settle();
    assert.ok(original);
    const forged = original.slice();
    const i = at < 0 ? forged.length + at : at;
    forged[i]! ^= 0x01;
    sim.inject('server', forged);
    sim.settle();
    assert.equal(sim.server!.stats.discarded.bad_mac, 1);
    assert.deepEqual(sim.received('server'), []);
    assert.ok(sim.bothConnected);
    // The window is marked only after authentication: the genuine record with the same sequence number still counts.
    sim.inject('server', original);
    sim.client.send(Buffer.from('next'));
    sim.settle();
    assert.deepEqual(sim.received('server'), ['genuine', 'next']);
    assert.equal(sim.server!.stats.discarded.replay, 0);
    assert.ok(sim.bothConnected);
  });
}

test('RFC 6347 §4.1.2.7 garbage and truncated datagrams are discarded silently and counted', async () => {
  const sim = await connectedSim();
  sim.inject('server', new Uint8Array([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 99, 0, 200, 1, 2, 3]));
  sim.inject('server', new Uint8Array(40).fill(0xff));
  sim.inject('client', new Uint8Array([1, 2, 3]));
  sim.settle();
  assert.equal(sim.server!.stats.discarded.malformed, 2);
  assert.equal(sim.client.stats.discarded.malformed, 1);
  assert.ok(sim.bothConnected);
  sim.client.send(Buffer.from('still up'));
  sim.settle();
  assert.deepEqual(sim.received('server'), ['still up']);
});

for (const side of ['client', 'server'] as const) {
  test(`RFC 5246 §7.2.1 close() by the ${side} sends close_notify and the peer reports closed without error`, async () => {
    const sim = await connectedSim();
    const closer = conn(sim, side);
    const peer = other(side);
    closer.send(Buffer.from('last words'));
    closer.close();
    assert.ok(closer.isClosed);
    sim.settle();
    const alerts = sim.packets(side).filter((p) => p.labels.includes('EncryptedAlert'));
    assert.equal(alerts.length, 1, sim.trace());
    assert.deepEqual(sim.received(peer), ['last words']);
    const closed = sim.closedWith(peer);
    assert.ok(closed && closed.type === 'closed');
    assert.equal(closed.error, undefined);
    assert.equal(conn(sim, peer).isClosed, true);
    const mine = sim.closedWith(side);
    assert.ok(mine && mine.type === 'closed');
    assert.equal(mine.error, undefined);
    // The peer answers with its own close_notify, which the closed side only counts.
    assert.equal(sim.packets(peer).filter((p) => p.labels.includes('EncryptedAlert')).length, 1);
    if (side === 'client') assert.equal(closer.stats.discarded.after_close, 1);
    // A closed server connection no longer receives: the endpoint drops what its peer still sends.
    else assert.equal(sim.endpoint.stats.dropped.not_client_hello, 1);
    assert.throws(() => closer.send(Buffer.from('x')), { code: 'ERR_DTLS_NOT_CONNECTED' });
    assert.throws(() => conn(sim, peer).send(Buffer.from('x')), { code: 'ERR_DTLS_NOT_CONNECTED' });
    closer.close(); // idempotent
    assert.equal((side === 'client' ? sim.clientEvents : sim.serverEvents).filter((e) => e.type === 'closed').length, 1);
  });
}

test('RFC 5705 exportKeyingMaterial: equal on both sides, different per label, context and length', async () => {
  const sim = await connectedSim();
  const c = sim.client;
  const s = sim.server!;
  const a = c.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 60);
  assert.equal(a.length, 60);
  assert.deepEqual(a, s.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 60));
  const b = c.exportKeyingMaterial('EXPERIMENTAL-other', 60);
  assert.deepEqual(b, s.exportKeyingMaterial('EXPERIMENTAL-other', 60));
  assert.notDeepEqual(a, b);
  const ctx = Buffer.from('context');
  const withCtx = c.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 60, ctx);
  assert.deepEqual(withCtx, s.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 60, ctx));
  assert.notDeepEqual(withCtx, a);
  // An empty context is not the same as no context (RFC 5705 §4).
  assert.notDeepEqual(c.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 60, new Uint8Array(0)), a);
  // A shorter output is a prefix of the longer one (it is one PRF stream).
  assert.deepEqual(c.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 16), a.subarray(0, 16));
  // Another connection derives different material.
  const sim2 = await connectedSim();
  assert.notDeepEqual(sim2.client.exportKeyingMaterial('EXTRACTOR-dtls_srtp', 60), a);
});

test('RFC 5705 exportKeyingMaterial before the handshake completes throws ERR_DTLS_NOT_CONNECTED', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim({ client: { ca: certs.ca }, server: { cert: certs.serverCert, key: certs.serverKey } });
  assert.throws(() => sim.client.exportKeyingMaterial('EXPERIMENTAL-x', 16), { code: 'ERR_DTLS_NOT_CONNECTED' });
  sim.start();
  assert.throws(() => sim.client.exportKeyingMaterial('EXPERIMENTAL-x', 16), { code: 'ERR_DTLS_NOT_CONNECTED' });
  assert.throws(() => sim.client.send(Buffer.from('early')), { code: 'ERR_DTLS_NOT_CONNECTED' });
});

test('RFC 6347 §4.1.2.1 prepared cipher objects (prepareNextRecords after every step): reordered, duplicated and forged records still open exactly once, nothing changes on the wire', async () => {
  let n = 0;
  let mangle = false;
  // Every third server-bound datagram is held back 20 ms (arrives after later ones), every fifth is duplicated.
  const sim = await connectedSim({
    filter: (p: Packet) => (p.from === 'client' && mangle ? (++n % 3 === 0 ? { delay: 20 } : n % 5 === 0 ? 'duplicate' : 'deliver') : 'deliver'),
  });
  mangle = true;
  const sent: string[] = [];
  const replies: string[] = [];
  for (let i = 0; i < 60; i++) {
    // The server sends too, so it awaits the client's records and prepares their opens.
    replies.push(`r${i}`);
    sim.server!.send(Buffer.from(`r${i}`));
    sim.client.prepareNextRecords();
    sim.server!.prepareNextRecords();
    const m = `m${i}`;
    sent.push(m);
    sim.client.send(Buffer.from(m));
    if (i % 10 === 0) {
      // A forged record at the sequence number the server has prepared for: refused, and the genuine one still opens.
      sim.drain();
      const forged = sim.sent.filter((p) => p.from === 'client').at(-1)!.data.slice();
      forged[forged.length - 1]! ^= 0x40;
      sim.inject('server', forged);
    }
    sim.drain();
    sim.run(() => false, 2);
  }
  sim.settle();
  assert.deepEqual([...sim.received('server')].sort(), [...sent].sort());
  assert.equal(new Set(sim.received('server')).size, sent.length, 'each message exactly once');
  assert.deepEqual(sim.received('client'), replies);
  assert.ok(sim.server!.stats.discarded.bad_mac >= 1, JSON.stringify(sim.server!.stats.discarded));
  assert.ok(sim.bothConnected);
});
