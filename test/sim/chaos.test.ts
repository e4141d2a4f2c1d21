/**
 * RFC 6347 §4.2.4 under a hostile network: seeded random loss, duplication and reordering of every datagram in
 * both directions. Whatever happens, the handshake either completes or fails with the handshake timeout (never
 * another error, never a hang), and application data is never delivered twice or invented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim, type Packet, type Verdict } from '../helpers/sim.js';
import { testCerts } from '../helpers/certs.js';
import { mulberry32 as rng } from '../helpers/rng.js';


function chaos(seed: number, loss: number): (p: Packet) => Verdict {
  const r = rng(seed);
  return () => {
    const x = r();
    if (x < loss) return 'drop';
    if (x < loss + 0.1) return 'duplicate';
    if (x < loss + 0.25) return { delay: Math.floor(r() * 40) };
    return 'deliver';
  };
}

for (const [loss, mtu] of [[0.2, 1200], [0.3, 256]] as const) {
  test(`RFC 6347 §4.2.4 random loss ${loss * 100}%, duplication and reordering (MTU ${mtu}, 40 seeds): complete or time out, data at most once`, async () => {
    const certs = await testCerts('ec');
    let completed = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const sim = new Sim({
        latencyMs: 10,
        filter: chaos(seed, loss),
        client: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, mtu },
        server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requestCert: true, mtu },
      });
      sim.start();
      sim.run(() => sim.bothConnected || sim.client.isClosed, 40_000);
      const where = `seed ${seed}\n${sim.trace()}`;
      if (!sim.client.isConnected) {
        assert.equal(sim.client.error?.code, 'ERR_DTLS_HANDSHAKE_TIMEOUT', `${sim.client.error?.message} ${where}`);
        continue;
      }
      // The client is connected once it verified the server's Finished: the server must be connected too
      // (or get there once the client's retransmissions get through).
      sim.run(() => sim.server?.isConnected === true, 40_000);
      assert.ok(sim.server?.isConnected, `server ${sim.server?.handshakeState} ${sim.server?.error?.message} ${where}`);
      assert.equal(sim.server.handshakeResult!.masterSecret.length, 48);
      assert.deepEqual(sim.client.handshakeResult!.masterSecret, sim.server.handshakeResult!.masterSecret);
      completed++;
      const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
      for (const m of sent) {
        sim.client.send(Buffer.from(m));
        sim.server.send(Buffer.from(m));
        sim.run(() => false, 3);
      }
      sim.run(() => false, 200);
      for (const side of ['client', 'server'] as const) {
        const got = sim.received(side);
        assert.equal(new Set(got).size, got.length, `${side} got a message twice: ${got} ${where}`);
        assert.ok(got.every((m) => sent.includes(m)), where);
        if (loss < 0.25) assert.ok(got.length >= 5, `${side} got only ${got.length} of 20 messages`);
      }
      assert.ok(sim.bothConnected, where);
      assert.equal(sim.endpoint.stats.connectionsAccepted, 1, where);
    }
    assert.ok(completed >= 30, `only ${completed} of 40 handshakes completed`);
  });
}
