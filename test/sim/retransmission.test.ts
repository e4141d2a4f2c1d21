/**
 * RFC 6347 §4.2.4 (timeout and retransmission) and §4.2.3 (fragmentation): named loss, duplication, reordering
 * and MTU tests on the virtual clock. One-way latency is 5 ms, so a lossless handshake sends flights 1-6 at
 * 0, 5, 10, 15, 20 and 25 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, dropFlight, flightOf, flightTimes, gaps, type Packet, type SimOptions, type Verdict } from '../helpers/sim.js';
import { testCerts, type CertSet } from '../helpers/certs.js';
import type { DtlsError } from '../../src/errors.js';

function opts(certs: CertSet, extra: Partial<SimOptions> = {}): SimOptions {
  return {
    ...extra,
    client: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, ...extra.client },
    server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requestCert: true, ...extra.server },
  };
}

/** Sends one message each way and checks each arrives exactly once. */
function exchange(sim: Sim, tag: string): void {
  const before = { client: sim.received('client').length, server: sim.received('server').length };
  sim.client.send(Buffer.from(`c:${tag}`));
  sim.server!.send(Buffer.from(`s:${tag}`));
  sim.settle();
  assert.deepEqual(sim.received('server').slice(before.server), [`c:${tag}`]);
  assert.deepEqual(sim.received('client').slice(before.client), [`s:${tag}`]);
}

function connected(sim: Sim): void {
  assert.ok(sim.client.isConnected, `client ${sim.client.handshakeState} ${sim.client.error?.message}\n${sim.trace()}`);
  assert.ok(sim.server?.isConnected, `server ${sim.server?.handshakeState} ${sim.server?.error?.message}\n${sim.trace()}`);
}

test('RFC 6347 §4.2.4 flight 2 lost: HelloVerifyRequest dropped, the client retransmits the ClientHello after exactly 1000 ms', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: dropFlight(2) }));
  sim.start();
  sim.run(() => sim.now >= 999);
  assert.equal(sim.endpoint.size, 0, 'the server keeps no state for a peer before its cookie checks out');
  sim.run(() => sim.bothConnected);
  connected(sim);
  assert.deepEqual(flightTimes(sim, 1), [0, 1000], sim.trace());
  assert.deepEqual(flightTimes(sim, 2), [5, 1005]);
  assert.deepEqual(flightTimes(sim, 3), [1010]);
  // The retransmitted ClientHello is the same message (same random, no cookie) in a new record.
  const [first, again] = sim.packets('client').filter((p) => flightOf(p) === 1);
  assert.deepEqual(first!.data.subarray(13), again!.data.subarray(13));
  assert.notDeepEqual(first!.data.subarray(5, 11), again!.data.subarray(5, 11), 'a retransmission gets a new record sequence number');
  assert.equal(sim.eventTime('client', 'connected'), 1030);
  assert.equal(sim.client.stats.retransmissions, 1);
  assert.equal(sim.server!.stats.retransmissions, 0);
  exchange(sim, 'after-hvr-loss');
});

test('RFC 6347 §4.2.4 flight 4 lost once: client retransmits ClientHello at +1000 ms, server resends flight 4 once', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: dropFlight(4) }));
  sim.handshake();
  connected(sim);
  assert.deepEqual(flightTimes(sim, 3), [10, 1010], sim.trace());
  // The server's own timer (15 + 1000) and the client's retransmission (arriving at 1015) coincide: one resend.
  assert.deepEqual(flightTimes(sim, 4), [15, 1015], sim.trace());
  assert.equal(sim.packets('server').filter((p) => p.labels.includes('ServerHello')).length, 2, sim.trace());
  assert.deepEqual(flightTimes(sim, 5), [1020]);
  assert.deepEqual(flightTimes(sim, 6), [1025]);
  assert.equal(sim.eventTime('client', 'connected'), 1030);
  assert.equal(sim.server!.stats.retransmissions, 1);
  assert.equal(sim.client.stats.retransmissions, 1);
  assert.equal(sim.endpoint.stats.connectionsAccepted, 1);
  exchange(sim, 'after-flight4-loss');
});

