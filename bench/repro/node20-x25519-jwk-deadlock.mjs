// Node 20.20.2: the main thread can deadlock for ever in
//   createPublicKey(generateKeyPairSync('x25519').privateKey).export({ format: 'jwk' })
// ExportJWKEdKey holds the key's mutex while it allocates the JWK strings; when that allocation triggers a GC,
// a first-pass weak callback destroys the (already unreachable) KeyGenJob of the same key, whose destructor locks
// the same mutex (gdb: futex_wait < uv_mutex_lock < ~KeyGenJob < InvokeFirstPassWeakCallbacks <
// PerformGarbageCollection < ... < ExportJWKEdKey < KeyObjectHandle::ExportJWK). Found by the bench (the
// X25519 key share in src/crypto/node-provider.ts does exactly this). A small young generation makes it quick:
//
//   node --max-semi-space-size=1 bench/repro/node20-x25519-jwk-deadlock.mjs          often hangs (5 of 8 runs here)
//   node --max-semi-space-size=1 bench/repro/node20-x25519-jwk-deadlock.mjs in-job   runs 20 s and exits
//
// "in-job" asks the key generation for the JWK (generateKeyPairSync('x25519', { publicKeyEncoding:
// { format: 'jwk' } })), which encodes inside the job while it is alive; it did not hang in 4 runs of 330 000 to
// 355 000 key pairs each, and is also cheaper.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';

const inJob = process.argv[2] === 'in-job';
const t0 = Date.now();
let n = 0;
let sink = 0;
const keep = []; // some live garbage, as a real program has: it makes the hang come sooner
while (Date.now() - t0 < 20_000) {
  let x;
  if (inJob) x = generateKeyPairSync('x25519', { publicKeyEncoding: { format: 'jwk' } }).publicKey.x;
  else x = createPublicKey(generateKeyPairSync('x25519').privateKey).export({ format: 'jwk' }).x;
  sink += x.length;
  if (n % 64 === 0) keep.push(x);
  if (keep.length > 1000) keep.length = 0;
  if (++n % 20_000 === 0) console.log(`${n} key pairs, ${Date.now() - t0} ms`);
}
console.log(`done: ${n} key pairs without a hang (${sink > 0 ? 'ok' : ''})`);
