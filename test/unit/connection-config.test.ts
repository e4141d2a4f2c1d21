/**
 * What a connection keeps of its options (issue 4: heap per idle connection on the client "about the same" as on
 * the server). Every connect() resolves its options again; the resolved lists must be shared between connections
 * with equal option values, and the core's config must have one fixed shape, not one hidden class per connection.
 * The checks here are on identity and content, not on bytes (the bench measures the bytes).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectionConfig, makeVerifier, resolveCommon } from '../../src/api/options.js';
import { ApiMisuseError } from '../../src/errors.js';
import { NamedGroup } from '../../src/msgs/enums.js';

const role = { role: 'client', servername: 'localhost', requestClientCertificate: false, requireClientCertificate: false } as const;

describe('resolved options shared between connections', () => {
  it('equal option values give the same frozen lists (suites, groups, signature schemes, ALPN)', () => {
    const a = resolveCommon({ groups: ['x25519', 'P-256'], ciphers: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', ALPNProtocols: ['coap'] });
    const b = resolveCommon({ groups: ['x25519', 'P-256'], ciphers: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', ALPNProtocols: ['coap'] });
    for (const k of ['cipherSuites', 'groups', 'signatureSchemes', 'alpnProtocols'] as const) {
      assert.equal(a.base[k], b.base[k], `${k}: one array for both`);
      assert.ok(Object.isFrozen(a.base[k]), `${k}: frozen, so no connection can change another's`);
    }
    assert.deepEqual(a.base.groups, [NamedGroup.x25519, NamedGroup.secp256r1]);
    assert.deepEqual(a.base.alpnProtocols, ['coap']);
    assert.deepEqual(a.base.cipherSuites.map((s) => s.name), ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']);
  });

  it('different values, and the string and array forms, stay apart', () => {
    const one = resolveCommon({ groups: ['x25519'] }).base.groups;
    const two = resolveCommon({ groups: ['P-256'] }).base.groups;
    assert.notEqual(one, two);
    assert.deepEqual(one, [NamedGroup.x25519]);
    assert.deepEqual(two, [NamedGroup.secp256r1]);
    const s = resolveCommon({ ciphers: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384' }).base.cipherSuites;
    const arr = resolveCommon({ ciphers: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'] }).base.cipherSuites;
    assert.equal(s.length, 2);
    assert.equal(arr.length, 1);
  });

  it('a bad value is still reported, every time (failures are not cached)', () => {
    for (let i = 0; i < 2; i++) {
      assert.throws(
        () => resolveCommon({ groups: ['x448'] }),
        (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_INVALID_OPTION' && /x448/.test(e.message),
      );
      assert.throws(
        () => resolveCommon({ ciphers: 'TLS_NULL_WITH_NULL_NULL' }),
        (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_INVALID_OPTION',
      );
    }
  });
});

describe('connectionConfig', () => {
  it('carries every base field and the role fields', () => {
    const common = resolveCommon({ mtu: 1400, replayWindow: 128, idleTimeout: 5000, maxBadRecords: 3 });
    const verifyPeer = makeVerifier(common);
    const c = connectionConfig(common.base, { ...role, verifyPeer });
    for (const [k, v] of Object.entries(common.base)) assert.equal(c[k as keyof typeof c], v, k);
    assert.equal(c.role, 'client');
    assert.equal(c.servername, 'localhost');
    assert.equal(c.verifyPeer, verifyPeer);
    assert.equal(c.mtu, 1400);
    assert.equal(c.replayWindow, 128);
  });

  it('gives configs of equal options the same set of keys in the same order (one shape)', () => {
    const keys = (o: object): string => Object.keys(o).join(',');
    const x = connectionConfig(resolveCommon({}).base, { ...role, verifyPeer: undefined });
    const y = connectionConfig(resolveCommon({ mtu: 600, ALPNProtocols: ['h2'] }).base, { ...role, role: 'server', verifyPeer: undefined });
    assert.equal(keys(x), keys(y));
  });
});