test('RFC 6347 §4.2.4 flight 5 lost once: the server retransmits flight 4 at +1000 ms and the client answers with flight 5 once', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: dropFlight(5) }));
  sim.handshake();
  connected(sim);
  // Flight 4 was sent at 15; its timer fires at 1015 and the resent flight 4 reaches the client at 1020, just
  // when the client's own timer for flight 5 (20 + 1000) fires: flight 5 goes out once.
  assert.deepEqual(flightTimes(sim, 4), [15, 1015], sim.trace());
  assert.deepEqual(flightTimes(sim, 5), [20, 1020], sim.trace());
  assert.equal(sim.packets('client').filter((p) => p.labels.includes('ClientKeyExchange')).length, 2, sim.trace());
  assert.deepEqual(flightTimes(sim, 6), [1025]);
  assert.equal(sim.eventTime('server', 'connected'), 1025);
  assert.equal(sim.eventTime('client', 'connected'), 1030);
  exchange(sim, 'after-flight5-loss');
});

test('RFC 6347 §4.2.4 flight 6 lost once: the client retransmits flight 5 and the server resends its final ChangeCipherSpec+Finished', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: dropFlight(6) }));
  sim.handshake();
  connected(sim);
  assert.equal(sim.eventTime('server', 'connected'), 25);
  assert.deepEqual(flightTimes(sim, 5), [20, 1020], sim.trace());
  assert.deepEqual(flightTimes(sim, 6), [25, 1025], sim.trace());
  assert.equal(sim.eventTime('client', 'connected'), 1030);
  assert.equal(sim.client.stats.retransmissions, 1);
  assert.equal(sim.server!.stats.retransmissions, 1);
  assert.equal(sim.server!.stats.discarded.bad_mac, 0);
  exchange(sim, 'after-flight6-loss');
});

test('RFC 6347 §4.2.4 flight 6 lost but the server\'s first application data arrives: it waits for the Finished and is delivered once', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: dropFlight(6) }));
  sim.start();
  sim.run(() => sim.server?.isConnected === true);
  assert.equal(sim.now, 25);
  sim.server!.send(Buffer.from('early bird'));
  sim.run(() => sim.client.isConnected);
  assert.equal(sim.eventTime('client', 'connected'), 1030);
  sim.settle();
  assert.deepEqual(sim.received('client'), ['early bird']);
  // The data event comes after the connected event.
  const kinds = sim.clientEvents.map((e) => e.type);
  assert.deepEqual(kinds, ['connected', 'data']);
  exchange(sim, 'after-early-data');
});

test('RFC 6347 §4.2.3 one datagram of a fragmented flight 4 lost: the server retransmits the whole flight at +1000 ms', async () => {
  const certs = await testCerts('ec');
  let dropped: Packet | undefined;
  const filter = (p: Packet): Verdict => {
    if (dropped === undefined && flightOf(p) === 4 && !p.labels.includes('ServerHello')) {
      dropped = p;
      return 'drop';
    }
    return 'deliver';
  };
  const sim = new Sim(opts(certs, { filter, client: { mtu: 300 }, server: { mtu: 300 } }));
  sim.handshake();
  connected(sim);
  assert.ok(dropped, sim.trace());
  assert.deepEqual(flightTimes(sim, 4), [15, 1015], sim.trace());
  assert.deepEqual(flightTimes(sim, 5), [1020]);
  assert.equal(sim.eventTime('client', 'connected'), 1030);
  assert.equal(sim.server!.stats.retransmissions, 1);
  exchange(sim, 'after-partial-loss');
});

test('RFC 6347 §4.2.4.1 backoff: HelloVerifyRequest dropped three times, ClientHello gaps 1000, 2000, 4000 ms', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: dropFlight(2, 3) }));
  sim.handshake();
  connected(sim);
  assert.deepEqual(flightTimes(sim, 1), [0, 1000, 3000, 7000], sim.trace());
  assert.deepEqual(gaps(flightTimes(sim, 1)), [1000, 2000, 4000]);
  assert.deepEqual(flightTimes(sim, 3), [7010]);
  assert.equal(sim.eventTime('client', 'connected'), 7030);
  assert.equal(sim.client.stats.retransmissions, 3);
});

test('RFC 6347 §4.2.4.1 backoff: final flight dropped three times, flight 5 gaps 1000, 2000, 4000 ms', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: dropFlight(6, 3) }));
  sim.handshake();
  connected(sim);
  assert.deepEqual(flightTimes(sim, 5), [20, 1020, 3020, 7020], sim.trace());
  assert.deepEqual(gaps(flightTimes(sim, 5)), [1000, 2000, 4000]);
  assert.deepEqual(flightTimes(sim, 6), [25, 1025, 3025, 7025]);
  assert.equal(sim.eventTime('client', 'connected'), 7030);
  exchange(sim, 'after-backoff');
});

