/**
 * Server limits and denial-of-service resistance on a virtual clock (DESIGN §2; RFC 6347 §4.2.1, §4.1.2.7): every
 * cap refuses new peers with silence while established connections keep working, per-address caps leave other
 * addresses alone, the refusals are counted by cap, handshake deadlines and idle timeouts free their places at
 * the right virtual time, the bad-record limit closes a connection, and the cookie secret rotates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { MultiSim, closedEvent, dataOf, eventTime, type MultiSimOptions, type Peer } from '../helpers/multisim.js';
import { CLIENT_REMOTE, Sim, makeClientConfig, makeServerConfig, type Packet } from '../helpers/sim.js';
import { testCerts } from '../helpers/certs.js';
import { Connection } from '../../src/core/connection.js';
import { Endpoint, type RefusalReason } from '../../src/core/endpoint.js';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import { ContentType, HandshakeType, ProtocolVersion } from '../../src/msgs/enums.js';
import { decodeClientHello, encodeClientHello } from '../../src/msgs/client-hello.js';
import { decodeHandshakeFragments, encodeHandshakeFragment } from '../../src/msgs/handshake.js';
import { decodeHelloVerifyRequest } from '../../src/msgs/hello-verify-request.js';
import { sealPlaintextRecord } from '../../src/record/protection.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { createServer } from '../../src/api/server.js';
import { connect } from '../../src/api/connect.js';
import { AlertReceivedError, DtlsError } from '../../src/errors.js';

async function net(extra: Partial<MultiSimOptions> = {}): Promise<MultiSim> {
  const certs = await testCerts('ec');
  return new MultiSim({
    ...extra,
    server: { cert: certs.serverCert, key: certs.serverKey, ...extra.server },
    client: { ca: certs.ca, ...extra.client },
  });
}

function established(n: MultiSim, peers: Peer[]): void {
  n.handshake(peers);
  for (const p of peers) {
    assert.ok(p.client.isConnected, `${p.name}: ${p.client.handshakeState} ${p.client.error?.message}`);
    assert.ok(n.server(p)?.isConnected, `${p.name}: server side not connected`);
  }
}

/** Exchanges one message each way and checks both arrived, exactly once. */
function keepsWorking(n: MultiSim, peer: Peer, text: string): void {
  const r = n.exchange(peer, text);
  assert.deepEqual(r.atServer, [`c:${text}`], `${peer.name} to server`);
  assert.deepEqual(r.atClient, [`s:${text}`], `${peer.name} to client`);
}

/** The refused peer heard nothing from the server but stateless HelloVerifyRequests, and holds no server state. */
function gotSilence(n: MultiSim, peer: Peer): void {
  assert.equal(n.server(peer), undefined, `${peer.name} has no server connection`);
  assert.ok(peer.fromServer.length > 0, `${peer.name} got its HelloVerifyRequest`);
  for (const labels of peer.fromServer) assert.deepEqual(labels, ['HelloVerifyRequest'], `${peer.name} got only HelloVerifyRequests`);
  assert.ok(peer.client.isHandshaking, `${peer.name} is still waiting`);
}

function onlyRefusal(n: MultiSim, reason: RefusalReason): void {
  const r = n.endpoint.stats.refused;
  assert.ok(r[reason] >= 1, `refused.${reason} = ${r[reason]}`);
  for (const [k, v] of Object.entries(r)) if (k !== reason) assert.equal(v, 0, `refused.${k}`);
  assert.equal(n.endpoint.stats.dropped.capacity, r[reason], 'dropped.capacity is the sum of the refusals');
}

/** Half-open handshakes: clients that complete the cookie exchange, get a connection, then go silent. */
function halfOpen(n: MultiSim, prefix: string, addresses: string[], port = 2000): Peer[] {
  const peers = addresses.map((a, i) => n.connect(`${prefix}${i}`, a, port + i, { silentOnceAccepted: true }));
  n.run(() => peers.every((p) => p.silent), 5_000);
  for (const p of peers) assert.ok(n.server(p)?.isHandshaking, `${p.name} is half-open`);
  return peers;
}

// ---------------------------------------------------------------------------------------------- caps

