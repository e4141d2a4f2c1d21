import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim } from '../helpers/sim.js';
import { testCerts } from '../helpers/certs.js';

test('RFC 6347 §4.2.1 full handshake with cookie exchange, then application data both ways', async () => {
  const certs = await testCerts('ec');
  const sim = new Sim({
    client: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requestCert: true },
  });
  sim.start();
  sim.run(() => sim.bothConnected);
  assert.ok(sim.client.isConnected, `client state ${sim.client.handshakeState} ${sim.client.error?.message}`);
  assert.ok(sim.server?.isConnected, `server state ${sim.server?.handshakeState} ${sim.server?.error?.message}`);
  console.log(sim.sent.map((p) => `${p.at} ${p.from}: ${p.labels.join(',')}`).join('\n'));
  sim.client.send(Buffer.from('hello'));
  sim.run(() => sim.received('server').length === 1);
  assert.deepEqual(sim.received('server'), ['hello']);
});
