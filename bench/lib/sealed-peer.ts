/**
 * "dgram + node:crypto": Node's ceiling as issue 4 defines it — what any DTLS record layer in Node must pay per
 * record, and nothing else. The sender builds each datagram as one AES-128-GCM record the way DTLS 1.2 does
 * (13-byte header, 8-byte explicit nonce, ciphertext, 16-byte tag; nonce = salt ‖ epoch ‖ seq, additional data =
 * epoch ‖ seq ‖ type ‖ version ‖ length) with one `createCipheriv` per record, and sends it; the receiver parses
 * the header and opens it with one `createDecipheriv`, and counts only records that authenticate. No handshake
 * (a fixed key), no replay window, no connection lookup, no events: a floor, not a protocol.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import type dgram from 'node:dgram';

const KEY = createSecretKey(Buffer.alloc(16, 0x5a));
const SALT = Buffer.from([1, 2, 3, 4]);
const HEADER = 13;
const EXPLICIT = 8;
const TAG = 16;
const OPTS = { authTagLength: TAG } as const;

// One nonce and one additional-data buffer, rewritten per record (what a tight record layer does).
const nonce = Buffer.alloc(12);
SALT.copy(nonce, 0);
const ad = Buffer.alloc(13);

/** ad = epoch ‖ seq ‖ type ‖ version ‖ plaintext length, taken from a record header. */
function fillAdditionalData(header: Buffer, plaintextLength: number): void {
  header.copy(ad, 0, 3, 11);
  header.copy(ad, 8, 0, 3);
  ad[11] = plaintextLength >> 8;
  ad[12] = plaintextLength & 255;
}

/**
 * Seals record `seq` (epoch 1) of `payload`; returns the datagram as [header ‖ explicit nonce, ciphertext, tag]
 * for dgram's scatter send (no concatenation).
 */
export function sealRecord(seq: number, payload: Buffer): Buffer[] {
  const prefix = Buffer.allocUnsafe(HEADER + EXPLICIT);
  prefix[0] = 23;
  prefix[1] = 0xfe;
  prefix[2] = 0xfd;
  prefix[3] = 0;
  prefix[4] = 1;
  prefix.writeUIntBE(seq, 5, 6);
  const len = EXPLICIT + payload.length + TAG;
  prefix[11] = len >> 8;
  prefix[12] = len & 255;
  prefix.copy(prefix, HEADER, 3, 11);
  prefix.copy(nonce, 4, HEADER, HEADER + EXPLICIT);
  fillAdditionalData(prefix, payload.length);
  const c = createCipheriv('aes-128-gcm', KEY, nonce, OPTS);
  c.setAAD(ad);
  const body = c.update(payload);
  c.final();
  return [prefix, body, c.getAuthTag()];
}

/** Opens one datagram made by sealRecord; the plaintext, or undefined when it does not authenticate. */
export function openRecord(d: Buffer): Buffer | undefined {
  const n = d.length - HEADER - EXPLICIT - TAG;
  if (n < 0 || d[0] !== 23 || ((d[11]! << 8) | d[12]!) !== d.length - HEADER) return undefined;
  d.copy(nonce, 4, HEADER, HEADER + EXPLICIT);
  fillAdditionalData(d, n);
  try {
    const dc = createDecipheriv('aes-128-gcm', KEY, nonce, OPTS);
    dc.setAuthTag(d.subarray(d.length - TAG));
    dc.setAAD(ad);
    const body = dc.update(d.subarray(HEADER + EXPLICIT, d.length - TAG));
    dc.final();
    return body;
  } catch {
    return undefined;
  }
}

/** A sender over a connected dgram socket: each send() seals the next record. */
export function sealedSender(s: dgram.Socket): (buf: Buffer, done: () => void) => void {
  let seq = 0;
  return (buf, done) => s.send(sealRecord(seq++, buf), () => done());
}

/** A receiver: calls `deliver` with each authentic plaintext (echo mode: `reply` gets it sealed back). */
export function sealedReceiver(deliver: (m: Buffer, rinfo: dgram.RemoteInfo) => void): (m: Buffer, rinfo: dgram.RemoteInfo) => void {
  return (m, rinfo) => {
    const p = openRecord(m);
    if (p !== undefined) deliver(p, rinfo);
  };
}