test('RFC 6347 §4.2.4.1 backoff: flight 4 dropped three times, both sides back off 1000, 2000, 4000 ms', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: dropFlight(4, 3) }));
  sim.handshake();
  connected(sim);
  assert.deepEqual(flightTimes(sim, 3), [10, 1010, 3010, 7010], sim.trace());
  // The server's timer and the client's retransmissions coincide each time: one flight 4 per round, not two.
  assert.deepEqual(flightTimes(sim, 4), [15, 1015, 3015, 7015], sim.trace());
  assert.equal(sim.packets('server').filter((p) => p.labels.includes('ServerHello')).length, 4, sim.trace());
  assert.deepEqual(gaps(flightTimes(sim, 4)), [1000, 2000, 4000]);
  assert.equal(sim.server!.stats.retransmissions, 3);
  assert.equal(sim.eventTime('client', 'connected'), 7030);
  exchange(sim, 'after-flight4-backoff');
});

test('RFC 6347 §4.2.4.1 the timer resets on progress: after two lost HelloVerifyRequests, flight 5 is retransmitted after 1000 ms', async () => {
  const certs = await testCerts('ec');
  const drop2 = dropFlight(2, 2);
  const drop6 = dropFlight(6, 1);
  const sim = new Sim(opts(certs, { filter: (p) => (drop2(p) === 'drop' || drop6(p) === 'drop' ? 'drop' : 'deliver') }));
  sim.handshake();
  connected(sim);
  assert.deepEqual(flightTimes(sim, 1), [0, 1000, 3000], sim.trace());
  assert.deepEqual(flightTimes(sim, 5), [3020, 4020], sim.trace());
  assert.equal(sim.eventTime('client', 'connected'), 4030);
});

test('RFC 6347 §4.2.3 reordered fragments: the datagrams of a fragmented flight 4 arrive in reverse order, no retransmission needed', async () => {
  const certs = await testCerts('ec');
  // The first transmission of flight 4 is delayed so that its datagrams arrive last-first: the first datagram
  // (ServerHello) by 10 ms, the second by 9 ms, and so on.
  const delayed: { p: Packet; delay: number }[] = [];
  const filter = (p: Packet): Verdict => {
    if (flightOf(p) === 4 && p.at === 15) {
      const delay = 10 - delayed.length;
      delayed.push({ p, delay });
      return { delay };
    }
    return 'deliver';
  };
  const sim = new Sim(opts(certs, { filter, client: { mtu: 300 }, server: { mtu: 300 } }));
  sim.handshake();
  connected(sim);
  assert.ok(delayed.length >= 3, sim.trace());
  assert.ok(delayed[0]!.p.labels.includes('ServerHello'));
  const certFragments = delayed.filter((d) => d.p.labels.some((l) => l.startsWith('Certificate[')));
  assert.ok(certFragments.length >= 2, 'the Certificate is split over several datagrams');
  assert.ok(certFragments[0]!.p.labels.some((l) => l.startsWith('Certificate[0+')), 'the first Certificate fragment arrives after the later ones');
  assert.equal(sim.client.stats.retransmissions, 0);
  assert.equal(sim.server!.stats.retransmissions, 0);
  assert.deepEqual(flightTimes(sim, 4), [15]);
  // The last datagram to arrive is the first one sent (ServerHello), at 15 + 5 + 10 = 30.
  assert.deepEqual(flightTimes(sim, 5), [30]);
  assert.equal(sim.eventTime('client', 'connected'), 40);
  exchange(sim, 'after-reorder');
});

test('RFC 6347 §4.1.2.6 every datagram duplicated: one connection, no retransmission, data delivered exactly once', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: () => 'duplicate' }));
  sim.handshake();
  connected(sim);
  assert.equal(sim.endpoint.stats.connectionsAccepted, 1);
  assert.equal(sim.endpoint.size, 1);
  assert.equal(sim.client.stats.retransmissions, 0);
  assert.equal(sim.server!.stats.retransmissions, 0);
  assert.equal(sim.clientEvents.filter((e) => e.type === 'connected').length, 1);
  assert.equal(sim.serverEvents.filter((e) => e.type === 'connected').length, 1);
  for (let i = 0; i < 5; i++) exchange(sim, `dup${i}`);
  assert.deepEqual(sim.received('server'), ['c:dup0', 'c:dup1', 'c:dup2', 'c:dup3', 'c:dup4']);
  assert.ok(sim.client.stats.discarded.replay >= 5);
  assert.ok(sim.server!.stats.discarded.replay >= 5);
  assert.ok(sim.bothConnected);
});

