/**
 * The receive path alone, for instruction counts: an in-memory handshake, then `warmup + n` application records
 * handed to DtlsServer.handleDatagram as Buffers (what dgram delivers) or, with --ceiling, to the ceiling's
 * receiver (bench/lib/sealed-peer.ts: one createDecipheriv per record and nothing else). The records are made
 * first, the same number whatever n, so two runs that differ only in n differ only by n deliveries:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --no-concurrent-recompilation \
 *     dist/bench/receive-loop.js --size 1000 --n 20000        (then --n 0: the difference ÷ 20000 per record)
 *
 * --no-concurrent-recompilation: under valgrind V8's optimising compiler thread gets no time, and the code would
 * stay in the baseline tiers. Repeats differ by up to ~2 000 instructions per record; wall-clock A/B runs on a
 * shared VM differ by ±20 %. Without valgrind it prints µs per record, a rough figure.
 */
import { rmSync } from 'node:fs';
import { benchCertificates } from './lib/certs.js';
import { inMemoryPair } from './lib/record-path.js';
import { sealedReceiver, sealRecord } from './lib/sealed-peer.js';

function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name}: not a non-negative integer`);
  return v;
}

const size = intArg('--size', 1000);
const n = intArg('--n', 20_000);
const warmup = intArg('--warmup', 5_000);
const ceiling = process.argv.includes('--ceiling');
const made = Math.max(intArg('--records', 30_000), warmup + n);

const { files, pems: certs } = await benchCertificates();
rmSync(files.dir, { recursive: true, force: true });

const pair = await inMemoryPair({ impl: 'ours', certs, group: 'x25519', clientCert: false });
const msg = Buffer.alloc(size, 0x5a);
const records: Buffer[] = [];
for (let i = 0; i < made; i++) {
  if (ceiling) records.push(Buffer.concat(sealRecord(i, msg)));
  else {
    pair.client.send(msg);
    records.push(Buffer.from(pair.client.pollTransmit()!));
  }
}
let opened = 0;
const ceilingReceive = sealedReceiver(() => {
  opened++;
});
// A new sender object per datagram, as dgram makes one.
const rinfo = (): { address: string; port: number; family: 'IPv4'; size: number } => ({ ...pair.remote, family: 'IPv4' });
const deliver = ceiling ? (d: Buffer): void => ceilingReceive(d, rinfo()) : (d: Buffer): void => pair.server.handleDatagram(d, rinfo());
const before = pair.delivered();
const t0 = process.hrtime.bigint();
for (let i = 0; i < warmup + n; i++) deliver(records[i]!);
const us = Number(process.hrtime.bigint() - t0) / 1000 / Math.max(1, warmup + n);
const got = ceiling ? opened : pair.delivered() - before;
if (got !== warmup + n) throw new Error(`delivered ${got} of ${warmup + n} records`);
console.log(`${ceiling ? 'ceiling' : 'ours'} ${size} B: ${warmup + n} records delivered, ${us.toFixed(2)} µs per record`);
