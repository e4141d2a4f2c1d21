/**
 * The two receive paths of a connection (RFC 6347 §4.1, §4.1.2.6, §4.1.2.7): a datagram that is exactly one
 * application_data record of the current epoch takes a short path (Connection.receiveApplicationRecord), every
 * other datagram the general one (splitDatagram, handleRecord). These tests send the datagrams that sit on the
 * border between the two and check that each is treated as RFC 6347 says, whichever path takes it. Also the
 * server endpoint's routing, which remembers the last peer (DESIGN §2: demultiplexing by address:port).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim } from '../helpers/sim.js';
import { MultiSim, dataOf, type Peer } from '../helpers/multisim.js';
import { testCerts } from '../helpers/certs.js';

async function connectedSim(): Promise<Sim> {
  const certs = await testCerts('ec');
  const sim = new Sim({
    client: { ca: certs.ca },
    server: { cert: certs.serverCert, key: certs.serverKey },
  });
  sim.handshake();
  assert.ok(sim.bothConnected, sim.trace());
  return sim;
}

/** Sends each message from the client and returns its application records, kept from the server. */
function heldRecords(sim: Sim, messages: string[]): Uint8Array[] {
  const records = sim.holdClientRecords(messages);
  assert.equal(records.length, messages.length);
  return records;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test('RFC 6347 §4.1.1 two application records in one datagram are both delivered, in order', async () => {
  const sim = await connectedSim();
  const [a, b] = heldRecords(sim, ['first', 'second']);
  sim.inject('server', concat(a!, b!));
  sim.settle();
  assert.deepEqual(sim.received('server'), ['first', 'second']);
  assert.deepEqual(Object.entries(sim.server!.stats.discarded).filter(([, n]) => n > 0), [], 'nothing discarded');
});

test('RFC 6347 §4.1.2.7 an application record followed by trailing bytes: the record is delivered, the rest counted as malformed', async () => {
  const sim = await connectedSim();
  const [a] = heldRecords(sim, ['kept']);
  sim.inject('server', concat(a!, new Uint8Array([23, 0xfe])));
  sim.settle();
  assert.deepEqual(sim.received('server'), ['kept']);
  assert.equal(sim.server!.stats.discarded.malformed, 1);
  assert.ok(sim.bothConnected);
});

test('RFC 6347 §4.1 an application record whose length field runs past the datagram is discarded as malformed', async () => {
  const sim = await connectedSim();
  const [a] = heldRecords(sim, ['cut']);
  sim.inject('server', a!.subarray(0, a!.length - 1));
  sim.settle();
  assert.deepEqual(sim.received('server'), []);
  assert.equal(sim.server!.stats.discarded.malformed, 1);
  // The genuine record is still accepted: nothing was marked in the replay window.
  sim.inject('server', a!);
  sim.settle();
  assert.deepEqual(sim.received('server'), ['cut']);
});

test('RFC 6347 §4.1 an application record with another version, or of an unknown epoch, is discarded and counted', async () => {
  const sim = await connectedSim();
  const [a, b] = heldRecords(sim, ['tls version', 'epoch 2']);
  const otherVersion = a!.slice();
  otherVersion[1] = 0x03;
  otherVersion[2] = 0x03;
  const otherEpoch = b!.slice();
  otherEpoch[4] = 2;
  sim.inject('server', otherVersion);
  sim.inject('server', otherEpoch);
  sim.settle();
  assert.deepEqual(sim.received('server'), []);
  assert.equal(sim.server!.stats.discarded.bad_version, 1);
  assert.equal(sim.server!.stats.discarded.unknown_epoch, 1);
  sim.inject('server', b!);
  sim.settle();
  assert.deepEqual(sim.received('server'), ['epoch 2']);
  assert.ok(sim.bothConnected);
});

test('RFC 6347 §4.1.2.6 a record is checked against the replay window before it is opened, and marked only once authentic (single-record datagrams)', async () => {
  const sim = await connectedSim();
  const [a, b] = heldRecords(sim, ['a', 'b']);
  const forgedB = b!.slice();
  forgedB[forgedB.length - 1]! ^= 1;
  sim.inject('server', forgedB);
  sim.inject('server', b!);
  sim.inject('server', b!);
  sim.inject('server', a!);
  sim.settle();
  assert.deepEqual(sim.received('server'), ['b', 'a']);
  assert.equal(sim.server!.stats.discarded.bad_mac, 1);
  assert.equal(sim.server!.stats.discarded.replay, 1);
});

test('DESIGN §2 the endpoint routes interleaved datagrams of peers sharing an address or a port each to its own connection, and forgets a closed one', async () => {
  const certs = await testCerts('ec');
  const n = new MultiSim({
    server: { cert: certs.serverCert, key: certs.serverKey },
    client: { ca: certs.ca },
    limits: { maxConnectionsPerAddress: 10 },
  });
  const peers: Peer[] = [
    n.connect('a', '10.0.0.1', 5000),
    n.connect('b', '10.0.0.1', 5001),
    n.connect('c', '10.0.0.2', 5000),
    n.connect('d', '10.0.0.10', 500),
  ];
  n.handshake(peers);
  for (const p of peers) assert.ok(n.server(p)?.isConnected, p.name);
  // Interleaved: every peer sends, round after round, each datagram to the server right after another peer's.
  for (let round = 0; round < 3; round++) for (const p of peers) p.client.send(Buffer.from(`${p.name}${round}`));
  n.run(() => peers.every((p) => dataOf(p.serverEvents).length === 3), 5_000);
  for (const p of peers) assert.deepEqual(dataOf(p.serverEvents), [`${p.name}0`, `${p.name}1`, `${p.name}2`], p.name);

  // a closes: its server connection ends and is forgotten; a copy of a's last datagram finds no connection.
  const [a, b] = peers as [Peer, Peer];
  const before = n.endpoint.getStats().dropped.not_client_hello;
  a.client.send(Buffer.from('last'));
  a.client.close();
  n.run(() => n.server(a) === undefined, 5_000);
  assert.equal(n.server(a), undefined);
  assert.deepEqual(dataOf(a.serverEvents).slice(-1), ['last']);
  b.client.send(Buffer.from('b after'));
  n.inject(a, new Uint8Array([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 0]));
  n.run(() => dataOf(b.serverEvents).length === 4, 5_000);
  assert.deepEqual(dataOf(b.serverEvents).slice(-1), ['b after']);
  assert.equal(n.endpoint.getStats().dropped.not_client_hello, before + 1);
  assert.equal(n.endpoint.size, 3);
});