test('maxHandshaking: with the half-open table full, a new peer with a valid cookie gets silence, counted as max_handshaking, while an established connection keeps exchanging data', async () => {
  const n = await net({ limits: { maxHandshaking: 3 } });
  const a = n.connect('established', '10.0.0.1', 1000);
  established(n, [a]);
  halfOpen(n, 'half', ['10.0.1.1', '10.0.1.2', '10.0.1.3']);
  assert.equal(n.endpoint.handshaking, 3);
  const late = n.connect('late', '10.0.2.1', 3000);
  n.run(() => n.endpoint.stats.refused.max_handshaking > 0, 5_000);
  for (let i = 0; i < 3; i++) {
    keepsWorking(n, a, `during-${i}`);
    n.runUntil(n.now + 2_000);
  }
  gotSilence(n, late);
  assert.ok(n.endpoint.stats.refused.max_handshaking >= 2, 'its retransmitted ClientHellos are refused too');
  onlyRefusal(n, 'max_handshaking');
  assert.equal(n.endpoint.size, 4);
  assert.equal(n.endpoint.handshaking, 3);
  assert.deepEqual(n.endpoint.getStats().refused.max_handshaking, n.endpoint.stats.refused.max_handshaking);
});

test('maxHandshaking: the handshake deadline of a half-open connection frees its place at exactly handshakeTimeout, and the waiting peer then connects', async () => {
  const n = await net({ limits: { maxHandshaking: 1 }, server: { handshakeTimeout: 4_000 } });
  const [h] = halfOpen(n, 'half', ['10.0.1.1']);
  const createdAt = n.now; // the ClientHello with the cookie arrived (and the connection was made) just now
  const late = n.connect('late', '10.0.2.1', 3000);
  n.run(() => n.endpoint.stats.refused.max_handshaking > 0, 5_000);
  assert.equal(n.server(late), undefined);
  n.run(() => late.client.isConnected || late.client.isClosed, 30_000);
  const closedAt = eventTime(n, h!, 'server', 'closed');
  assert.equal(closedAt, createdAt + 4_000, 'the half-open connection ends at its deadline');
  assert.equal(closedEvent(h!.serverEvents)?.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  assert.equal(n.endpoint.stats.closedWithError['ERR_DTLS_HANDSHAKE_TIMEOUT'], 1);
  assert.ok(late.client.isConnected, `${late.client.error?.message}`);
  const acceptedAt = eventTime(n, late, 'server', 'connected')!;
  assert.ok(acceptedAt > closedAt!, 'the waiting peer got the place only once it was free');
  assert.equal(n.endpoint.get(h!.remote), undefined, 'the timed-out connection is forgotten');
  assert.equal(n.endpoint.handshaking, 0);
  assert.equal(n.endpoint.size, 1);
});

test('maxHandshakingPerAddress: a third half-open handshake from one address is refused (max_handshaking_per_address); other addresses and that address\'s established connection are unaffected', async () => {
  const n = await net({ limits: { maxHandshakingPerAddress: 2 } });
  const a = n.connect('established', '10.0.0.1', 1000);
  established(n, [a]);
  halfOpen(n, 'half', ['10.0.0.1', '10.0.0.1']);
  const third = n.connect('third', '10.0.0.1', 2500);
  n.run(() => n.endpoint.stats.refused.max_handshaking_per_address > 0, 5_000);
  const other = n.connect('other-address', '10.0.0.2', 2000);
  established(n, [other]);
  keepsWorking(n, a, 'same-address');
  keepsWorking(n, other, 'other-address');
  n.runUntil(n.now + 3_000);
  gotSilence(n, third);
  onlyRefusal(n, 'max_handshaking_per_address');
  assert.deepEqual(n.endpoint.countsFor('10.0.0.1'), { connections: 3, handshaking: 2 });
  assert.deepEqual(n.endpoint.countsFor('10.0.0.2'), { connections: 1, handshaking: 0 });
});

test('maxConnections: with the table full a new peer gets silence (max_connections) while both established connections keep working; a close frees the place', async () => {
  const n = await net({ limits: { maxConnections: 2 } });
  const a = n.connect('a', '10.0.0.1', 1000);
  const b = n.connect('b', '10.0.0.2', 1000);
  established(n, [a, b]);
  const c = n.connect('c', '10.0.0.3', 1000);
  n.run(() => n.endpoint.stats.refused.max_connections > 0, 5_000);
  keepsWorking(n, a, 'a1');
  keepsWorking(n, b, 'b1');
  n.runUntil(n.now + 2_500);
  gotSilence(n, c);
  onlyRefusal(n, 'max_connections');
  // b leaves with close_notify: its place is free at once and c's next retransmission gets in.
  b.client.close();
  n.run(() => c.client.isConnected || c.client.isClosed, 20_000);
  assert.ok(closedEvent(b.serverEvents) !== undefined && closedEvent(b.serverEvents)!.error === undefined);
  assert.ok(c.client.isConnected, `${c.client.error?.message}`);
  keepsWorking(n, a, 'a2');
  keepsWorking(n, c, 'c1');
  assert.equal(n.endpoint.size, 2);
});

test('maxConnectionsPerAddress: a third connection from one address is refused (max_connections_per_address); another address still connects and existing connections keep working', async () => {
  const n = await net({ limits: { maxConnectionsPerAddress: 2 } });
  const x1 = n.connect('x1', '10.0.0.1', 1001);
  const x2 = n.connect('x2', '10.0.0.1', 1002);
  established(n, [x1, x2]);
  const x3 = n.connect('x3', '10.0.0.1', 1003);
  n.run(() => n.endpoint.stats.refused.max_connections_per_address > 0, 5_000);
  const y = n.connect('y', '10.0.0.2', 1001);
  established(n, [y]);
  keepsWorking(n, x1, 'x1');
  keepsWorking(n, x2, 'x2');
  keepsWorking(n, y, 'y');
  n.runUntil(n.now + 2_500);
  gotSilence(n, x3);
  onlyRefusal(n, 'max_connections_per_address');
});

test('a client restarting on its own address:port at the per-address cap replaces its connection instead of being refused', async () => {
  const n = await net({ limits: { maxConnectionsPerAddress: 1, maxHandshakingPerAddress: 1 } });
  const a = n.connect('a', '10.0.0.1', 1000);
  established(n, [a]);
  const old = n.server(a)!;
  const again = n.connect('a-restarted', '10.0.0.1', 1000);
  n.handshake([again], 10_000);
  assert.ok(again.client.isConnected);
  assert.notEqual(n.server(again), old);
  assert.equal(closedEvent(a.serverEvents)?.error?.code, 'ERR_DTLS_PEER_RESTARTED');
  assert.deepEqual(n.endpoint.countsFor('10.0.0.1'), { connections: 1, handshaking: 0 });
  assert.equal(n.endpoint.stats.dropped.capacity, 0);
});

test('the handshaking and per-address counts stay exact (equal to a full recount) through completions, silent peers, deadlines, restarts and closes', async () => {
  const n = await net({ server: { handshakeTimeout: 3_000 }, client: { handshakeTimeout: 3_000 } });
  let seed = 12345;
  const rnd = (k: number): number => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * k | 0;
  };
  const recount = (): void => {
    const open = n.openServers.filter((c) => [...n.endpoint.connectionsList()].some(([, x]) => x === c));
    assert.equal(n.endpoint.size, open.length, 'every open connection is in the table, no closed one is');
    assert.equal(n.endpoint.handshaking, open.filter((c) => c.isHandshaking).length);
    const perAddress = new Map<string, { connections: number; handshaking: number }>();
    for (const [key, c] of n.endpoint.connectionsList()) {
      const address = key.split('|')[0]!;
      const e = perAddress.get(address) ?? { connections: 0, handshaking: 0 };
      e.connections++;
      if (c.isHandshaking) e.handshaking++;
      perAddress.set(address, e);
    }
    for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
      assert.deepEqual(n.endpoint.countsFor(address), perAddress.get(address) ?? { connections: 0, handshaking: 0 }, address);
    }
  };
  for (let step = 0; step < 80; step++) {
    const address = `10.0.0.${1 + rnd(3)}`;
    const port = 1000 + rnd(4); // few ports: restarts on the same address:port happen
    const action = rnd(4);
    if (action === 0) n.connect(`s${step}`, address, port, { silentOnceAccepted: true });
    else if (action === 1) n.connect(`c${step}`, address, port);
    else if (action === 2) {
      const live = n.peers.filter((p) => p.client.isConnected);
      if (live.length > 0) live[rnd(live.length)]!.client.close();
    } else {
      const open = n.openServers;
      if (open.length > 0) open[rnd(open.length)]!.close();
    }
    n.runUntil(n.now + rnd(2_000));
    recount();
  }
  n.runUntil(n.now + 10_000);
  recount();
  assert.equal(n.endpoint.handshaking, 0, 'every half-open handshake ended at its deadline');
  assert.ok(n.endpoint.stats.handshakesCompleted > 0);
  assert.ok((n.endpoint.stats.closedWithError['ERR_DTLS_HANDSHAKE_TIMEOUT'] ?? 0) > 0);
  assert.ok((n.endpoint.stats.closedWithError['ERR_DTLS_PEER_RESTARTED'] ?? 0) > 0);
});

