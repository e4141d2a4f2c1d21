/**
 * Micro-benchmark of the per-record AEAD path: µs per seal and per open of a 1000-byte record with a 13-byte
 * DTLS 1.2 additional-data block, for each algorithm of NodeCryptoProvider. For reference it also times the
 * bare node:crypto calls with a raw Buffer key (what the provider would cost without the KeyObject).
 * Each figure is the best of 7 rounds, so that other load on the machine disturbs it less.
 *
 *   npx tsc -p . && node dist/bench/aead-micro.js [iterations]
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { NodeCryptoProvider } from '../src/crypto/node-provider.js';
import type { AeadAlgorithm } from '../src/crypto/provider.js';

const iterations = Number(process.argv[2] ?? 50_000);
const provider = new NodeCryptoProvider();

const ALGS: readonly [AeadAlgorithm, number][] = [
  ['aes-128-gcm', 16],
  ['aes-256-gcm', 32],
  ['chacha20-poly1305', 32],
  ['aes-128-ccm', 16],
  ['aes-128-ccm8', 16],
];

/** Best of several rounds (µs per call): the minimum is the least disturbed by other load on the machine. */
function time(fn: () => void): number {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn(); // warm up
  const rounds = 7;
  const perRound = Math.max(1, Math.floor(iterations / rounds));
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / perRound / 1000);
  }
  return best;
}

const plaintext = randomBytes(1000);
const aad = randomBytes(13);
const nonce = randomBytes(12);

console.log(`AEAD per record, 1000-byte payload, best of 7 rounds over ${iterations} iterations, node ${process.version}`);
console.log('algorithm           seal µs   open µs   bare-node seal µs (Buffer key)');
for (const [alg, keyLength] of ALGS) {
  const key = randomBytes(keyLength);
  const aead = provider.createAead(alg, key);
  const sealed = aead.seal(nonce, aad, plaintext);
  let sink = 0;
  const seal = time(() => {
    sink += aead.seal(nonce, aad, plaintext).length;
  });
  const open = time(() => {
    const p = aead.open(nonce, aad, sealed);
    if (p === undefined) throw new Error(`${alg}: open failed`);
    sink += p.length;
  });
  let bare = Number.NaN;
  if (alg === 'aes-128-gcm' || alg === 'aes-256-gcm') {
    bare = time(() => {
      const c = createCipheriv(alg, key, nonce, { authTagLength: 16 });
      c.setAAD(aad);
      const body = c.update(plaintext);
      c.final();
      sink += Buffer.concat([body, c.getAuthTag()]).length;
    });
  }
  if (sink === 0) throw new Error('unreachable');
  console.log(
    `${alg.padEnd(18)} ${seal.toFixed(2).padStart(8)} ${open.toFixed(2).padStart(9)}   ${Number.isNaN(bare) ? '-' : bare.toFixed(2)}`,
  );
}
