/**
 * NodeCryptoProvider.prepareKeyShare: an ephemeral key pair generated ahead, off the handshake's path. RFC 8422
 * §2 / RFC 7748 §6.1 require a fresh ephemeral key per handshake (for forward secrecy): these tests pin that a
 * prepared pair is handed out once, is fresh, works, and that nothing changes with a deterministic RNG.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import { NamedGroup } from '../../src/msgs/enums.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('NodeCryptoProvider.prepareKeyShare (ephemeral key generated ahead)', () => {
  for (const group of [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1]) {
    it(`group ${group}: the prepared pair is handed out once, is fresh, and agrees with a peer`, () => {
      const p = new NodeCryptoProvider();
      p.prepareKeyShare(); // nothing used yet: no group to prepare for, no error
      const first = p.generateKeyShare(group);
      p.prepareKeyShare();
      p.prepareKeyShare(); // idempotent: still one spare
      const second = p.generateKeyShare(group);
      const third = p.generateKeyShare(group);
      const keys = new Set([first, second, third].map((s) => hex(s.publicKey)));
      assert.equal(keys.size, 3, 'three different public keys: no pair is handed out twice');
      const peer = new NodeCryptoProvider().generateKeyShare(group);
      assert.deepEqual(second.deriveSecret(peer.publicKey), peer.deriveSecret(second.publicKey));
    });
  }

  it('a spare made for one group is not handed out for another', () => {
    const p = new NodeCryptoProvider();
    p.generateKeyShare(NamedGroup.x25519);
    p.prepareKeyShare();
    const ec = p.generateKeyShare(NamedGroup.secp256r1);
    assert.equal(ec.group, NamedGroup.secp256r1);
    assert.equal(ec.publicKey.length, 65);
    const x = p.generateKeyShare(NamedGroup.x25519);
    assert.equal(x.group, NamedGroup.x25519);
    assert.equal(x.publicKey.length, 32);
  });

  it('with a deterministic RNG it does nothing: the same RNG sequence gives the same keys', () => {
    const rng = (): ((n: number) => Uint8Array) => {
      let i = 0;
      return (n) => Uint8Array.from({ length: n }, () => (i++ * 37 + 11) & 0xff);
    };
    const a = new NodeCryptoProvider({ random: rng() });
    const b = new NodeCryptoProvider({ random: rng() });
    a.generateKeyShare(NamedGroup.x25519);
    b.generateKeyShare(NamedGroup.x25519);
    a.prepareKeyShare();
    assert.equal(hex(a.generateKeyShare(NamedGroup.x25519).publicKey), hex(b.generateKeyShare(NamedGroup.x25519).publicKey));
  });
});
