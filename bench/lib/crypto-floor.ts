/**
 * What one record costs in node:crypto alone — the floor any pure-Node DTLS stack pays per record: AES-128-GCM
 * with a new createCipheriv / createDecipheriv per record (nonce changes per record), 13-byte AAD, 16-byte tag.
 * Next to it, the same through this stack's RecordProtection12 (header, nonce, AAD, copy into the record).
 * Each figure is the best (and the median) of 7 rounds, in µs per record; the bare figures take the lowest of two
 * passes over each key form.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import { TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 } from '../../src/crypto/suites.js';
import { RecordProtection12 } from '../../src/record/protection.js';
import { splitDatagram } from '../../src/record/deframer.js';

export interface CryptoRow {
  size: number;
  /** bare node:crypto, Buffer key */
  sealUs: number;
  openUs: number;
  sealMedianUs: number;
  openMedianUs: number;
  /** this stack's record protection (seal = whole record; open = from parsed header + fragment) */
  oursSealUs: number;
  oursOpenUs: number;
}

function time(iterations: number, fn: () => void): { best: number; median: number } {
  for (let i = 0; i < Math.min(iterations, 3000); i++) fn();
  const rounds = 7;
  const per = Math.max(1, Math.floor(iterations / rounds));
  const r: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < per; i++) fn();
    r.push(Number(process.hrtime.bigint() - t0) / per / 1000);
  }
  r.sort((a, b) => a - b);
  return { best: r[0]!, median: r[3]! };
}

export function measureCryptoFloor(sizes: readonly number[], iterations: number): CryptoRow[] {
  const key = randomBytes(16);
  const keyObject = createSecretKey(key);
  const nonce = randomBytes(12);
  const aad = randomBytes(13);
  const provider = new NodeCryptoProvider();
  const suite = TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
  const rows: CryptoRow[] = [];
  let sink = 0;
  for (const size of sizes) {
    const pt = randomBytes(size);
    const c0 = createCipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 });
    c0.setAAD(aad);
    const ct = Buffer.concat([c0.update(pt), c0.final()]);
    const tag = c0.getAuthTag();
    const seal = (k: Buffer | typeof keyObject) =>
      time(iterations, () => {
        const c = createCipheriv('aes-128-gcm', k, nonce, { authTagLength: 16 });
        c.setAAD(aad);
        sink += c.update(pt).length;
        c.final();
        sink += c.getAuthTag().length;
      });
    const open = (k: Buffer | typeof keyObject) =>
      time(iterations, () => {
        const d = createDecipheriv('aes-128-gcm', k, nonce, { authTagLength: 16 });
        d.setAAD(aad);
        d.setAuthTag(tag);
        sink += d.update(ct).length;
        d.final();
      });
    // Two passes over both key forms (Buffer, KeyObject), keeping the lowest: a floor, robust to a slow first pass.
    const pick = (xs: { best: number; median: number }[]): { best: number; median: number } => xs.reduce((a, b) => (b.best < a.best ? b : a));
    const s = pick([seal(key), seal(keyObject), seal(key), seal(keyObject)]);
    const o = pick([open(key), open(keyObject), open(key), open(keyObject)]);

    const p = new RecordProtection12(suite, provider.createAead(suite.aead, key), randomBytes(4));
    let seq = 0;
    const oursSeal = time(iterations, () => {
      sink += p.seal(23, 0xfefd, 1, seq++, pt).length;
    });
    const record = p.seal(23, 0xfefd, 1, 7, pt);
    const rec = splitDatagram(record).records[0]!;
    const oursOpen = time(iterations, () => {
      const out = p.open(rec.header, rec.fragment);
      if (out === undefined) throw new Error('open failed');
      sink += out.length;
    });
    rows.push({
      size,
      sealUs: s.best,
      openUs: o.best,
      sealMedianUs: s.median,
      openMedianUs: o.median,
      oursSealUs: oursSeal.best,
      oursOpenUs: oursOpen.best,
    });
  }
  if (sink === 0) throw new Error('unreachable');
  return rows;
}
