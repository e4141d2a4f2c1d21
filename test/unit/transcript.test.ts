import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import type { CryptoProvider, HashAlgorithm, IncrementalHash } from '../../src/crypto/provider.js';
import { Transcript } from '../../src/handshake/transcript.js';
import { encodeHandshakeMessage } from '../../src/msgs/handshake.js';

const provider = new NodeCryptoProvider();

/** What the transcript must hash: the messages in unfragmented form, concatenated (RFC 6347 §4.2.6). */
function concatenated(messages: readonly (readonly [number, number, Uint8Array])[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(messages.map(([t, seq, body]) => encodeHandshakeMessage(t, seq, body))));
}

function digest(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array {
  return Uint8Array.from(createHash(algorithm).update(data).digest());
}

const body = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

describe('DTLS 1.2 transcript (RFC 6347 §4.2.6)', () => {
  it('the running hash equals the hash of the concatenated messages at every point, for both hashes', () => {
    for (const algorithm of ['sha256', 'sha384'] as const) {
      const t = new Transcript();
      const added: [number, number, Uint8Array][] = [];
      const add = (msgType: number, seq: number, b: Uint8Array): void => {
        t.add(msgType, seq, b);
        added.push([msgType, seq, b]);
      };
      // Messages before the first hash are replayed into it; later ones are fed as they come.
      add(1, 1, body(150, 1));
      add(2, 0, body(80, 2));
      add(11, 1, body(700, 3));
      assert.deepEqual(t.bytes(), concatenated(added));
      assert.deepEqual(t.hash(provider, algorithm), digest(algorithm, concatenated(added)));
      add(12, 2, body(140, 4));
      add(14, 3, new Uint8Array(0));
      add(16, 2, body(33, 5));
      const h1 = t.hash(provider, algorithm);
      assert.deepEqual(h1, digest(algorithm, concatenated(added)));
      // Asked twice at the same point (EMS session hash, then the Finished hash): same value, independent arrays.
      const h2 = t.hash(provider, algorithm);
      assert.deepEqual(h2, h1);
      h2.fill(0);
      assert.deepEqual(t.hash(provider, algorithm), h1);
      add(20, 4, body(12, 6));
      assert.deepEqual(t.hash(provider, algorithm), digest(algorithm, concatenated(added)));
      assert.deepEqual(t.bytes(), concatenated(added));
    }
  });

  it('reset() starts over, and another algorithm or provider gets its own hash of all messages', () => {
    const t = new Transcript();
    t.add(1, 0, body(40, 9));
    t.hash(provider, 'sha256');
    t.reset();
    assert.equal(t.bytes().length, 0);
    t.add(1, 1, body(50, 7));
    const only: [number, number, Uint8Array][] = [[1, 1, body(50, 7)]];
    assert.deepEqual(t.hash(provider, 'sha256'), digest('sha256', concatenated(only)));
    assert.deepEqual(t.hash(provider, 'sha384'), digest('sha384', concatenated(only)));
    t.add(2, 0, body(60, 8));
    only.push([2, 0, body(60, 8)]);
    const created: HashAlgorithm[] = [];
    const counting: CryptoProvider = {
      randomBytes: (n) => provider.randomBytes(n),
      wallClock: () => provider.wallClock(),
      hash: (a, d) => provider.hash(a, d),
      createHash: (a): IncrementalHash => {
        created.push(a);
        return provider.createHash(a);
      },
      hmac: (a, k, d) => provider.hmac(a, k, d),
      createAead: (a, k) => provider.createAead(a, k),
      generateKeyShare: (g) => provider.generateKeyShare(g),
      verify: (s, k, d, sig) => provider.verify(s, k, d, sig),
    };
    assert.deepEqual(t.hash(counting, 'sha256'), digest('sha256', concatenated(only)));
    t.add(3, 1, body(10, 1));
    only.push([3, 1, body(10, 1)]);
    assert.deepEqual(t.hash(counting, 'sha256'), digest('sha256', concatenated(only)));
    assert.deepEqual(created, ['sha256'], 'one running hash per algorithm and provider');
  });
});
