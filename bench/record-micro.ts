/**
 * Micro-benchmark of DTLS 1.2 record protection: µs per seal / sealInto / open, and per raw AEAD call for
 * comparison (the difference is what the record layer itself costs), at 64 and 1000 bytes of plaintext.
 * Also times splitDatagram and the replay window.
 *
 *   npx tsc -p . && node dist/bench/record-micro.js [iterations]
 */
import { NodeCryptoProvider } from '../src/crypto/node-provider.js';
import {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
  type CipherSuite,
} from '../src/crypto/suites.js';
import type { Aead } from '../src/crypto/provider.js';
import { splitDatagram } from '../src/record/deframer.js';
import { RecordProtection12 } from '../src/record/protection.js';
import { ReplayWindow } from '../src/record/replay.js';

const iterations = Number(process.argv[2] ?? 50_000);
const provider = new NodeCryptoProvider();

function time(label: string, n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`${label.padEnd(52)} ${us.toFixed(3).padStart(8)} µs`);
  return us;
}

function benchSuite(suite: CipherSuite): void {
  const key = provider.randomBytes(suite.keyLength);
  const iv = provider.randomBytes(suite.fixedIvLength);
  const aead = provider.createAead(suite.aead, key);
  const p = new RecordProtection12(suite, aead, iv);
  for (const size of [64, 1000]) {
    const pt = provider.randomBytes(size);
    const name = `${suite.aead} ${String(size).padStart(4)} B`;
    const nonce = new Uint8Array(12);
    const aad = new Uint8Array(13);
    time(`${name} raw aead.seal`, iterations, () => aead.seal(nonce, aad, pt));
    time(`${name} seal (new record)`, iterations, (i) => p.seal(23, 0xfefd, 1, i, pt));
    const out = new Uint8Array(1500);
    time(`${name} sealInto (datagram buffer)`, iterations, (i) => p.sealInto(out, 0, 23, 0xfefd, 1, i, pt));
    const record = p.seal(23, 0xfefd, 1, 42, pt);
    const r = splitDatagram(record).records[0]!;
    const ct = aead.seal(nonce, aad, pt);
    time(`${name} raw aead.open`, iterations, () => aead.open(nonce, aad, ct));
    time(`${name} open`, iterations, () => {
      if (p.open(r.header, r.fragment) === undefined) throw new Error('open failed');
    });
  }
}

console.log(`node ${process.version}, ${iterations} iterations each`);
benchSuite(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
benchSuite(TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256);
benchSuite(TLS_ECDHE_ECDSA_WITH_AES_128_CCM);

{
  // The record layer alone: an "AEAD" that returns a preallocated buffer, so what remains is nonce/AAD building,
  // header writing and copying.
  const sealed = new Uint8Array(1000 + 16);
  const opened = new Uint8Array(1000);
  const nullAead: Aead = {
    algorithm: 'aes-128-gcm',
    tagLength: 16,
    seal: () => sealed,
    sealInto: (_n, _a, _p, out, offset) => {
      out.set(sealed, offset);
      return sealed.length;
    },
    open: () => opened,
  };
  const p = new RecordProtection12(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, nullAead, new Uint8Array(4));
  const pt = new Uint8Array(1000);
  const out = new Uint8Array(1500);
  time('record layer only (null AEAD) sealInto 1000 B', iterations * 4, (i) => p.sealInto(out, 0, 23, 0xfefd, 1, i, pt));
  time('record layer only (null AEAD) seal 1000 B', iterations * 4, (i) => p.seal(23, 0xfefd, 1, i, pt));
  const record = p.seal(23, 0xfefd, 1, 7, pt);
  const r = splitDatagram(record).records[0]!;
  time('record layer only (null AEAD) open 1000 B', iterations * 4, () => p.open(r.header, r.fragment));
}

{
  const p = new RecordProtection12(
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    provider.createAead('aes-128-gcm', provider.randomBytes(16)),
    provider.randomBytes(4),
  );
  const datagram = new Uint8Array(1200);
  let o = 0;
  for (let i = 0; i < 3; i++) o += p.sealInto(datagram, o, 23, 0xfefd, 1, i, new Uint8Array(300));
  const d = datagram.subarray(0, o);
  time('splitDatagram (3 records)', iterations * 4, () => splitDatagram(d));
  const w = new ReplayWindow(64);
  time('replay check+mark in order', iterations * 20, (i) => {
    if (w.check(i)) w.mark(i);
  });
  const w2 = new ReplayWindow(1024);
  time('replay check+mark, size 1024, jumps of 100', iterations * 20, (i) => {
    const s = i * 100;
    if (w2.check(s)) w2.mark(s);
  });
}