test('RFC 6347 §4.2.8 a hello spoofed from a handshaking client\'s address costs it nothing: the client answers the HelloVerifyRequest it provoked with its own hello at a later message_seq, which restarts the handshake', async () => {
  const certs = await testCerts('ec');
  let dropped = false;
  const sim = new Sim({
    client: { ca: certs.ca },
    server: { cert: certs.serverCert, key: certs.serverKey },
    // Flight 4 is lost once, so the client is still waiting for the ServerHello when the spoofed hello arrives.
    filter: (p: Packet) => (!dropped && p.from === 'server' && p.labels.includes('ServerHello') ? ((dropped = true), 'drop') : 'deliver'),
  });
  sim.start();
  sim.run(() => sim.server !== undefined);
  const halfOpen = sim.server!;
  const ch = sim.sent.filter((p) => p.from === 'client' && p.labels.includes('ClientHello')).at(-1)!;
  const f = decodeHandshakeFragments(splitDatagram(ch.data).records[0]!.fragment)[0]!;
  const hello = decodeClientHello(f.body);
  const spoofed = encodeClientHello({ ...hello, random: hello.random.map((x, i) => (i === 0 ? x ^ 1 : x)), cookie: new Uint8Array(0) });
  sim.inject('server', sealPlaintextRecord(ContentType.handshake, ProtocolVersion.DTLS1_2, 0, 7, encodeHandshakeFragment(HandshakeType.client_hello, spoofed.length, 1, 0, spoofed)));
  sim.run(() => sim.bothConnected || sim.client.isClosed, 30_000);
  assert.ok(sim.bothConnected, `${sim.client.error?.message}\n${sim.trace()}`);
  assert.notEqual(sim.server, halfOpen, 'the half-open connection was restarted by the client\'s later hello');
  assert.equal(halfOpen.error?.code, 'ERR_DTLS_PEER_RESTARTED');
  assert.equal(sim.endpoint.stats.connectionsAccepted, 2);
  assert.equal(sim.endpoint.size, 1);
  assert.equal(sim.endpoint.handshaking, 0);
  // A late copy of the first hello with the cookie (the same message_seq) does not restart the established connection.
  const established = sim.server!;
  sim.inject('server', ch.data);
  sim.settle();
  assert.equal(sim.endpoint.get(CLIENT_REMOTE), established);
  assert.ok(sim.bothConnected);
});