for (const kind of ['ec', 'rsa'] as const) {
  test(`RFC 6347 §4.2.3 MTU 256 (${kind} certificates): handshake messages are fragmented and no datagram exceeds 256 bytes`, async () => {
    const certs = await testCerts(kind);
    const sim = new Sim(opts(certs, { client: { mtu: 256 }, server: { mtu: 256 } }));
    sim.handshake();
    connected(sim);
    const big = sim.sent.filter((p) => p.data.length > 256);
    assert.deepEqual(big.map((p) => `${p.from}#${p.index} ${p.data.length}`), []);
    const fragmented = sim.sent.filter((p) => p.labels.some((l) => l.includes('[')));
    assert.ok(fragmented.some((p) => p.from === 'server' && p.labels.some((l) => l.startsWith('Certificate['))), sim.trace());
    assert.ok(fragmented.some((p) => p.from === 'client' && p.labels.some((l) => l.startsWith('Certificate['))), sim.trace());
    assert.equal(sim.client.stats.retransmissions, 0);
    assert.equal(sim.server!.stats.retransmissions, 0);
    exchange(sim, 'small');
    const max = sim.client.maxDatagramPayload;
    sim.client.send(new Uint8Array(max).fill(0x61));
    sim.settle();
    assert.equal(sim.received('server').at(-1), 'a'.repeat(max));
    assert.ok(sim.sent.every((p) => p.data.length <= 256));
  });
}

test('RFC 6347 §4.2.4 handshake deadline: nothing from the server, the client fails with ERR_DTLS_HANDSHAKE_TIMEOUT at 30 s', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, { filter: (p) => (p.from === 'server' ? 'drop' : 'deliver') }));
  sim.start();
  sim.run(() => sim.client.isClosed);
  assert.equal(sim.eventTime('client', 'closed'), 30_000);
  assert.equal((sim.closedWith('client') as { error?: DtlsError }).error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  assert.deepEqual(flightTimes(sim, 1), [0, 1000, 3000, 7000, 15000], 'no retransmission after the deadline');
  assert.equal(sim.client.pollTimeout(), undefined);
  assert.equal(sim.endpoint.size, 0);
  // No alert is sent for a timeout.
  assert.ok(sim.packets('client').every((p) => !p.labels.includes('Alert')));
});

test('RFC 6347 §4.2.4 handshake deadline (server side, custom handshakeTimeout 5000): client silent after flight 3', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, {
    filter: (p) => (p.from === 'client' && flightOf(p) !== 1 && flightOf(p) !== 3 ? 'drop' : 'deliver'),
    server: { handshakeTimeout: 5000 },
    client: { handshakeTimeout: 5000 },
  }));
  // Flight 5 never arrives: both sides give up at their own deadline.
  sim.start();
  sim.run(() => sim.client.isClosed && sim.server?.isClosed === true);
  assert.equal(sim.eventTime('client', 'closed'), 5000);
  assert.equal(sim.eventTime('server', 'closed'), 15 + 5000);
  assert.equal(sim.server!.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
  assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
});

test('RFC 6347 §4.2.4.1 the retransmit timer is capped at maxRetransmitTimeout (4000 ms)', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, {
    filter: (p) => (p.from === 'server' ? 'drop' : 'deliver'),
    client: { maxRetransmitTimeout: 4000 },
  }));
  sim.start();
  sim.run(() => sim.client.isClosed);
  assert.deepEqual(gaps(flightTimes(sim, 1)), [1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000]);
  assert.equal(sim.eventTime('client', 'closed'), 30_000);
});

test('RFC 6347 §4.2.4.1 the default cap is 60 s (retransmitTimeout 250, handshakeTimeout 10 min)', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim(opts(certs, {
    filter: (p) => (p.from === 'server' ? 'drop' : 'deliver'),
    client: { retransmitTimeout: 250, handshakeTimeout: 600_000 },
  }));
  sim.start();
  sim.run(() => sim.client.isClosed, 700_000);
  const g = gaps(flightTimes(sim, 1));
  assert.deepEqual(g.slice(0, 10), [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  assert.ok(g.every((x) => x <= 60_000));
  assert.equal(sim.eventTime('client', 'closed'), 600_000);
  assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT');
});
