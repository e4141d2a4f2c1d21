/**
 * RFC 5246 §7.4.1.4.1 / RFC 8446 §4.2.3 signature schemes, each used for real in a handshake: the server's
 * ServerKeyExchange signature (RFC 8422 §5.4) and the client's CertificateVerify (RFC 5246 §7.4.8), with the
 * `sigalgs` option limiting both sides to the scheme under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sim } from '../helpers/sim.js';
import { testCerts } from '../helpers/certs.js';
import { decodeServerKeyExchangeEcdhe } from '../../src/msgs/key-exchange.js';
import { decodeCertificateVerify } from '../../src/msgs/certificate-verify.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { decodeHandshakeFragments } from '../../src/msgs/handshake.js';
import { HandshakeType, SignatureScheme } from '../../src/msgs/enums.js';

const CASES: readonly [string, 'ec' | 'p384' | 'rsa' | 'ed25519', SignatureScheme][] = [
  ['ecdsa_secp256r1_sha256', 'ec', SignatureScheme.ecdsa_secp256r1_sha256],
  ['ecdsa_secp384r1_sha384', 'p384', SignatureScheme.ecdsa_secp384r1_sha384],
  ['ed25519', 'ed25519', SignatureScheme.ed25519],
  ['rsa_pss_rsae_sha256', 'rsa', SignatureScheme.rsa_pss_rsae_sha256],
  ['rsa_pss_rsae_sha384', 'rsa', SignatureScheme.rsa_pss_rsae_sha384],
  ['rsa_pkcs1_sha256', 'rsa', SignatureScheme.rsa_pkcs1_sha256],
  ['rsa_pkcs1_sha384', 'rsa', SignatureScheme.rsa_pkcs1_sha384],
];

/** The signature scheme of each (reassembled) ServerKeyExchange / CertificateVerify sent in the clear. */
function schemesOnWire(sim: Sim, type: HandshakeType): number[] {
  const out: number[] = [];
  const partial = new Map<number, { body: Uint8Array; have: number }>();
  for (const p of sim.sent) {
    for (const r of splitDatagram(p.data).records) {
      if (r.header.contentType !== 22 || r.header.epoch !== 0) continue;
      for (const f of decodeHandshakeFragments(r.fragment)) {
        if (f.msgType !== type) continue;
        let m = partial.get(f.messageSeq);
        if (m === undefined) partial.set(f.messageSeq, (m = { body: new Uint8Array(f.length), have: 0 }));
        m.body.set(f.body, f.fragmentOffset);
        m.have += f.fragmentLength;
        if (m.have === f.length) {
          out.push(type === HandshakeType.server_key_exchange ? decodeServerKeyExchangeEcdhe(m.body).signatureScheme : decodeCertificateVerify(m.body).signatureScheme);
        }
      }
    }
  }
  return out;
}

for (const [name, kind, scheme] of CASES) {
  test(`RFC 5246 §7.4.1.4.1 ${name}: ServerKeyExchange and client CertificateVerify signed and verified with it`, async () => {
    const certs = await testCerts(kind);
    const sim = new Sim({
      client: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, sigalgs: [name], ...(kind === 'p384' ? { groups: ['x25519', 'P-384'] } : {}) },
      server: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requestCert: true, sigalgs: [name] },
    });
    sim.handshake();
    assert.ok(sim.bothConnected, `${sim.client.error?.message} / ${sim.server?.error?.message}\n${sim.trace()}`);
    assert.deepEqual(schemesOnWire(sim, HandshakeType.server_key_exchange), [scheme]);
    assert.deepEqual(schemesOnWire(sim, HandshakeType.certificate_verify), [scheme]);
    assert.equal(sim.server!.handshakeResult!.peer?.leaf.subject, 'CN=dtls-client');
  });
}

test('RFC 5246 §7.4.1.4.1 no signature scheme in common (RSA server, client offers only ECDSA schemes): handshake_failure', async () => {
  const certs = await testCerts('rsa');
  const sim = new Sim({
    client: { ca: certs.ca, sigalgs: ['ecdsa_secp256r1_sha256'] },
    server: { cert: certs.serverCert, key: certs.serverKey },
  });
  sim.handshake();
  assert.equal(sim.server?.error?.code, 'ERR_DTLS_INCOMPATIBLE');
  assert.equal(sim.client.isConnected, false);
});

test('sigalgs option: unknown names are refused with ERR_DTLS_INVALID_OPTION', () => {
  assert.throws(() => new Sim({ client: { sigalgs: ['rsa_md5'] } }), { code: 'ERR_DTLS_INVALID_OPTION' });
});
