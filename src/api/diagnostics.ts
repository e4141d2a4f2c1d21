/**
 * Diagnostics: NSS key log lines for Wireshark (the 'keylog' event and SSLKEYLOGFILE), `util.debuglog('dtls')`
 * (NODE_DEBUG=dtls) and `diagnostics_channel` channels `dtls:handshake:complete` and `dtls:connection:closed`.
 */
import { appendFile } from 'node:fs';
import { channel } from 'node:diagnostics_channel';
import { debuglog } from 'node:util';
import type { HandshakeResult } from '../handshake/result.js';

export const debug = debuglog('dtls');
export const handshakeChannel = channel('dtls:handshake:complete');
export const closedChannel = channel('dtls:connection:closed');

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** The NSS key log line for a DTLS 1.2 session: `CLIENT_RANDOM <client random> <master secret>`. */
export function keyLogLine(r: HandshakeResult): Buffer {
  return Buffer.from(`CLIENT_RANDOM ${hex(r.clientRandom)} ${hex(r.masterSecret)}\n`);
}

/** $SSLKEYLOGFILE when it is set (read at each handshake, like OpenSSL and NSS), else undefined. */
export function keyLogFile(): string | undefined {
  const file = process.env.SSLKEYLOGFILE;
  return file === undefined || file === '' ? undefined : file;
}

/** Appends a key log line to `file` (from keyLogFile()). */
export function writeKeyLogFile(file: string, line: Buffer): void {
  appendFile(file, line, { mode: 0o600 }, (err) => {
    if (err) debug('cannot write SSLKEYLOGFILE %s: %s', file, err.message);
  });
}
