/**
 * RFC 6347 §4.2 (RFC 5246 §7.3): the full DTLS 1.2 handshake with cookie exchange for every cipher suite, key
 * exchange group and client-authentication mode we support, followed by application data both ways.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim } from '../helpers/sim.js';
import { testCerts } from '../helpers/certs.js';
import { DTLS12_SUITES } from '../../src/crypto/suites.js';
import { NamedGroup } from '../../src/msgs/enums.js';

const GROUPS: readonly [string, NamedGroup][] = [
  ['x25519', NamedGroup.x25519],
  ['P-256', NamedGroup.secp256r1],
  ['P-384', NamedGroup.secp384r1],
];

describe('RFC 6347 §4.2 full handshake per cipher suite, group and client authentication', () => {
  for (const suite of DTLS12_SUITES) {
    for (const [groupName, groupId] of GROUPS) {
      for (const clientCert of [false, true]) {
        const name = `RFC 6347 §4.2 flights 1-6: ${suite.name} / ${groupName} / ${clientCert ? 'with' : 'without'} client certificate`;
        test(name, async () => {
          const certs = await testCerts(suite.auth === 'rsa' ? 'rsa' : 'ec');
          const sim = new Sim({
            client: {
              ca: certs.ca,
              ciphers: [suite.name],
              // RFC 8422 §5.1.1: a P-256 ECDSA certificate needs P-256 among the client's groups; the server
              // offers only the group under test, so that is the one negotiated.
              groups: suite.auth === 'ecdsa' && groupName !== 'P-256' ? [groupName, 'P-256'] : [groupName],
              ...(clientCert ? { cert: certs.clientCert, key: certs.clientKey } : {}),
            },
            server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requestCert: clientCert, groups: [groupName] },
          });
          sim.handshake();
          const server = sim.server;
          assert.ok(sim.client.isConnected, `client ${sim.client.handshakeState} ${sim.client.error?.message}\n${sim.trace()}`);
          assert.ok(server?.isConnected, `server ${server?.handshakeState} ${server?.error?.message}\n${sim.trace()}`);

          // Lossless, 5 ms one way: ClientHello sent at 0, HelloVerifyRequest 5, ClientHello+cookie 10, flight 4 at
          // 15, flight 5 at 20 (server connected on its arrival at 25), flight 6 at 25 (client connected at 30).
          // (An RSA flight 4 needs two datagrams at MTU 1200.)
          assert.deepEqual([...new Set(sim.sent.map((p) => p.at))], [0, 5, 10, 15, 20, 25], sim.trace());
          assert.equal(sim.eventTime('server', 'connected'), 25);
          assert.equal(sim.eventTime('client', 'connected'), 30);
          assert.equal(sim.client.stats.retransmissions, 0);
          assert.equal(server.stats.retransmissions, 0);
          assert.equal(sim.endpoint.stats.helloVerifyRequestsSent, 1);
          assert.equal(sim.endpoint.stats.connectionsAccepted, 1);
          // Labels name a message, or a fragment of it as "Name[offset+length/total]" (flights fill datagrams).
          const flight5 = sim.packets('client').filter((p) => p.at === 20).flatMap((p) => p.labels);
          const has = (name: string): boolean => flight5.some((l) => l === name || l.startsWith(`${name}[0+`));
          assert.equal(flight5.filter((l) => l === 'ClientKeyExchange' || l.startsWith('ClientKeyExchange[0+')).length, 1);
          assert.equal(has('Certificate'), clientCert);
          assert.equal(has('CertificateVerify'), clientCert);
          assert.equal(sim.packets('server', (l) => l.includes('CertificateRequest')).length, clientCert ? 1 : 0);

          for (const [side, r] of [['client', sim.client.handshakeResult], ['server', server.handshakeResult]] as const) {
            assert.ok(r, `${side} has a handshake result`);
            assert.equal(r.protocol, 'DTLSv1.2');
            assert.equal(r.suite, suite, `${side} suite`);
            assert.equal(r.group, groupId, `${side} group`);
            assert.equal(r.extendedMasterSecret, true, `${side} ems`);
          }
          const cr = sim.client.handshakeResult!;
          const sr = server.handshakeResult!;
          assert.equal(cr.peer?.leaf.subject, 'CN=localhost');
          assert.equal(cr.peer?.authorized, true);
          assert.equal(cr.peer?.leaf.keyType, suite.auth === 'rsa' ? 'rsa' : 'ec-p256');
          if (clientCert) {
            assert.equal(sr.peer?.leaf.subject, 'CN=dtls-client');
            assert.equal(sr.peer?.authorized, true);
          } else {
            assert.equal(sr.peer, undefined);
          }
          assert.deepEqual(cr.masterSecret, sr.masterSecret);
          assert.equal(sr.servername, 'localhost');

          sim.client.send(Buffer.from('ping'));
          server.send(Buffer.from('pong'));
          sim.client.send(Buffer.from('ping2'));
          sim.settle();
          assert.deepEqual(sim.received('server'), ['ping', 'ping2']);
          assert.deepEqual(sim.received('client'), ['pong']);
          assert.equal(sim.client.stats.totalDiscarded, 0, JSON.stringify(sim.client.stats.discarded));
          assert.equal(server.stats.totalDiscarded, 0, JSON.stringify(server.stats.discarded));
          assert.ok(sim.bothConnected);
        });
      }
    }
  }
});