// ---------------------------------------------------------------------------------------------- idle timeout

test('idleTimeout (server): an established connection with nothing received for idleTimeout closes at exactly that virtual time with ERR_DTLS_IDLE_TIMEOUT and close_notify; its place is freed', async () => {
  const n = await net({ server: { idleTimeout: 10_000 } });
  const a = n.connect('a', '10.0.0.1', 1000);
  established(n, [a]);
  // The server's last authenticated record from the client: its Finished, or data right after.
  a.client.send(Buffer.from('last words'));
  n.run(() => dataOf(a.serverEvents).length === 1);
  const lastReceived = n.now;
  n.run(() => n.server(a) === undefined, 30_000);
  assert.equal(eventTime(n, a, 'server', 'closed'), lastReceived + 10_000);
  assert.equal(closedEvent(a.serverEvents)?.error?.code, 'ERR_DTLS_IDLE_TIMEOUT');
  n.run(() => a.client.isClosed, 1_000);
  // The client got close_notify: an orderly close on its side.
  assert.ok(a.client.isClosed);
  assert.equal(closedEvent(a.events)?.error, undefined);
  assert.equal(n.endpoint.size, 0);
  assert.equal(n.endpoint.stats.closedWithError['ERR_DTLS_IDLE_TIMEOUT'], 1);
});

