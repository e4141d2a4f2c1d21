/** ServerHello (RFC 5246 §7.4.1.3, unchanged in DTLS 1.2 apart from the version numbers). */
import { InvalidMessageError } from '../errors.js';
import { MAX_SESSION_ID_LENGTH, RANDOM_LENGTH } from './client-hello.js';
import { checkUint, decodeExtensions, encodeExtensions } from './extensions.js';
import type { Extension } from './extensions.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

/**
 * ```
 * struct {
 *     ProtocolVersion server_version;
 *     Random random;
 *     SessionID session_id;                      // opaque SessionID<0..32>
 *     CipherSuite cipher_suite;
 *     CompressionMethod compression_method;
 *     select (extensions_present) {
 *         case false:
 *             struct {};
 *         case true:
 *             Extension extensions<0..2^16-1>;
 *     };
 * } ServerHello;
 * ```
 */
export interface ServerHello {
  serverVersion: number;
  /** 32 bytes */
  random: Uint8Array;
  /** <0..32> */
  sessionId: Uint8Array;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Extension[];
}

export function decodeServerHello(body: Uint8Array): ServerHello {
  const r = new Reader(body);
  const serverVersion = r.u16('ServerHello.server_version');
  const random = r.bytesN(RANDOM_LENGTH, 'ServerHello.random');
  const sessionId = r.vec8('ServerHello.session_id');
  if (sessionId.length > MAX_SESSION_ID_LENGTH) {
    throw new InvalidMessageError(`ServerHello.session_id too long: ${sessionId.length}`);
  }
  const cipherSuite = r.u16('ServerHello.cipher_suite');
  const compressionMethod = r.u8('ServerHello.compression_method');
  const extensions = decodeExtensions(r);
  r.expectEnd('ServerHello');
  return { serverVersion, random, sessionId, cipherSuite, compressionMethod, extensions };
}

export function encodeServerHello(m: ServerHello): Uint8Array {
  checkUint(m.serverVersion, 0xffff, 'ServerHello.server_version');
  checkUint(m.cipherSuite, 0xffff, 'ServerHello.cipher_suite');
  checkUint(m.compressionMethod, 0xff, 'ServerHello.compression_method');
  if (m.random.length !== RANDOM_LENGTH) throw new InvalidMessageError('ServerHello.random must be 32 bytes');
  if (m.sessionId.length > MAX_SESSION_ID_LENGTH) throw new InvalidMessageError('ServerHello.session_id too long');
  const w = new Writer(256);
  w.u16(m.serverVersion).bytes(m.random).vec8(m.sessionId).u16(m.cipherSuite).u8(m.compressionMethod);
  encodeExtensions(w, m.extensions);
  return w.finish();
}