test('idleTimeout: every authenticated record received resets it (traffic every 6 s keeps a 10 s timeout from firing); sending alone does not', async () => {
  const n = await net({ server: { idleTimeout: 10_000 } });
  const a = n.connect('a', '10.0.0.1', 1000);
  established(n, [a]);
  const server = n.server(a)!;
  let last = 0;
  for (let i = 0; i < 5; i++) {
    n.runUntil(n.now + 6_000);
    assert.ok(server.isConnected, `still open after ${i + 1} × 6 s`);
    a.client.send(Buffer.from(`keepalive ${i}`));
    n.run(() => dataOf(a.serverEvents).length === i + 1);
    last = n.now;
  }
  // Now only the server sends: the timeout still fires 10 s after the last record it received.
  for (let i = 0; i < 4; i++) {
    n.runUntil(last + 2_000 * (i + 1));
    if (server.isConnected) server.send(Buffer.from(`push ${i}`));
  }
  n.run(() => server.isClosed, 20_000);
  assert.equal(eventTime(n, a, 'server', 'closed'), last + 10_000);
  assert.equal(server.error?.code, 'ERR_DTLS_IDLE_TIMEOUT');
  assert.deepEqual(dataOf(a.events), ['push 0', 'push 1', 'push 2', 'push 3']);
});

test('idleTimeout: unauthenticated (epoch-0) records, such as a replayed copy of the client\'s flight, do not count as activity', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim({ client: { ca: certs.ca }, server: { cert: certs.serverCert, key: certs.serverKey, idleTimeout: 10_000 } });
  sim.handshake();
  assert.ok(sim.bothConnected, sim.trace());
  const connectedAt = sim.eventTime('server', 'connected')!;
  const flight5 = sim.packets('client', (ls) => ls.includes('ClientKeyExchange'))[0]!;
  for (const at of [3_000, 6_000, 9_000]) {
    sim.run(() => false, connectedAt + at - sim.now);
    sim.now = connectedAt + at;
    sim.inject('server', flight5.data);
  }
  sim.run(() => sim.server!.isClosed, 20_000);
  assert.ok(sim.server!.stats.discarded.replay > 0, 'the copy reached the server');
  assert.equal(sim.eventTime('server', 'closed'), connectedAt + 10_000);
  assert.equal(sim.server!.error?.code, 'ERR_DTLS_IDLE_TIMEOUT');
});

test('idleTimeout (client): the client closes with ERR_DTLS_IDLE_TIMEOUT at the right time; a server without one sees close_notify', async () => {
  const n = await net({ client: { idleTimeout: 5_000 } });
  const a = n.connect('a', '10.0.0.1', 1000);
  established(n, [a]);
  const connectedAt = eventTime(n, a, 'client', 'connected')!;
  n.run(() => a.client.isClosed, 20_000);
  assert.equal(eventTime(n, a, 'client', 'closed'), connectedAt + 5_000);
  assert.equal(a.client.error?.code, 'ERR_DTLS_IDLE_TIMEOUT');
  n.run(() => n.server(a) === undefined, 1_000);
  assert.equal(closedEvent(a.serverEvents)?.error, undefined, 'orderly close on the server');
});

test('idleTimeout 0 (the default): a connection idle for 10 minutes stays open', async () => {
  const n = await net();
  const a = n.connect('a', '10.0.0.1', 1000);
  established(n, [a]);
  n.runUntil(n.now + 600_000);
  assert.ok(a.client.isConnected && n.server(a)?.isConnected);
  keepsWorking(n, a, 'after ten minutes');
});

// ---------------------------------------------------------------------------------------------- bad records

/** An application_data record of epoch 1 with a fresh sequence number and bytes that cannot authenticate. */
function forgedRecord(seq: number, length = 40): Uint8Array {
  const body = new Uint8Array(length).map((_, i) => (i * 31 + seq) & 0xff);
  return sealPlaintextRecord(ContentType.application_data, ProtocolVersion.DTLS1_2, 1, seq, body);
}

test('maxBadRecords: the Nth record failing authentication closes the connection with ERR_DTLS_TOO_MANY_BAD_RECORDS and a fatal bad_record_mac alert; fewer are discarded silently', async () => {
  const n = await net({ server: { maxBadRecords: 3 } });
  const a = n.connect('a', '10.0.0.1', 1000);
  established(n, [a]);
  n.inject(a, forgedRecord(1000));
  n.inject(a, forgedRecord(1001));
  n.run(() => n.server(a)!.stats.discarded.bad_mac === 2, 1_000);
  keepsWorking(n, a, 'two forged records are only counted');
  const server = n.server(a)!;
  n.inject(a, forgedRecord(1002));
  n.run(() => server.isClosed && a.client.isClosed, 1_000);
  assert.equal(server.stats.discarded.bad_mac, 3);
  assert.equal(server.error?.code, 'ERR_DTLS_TOO_MANY_BAD_RECORDS');
  assert.equal(server.error?.alert, 20);
  const clientError = a.client.error;
  assert.ok(clientError instanceof AlertReceivedError, `${clientError?.message}`);
  assert.equal(clientError.receivedAlert, 20, 'the client was told bad_record_mac');
  assert.equal(n.endpoint.size, 0);
  assert.equal(n.endpoint.stats.closedWithError['ERR_DTLS_TOO_MANY_BAD_RECORDS'], 1);
});

test('maxBadRecords 0 (the default): 1000 records failing authentication are discarded and counted, the connection stays up', async () => {
  const n = await net();
  const a = n.connect('a', '10.0.0.1', 1000);
  established(n, [a]);
  for (let i = 0; i < 1000; i++) n.inject(a, forgedRecord(5000 + i, 16 + (i % 64)));
  n.run(() => n.server(a)!.stats.discarded.bad_mac === 1000, 5_000);
  assert.equal(n.server(a)!.stats.discarded.bad_mac, 1000);
  keepsWorking(n, a, 'unharmed');
  assert.deepEqual(dataOf(a.serverEvents), ['c:unharmed'], 'nothing forged was delivered');
});

// ---------------------------------------------------------------------------------------------- cookies

function helloRecord(c: Connection): { datagram: Uint8Array } {
  return { datagram: c.pollTransmit()! };
}

function withCookie(datagram: Uint8Array, cookie: Uint8Array): Uint8Array {
  const rec = splitDatagram(datagram).records[0]!;
  const f = decodeHandshakeFragments(rec.fragment)[0]!;
  const body = encodeClientHello({ ...decodeClientHello(f.body), cookie });
  return sealPlaintextRecord(ContentType.handshake, ProtocolVersion.DTLS1_2, 0, 1, encodeHandshakeFragment(HandshakeType.client_hello, body.length, 1, 0, body));
}

function cookieOf(hvr: Uint8Array): Uint8Array {
  const f = decodeHandshakeFragments(splitDatagram(hvr).records[0]!.fragment)[0]!;
  return decodeHelloVerifyRequest(f.body).cookie;
}

test('cookie secret rotation: a cookie made just before the secret rotates is accepted in the next period, and refused two periods later', async () => {
  const certs = await testCerts('ec');
  const serverConfig = makeServerConfig({ cert: certs.serverCert, key: certs.serverKey });
  const endpoint = new Endpoint(() => serverConfig, serverConfig.crypto, { cookieLifetimeMs: 10_000 });
  const client = (): Connection => new Connection(makeClientConfig({ ca: certs.ca }));
  // The secret's period starts with its first use, at t = 0.
  const first = client();
  first.connect(0);
  assert.equal(endpoint.handleDatagram(0, helloRecord(first).datagram, { address: '10.0.0.9', port: 9 }).kind, 'reply');

  const cookieAt = (now: number, remote: { address: string; port: number }): { hello: Uint8Array; cookie: Uint8Array } => {
    const c = client();
    c.connect(now);
    const hello = helloRecord(c).datagram;
    const r = endpoint.handleDatagram(now, hello, remote);
    assert.ok(r.kind === 'reply');
    return { hello, cookie: cookieOf(r.datagram) };
  };
  const p = { address: '10.0.0.1', port: 1000 };
  const q = { address: '10.0.0.2', port: 1000 };
  const fromP = cookieAt(9_900, p);
  const fromQ = cookieAt(9_900, q);
  // t = 10.5 s: the secret has rotated (first use after 10 s); the cookie made with the previous one is accepted.
  const r1 = endpoint.handleDatagram(10_500, withCookie(fromP.hello, fromP.cookie), p);
  assert.equal(r1.kind, 'connection', 'accepted one period later');
  // t = 20.5 s: rotated twice: the cookie is refused (a new HelloVerifyRequest, no state).
  const r2 = endpoint.handleDatagram(20_500, withCookie(fromQ.hello, fromQ.cookie), q);
  assert.equal(r2.kind, 'reply', 'refused two periods later');
  assert.equal(endpoint.get(q), undefined);
  assert.equal(endpoint.stats.dropped.bad_cookie, 1);
});

test('cookie secret rotation: a MAC made with a secret two rotations old is refused even with a fresh timestamp; one rotation old is accepted', async () => {
  // White-box: capture the secrets the cookie jar draws, forge cookies with them (the format of src/handshake/cookie.ts).
  const base = new NodeCryptoProvider();
  const secrets: Uint8Array[] = [];
  const crypto = new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'randomBytes') {
        return (len: number): Uint8Array => {
          const b = target.randomBytes(len);
          if (len === 32) secrets.push(b);
          return b;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const certs = await testCerts('ec');
  const serverConfig = makeServerConfig({ cert: certs.serverCert, key: certs.serverKey });
  const endpoint = new Endpoint(() => serverConfig, crypto, { cookieLifetimeMs: 10_000 });
  const c = new Connection(makeClientConfig({ ca: certs.ca }));
  c.connect(0);
  const hello = helloRecord(c).datagram;
  const remote = { address: '10.0.0.1', port: 1000 };
  const h = decodeClientHello(decodeHandshakeFragments(splitDatagram(hello).records[0]!.fragment)[0]!.body);
  const forge = (secret: Uint8Array, now: number): Uint8Array => {
    const seconds = Math.floor(now / 1000);
    const peer = Buffer.from(`${remote.address}:${remote.port}`);
    const ts = Buffer.alloc(4);
    ts.writeUInt32BE(seconds);
    const ver = Buffer.alloc(2);
    ver.writeUInt16BE(h.clientVersion);
    const mac = createHmac('sha256', secret)
      .update(Buffer.concat([ts, Buffer.from([peer.length]), peer, ver, h.random, Buffer.from([h.sessionId.length]), h.sessionId]))
      .digest()
      .subarray(0, 16);
    return Buffer.concat([ts, mac]);
  };
  // Three secrets: at t = 0, rotated at 10 s and at 20 s.
  for (const t of [0, 10_000, 20_000]) endpoint.handleDatagram(t, hello, { address: '10.0.0.8', port: 8 });
  assert.equal(secrets.length, 3, 'the jar drew a new secret at each rotation');
  const now = 20_500;
  const [s0, s1, s2] = secrets as [Uint8Array, Uint8Array, Uint8Array];
  assert.equal(endpoint.handleDatagram(now, withCookie(hello, forge(s0, now)), remote).kind, 'reply', 'two rotations old: refused');
  assert.equal(endpoint.get(remote), undefined);
  assert.equal(endpoint.handleDatagram(now, withCookie(hello, forge(s1, now)), remote).kind, 'connection', 'previous secret: accepted');
  assert.equal(endpoint.stats.dropped.bad_cookie, 1);
  // (s2, the current secret, is what the endpoint itself issues now.)
  assert.equal(endpoint.handleDatagram(now, withCookie(hello, forge(s2, now)), { address: '10.0.0.1', port: 1000 }).kind, 'connection');
});

test('a flood of 10,000 cookie-less ClientHellos from distinct ports keeps no state, and no reply is larger than its request', async () => {
  const certs = await testCerts('ec');
  const serverConfig = makeServerConfig({ cert: certs.serverCert, key: certs.serverKey });
  const endpoint = new Endpoint(() => serverConfig, serverConfig.crypto, { maxHandshaking: 10 });
  const c = new Connection(makeClientConfig({ ca: certs.ca }));
  c.connect(0);
  const hello = helloRecord(c).datagram;
  let inBytes = 0;
  let outBytes = 0;
  for (let i = 0; i < 10_000; i++) {
    const r = endpoint.handleDatagram(i / 10, hello, { address: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 1024 + i });
    assert.ok(r.kind === 'reply');
    assert.ok(r.datagram.length <= hello.length);
    inBytes += hello.length;
    outBytes += r.datagram.length;
  }
  assert.equal(endpoint.size, 0);
  assert.equal(endpoint.handshaking, 0);
  assert.equal(endpoint.getStats().addresses, 0);
  assert.equal(endpoint.stats.helloVerifyRequestsSent, 10_000);
  assert.ok(outBytes < inBytes);
});

// ---------------------------------------------------------------------------------------------- buffers

test('maxDeferredRecords: application data racing ahead of the server\'s Finished is held by default, and dropped and counted when the option is 0', async () => {
  const certs = await testCerts('ec');
  for (const maxDeferredRecords of [undefined, 0]) {
    let serverSent = false;
    const sim = new Sim({
      client: { ca: certs.ca, ...(maxDeferredRecords !== undefined ? { maxDeferredRecords } : {}) },
      server: { cert: certs.serverCert, key: certs.serverKey },
      // The server's final flight (ChangeCipherSpec, Finished) arrives 50 ms late; its first message does not.
      filter: (p: Packet) => (p.from === 'server' && p.labels.includes('ChangeCipherSpec') ? { delay: 50 } : 'deliver'),
    });
    sim.start();
    sim.run(() => {
      if (!serverSent && sim.server?.isConnected) {
        serverSent = true;
        sim.server.send(Buffer.from('early'));
        sim.drain();
      }
      return sim.client.isConnected || sim.client.isClosed;
    }, 10_000);
    sim.settle(200);
    assert.ok(sim.client.isConnected, sim.trace());
    if (maxDeferredRecords === undefined) {
      assert.deepEqual(sim.received('client'), ['early'], 'held until the handshake completed, then delivered');
      assert.equal(sim.client.stats.discarded.deferred_overflow, 0);
    } else {
      assert.deepEqual(sim.received('client'), [], 'not held: the application resends');
      assert.equal(sim.client.stats.discarded.deferred_overflow, 1);
    }
  }
});

test('maxHandshakeMessageSize: a fragmented ClientHello claiming more than the limit is never answered; under the default it connects', async () => {
  const certs = await testCerts('ec');
  const alpn = Array.from({ length: 40 }, (_, i) => `protocol-${String(i).padStart(2, '0')}-${'x'.repeat(18)}`);
  for (const limit of [1024, undefined]) {
    const sim = new Sim({
      client: { ca: certs.ca, mtu: 256, ALPNProtocols: alpn, handshakeTimeout: 3_000 },
      server: { cert: certs.serverCert, key: certs.serverKey, mtu: 256, ...(limit !== undefined ? { maxHandshakeMessageSize: limit } : {}) },
    });
    sim.handshake(10_000);
    if (limit === undefined) assert.ok(sim.bothConnected, sim.trace());
    else {
      assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
      assert.equal(sim.packets('server', (ls) => ls.includes('ServerHello')).length, 0);
    }
  }
});

// ---------------------------------------------------------------------------------------------- options

test('server limit options are validated up front and reach the endpoint; getStats() reports them', async () => {
  const certs = await testCerts('ec');
  const base = { cert: certs.serverCert, key: certs.serverKey };
  for (const [name, value] of [
    ['maxHandshakingPerAddress', 0],
    ['maxHandshaking', 1.5],
    ['maxConnections', -1],
    ['maxConnectionsPerAddress', '3'],
    ['idleTimeout', -1],
    ['maxBadRecords', -1],
    ['maxDeferredRecords', 5000],
    ['maxHandshakeMessageSize', 100],
  ] as const) {
    assert.throws(() => createServer({ ...base, [name]: value }), (e: DtlsError) => e.code === 'ERR_DTLS_INVALID_OPTION' && e.message.includes(name), name);
  }
  assert.throws(
    () => createServer({ ...base, maxHandshakeMessageSize: 100_000, maxHandshakeBufferSize: 90_000 }),
    (e: DtlsError) => e.code === 'ERR_DTLS_INVALID_OPTION' && e.message.includes('maxHandshakeBufferSize'),
  );
  assert.throws(() => connect({ port: 1, idleTimeout: -5 }), (e: DtlsError) => e.code === 'ERR_DTLS_INVALID_OPTION');
  const server = createServer({ ...base, maxConnections: 7, maxConnectionsPerAddress: 5, maxHandshaking: 4, maxHandshakingPerAddress: 3, idleTimeout: 1234 });
  assert.deepEqual(
    { ...server.endpoint.limits },
    { maxConnections: 7, maxConnectionsPerAddress: 5, maxHandshaking: 4, maxHandshakingPerAddress: 3, cookieLifetimeMs: 60_000, cookies: true },
  );
  const defaults = createServer(base).endpoint.limits;
  assert.equal(defaults.maxHandshakingPerAddress, 100);
  assert.equal(defaults.maxHandshaking, 10_000);
  const stats = server.getStats();
  assert.equal(stats.connections, 0);
  assert.deepEqual(stats.refused, { max_handshaking_per_address: 0, max_connections_per_address: 0, max_handshaking: 0, max_connections: 0 });
  assert.equal(JSON.parse(JSON.stringify(stats)).handshaking, 0);
});
