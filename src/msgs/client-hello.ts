/**
 * DTLS 1.2 ClientHello (RFC 6347 §4.2.1 and §4.3.2). Runs on every incoming hello, before any cookie check, so
 * it allocates only the result object and two small arrays; byte fields are views into `body`.
 */
import { InvalidMessageError } from '../errors.js';
import { checkUint, decodeExtensions, encodeExtensions, readU16List, readU8List, writeU16List, writeU8List } from './extensions.js';
import type { Extension } from './extensions.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

export const RANDOM_LENGTH = 32;
export const MAX_SESSION_ID_LENGTH = 32;

/**
 * ```
 * struct {
 *   ProtocolVersion client_version;
 *   Random random;
 *   SessionID session_id;                        // opaque SessionID<0..32>
 *   opaque cookie<0..2^8-1>;                     // New field
 *   CipherSuite cipher_suites<2..2^16-1>;
 *   CompressionMethod compression_methods<1..2^8-1>;
 *   select (extensions_present) {
 *     case false:
 *       struct {};
 *     case true:
 *       Extension extensions<0..2^16-1>;
 *   };
 * } ClientHello;
 * ```
 */
export interface ClientHello {
  clientVersion: number;
  /** 32 bytes */
  random: Uint8Array;
  /** <0..32> */
  sessionId: Uint8Array;
  /** <0..255> */
  cookie: Uint8Array;
  cipherSuites: number[];
  compressionMethods: number[];
  extensions: Extension[];
}

export function decodeClientHello(body: Uint8Array): ClientHello {
  const r = new Reader(body);
  const { clientVersion, random, sessionId, cookie } = readPrefix(r);
  const cipherSuites = readU16List(r, 2, 'ClientHello.cipher_suites', true);
  const compressionMethods = readU8List(r, 1, 'ClientHello.compression_methods', true);
  const extensions = decodeExtensions(r);
  r.expectEnd('ClientHello');
  return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions };
}

export function encodeClientHello(m: ClientHello): Uint8Array {
  checkUint(m.clientVersion, 0xffff, 'ClientHello.client_version');
  if (m.random.length !== RANDOM_LENGTH) throw new InvalidMessageError('ClientHello.random must be 32 bytes');
  if (m.sessionId.length > MAX_SESSION_ID_LENGTH) throw new InvalidMessageError('ClientHello.session_id too long');
  const w = new Writer(512);
  w.u16(m.clientVersion).bytes(m.random).vec8(m.sessionId).vec8(m.cookie);
  writeU16List(w, 2, m.cipherSuites, 'ClientHello.cipher_suites', true);
  writeU8List(w, 1, m.compressionMethods, 'ClientHello.compression_methods', true);
  encodeExtensions(w, m.extensions);
  return w.finish();
}

/** The leading fields of a ClientHello, which fit in its first fragment (RFC 6347 §4.2.1). */
export interface ClientHelloPrefix {
  clientVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cookie: Uint8Array;
}

/**
 * Reads client_version, random, session_id and cookie from the first bytes of a ClientHello — enough to check
 * a cookie statelessly when the hello is fragmented over several datagrams. Throws InvalidMessageError if the
 * bytes end before the cookie does.
 */
export function decodeClientHelloPrefix(firstBytes: Uint8Array): ClientHelloPrefix {
  return readPrefix(new Reader(firstBytes));
}

function readPrefix(r: Reader): ClientHelloPrefix {
  const clientVersion = r.u16('ClientHello.client_version');
  const random = r.bytesN(RANDOM_LENGTH, 'ClientHello.random');
  const sessionId = r.vec8('ClientHello.session_id');
  if (sessionId.length > MAX_SESSION_ID_LENGTH) {
    throw new InvalidMessageError(`ClientHello.session_id too long: ${sessionId.length}`);
  }
  const cookie = r.vec8('ClientHello.cookie');
  return { clientVersion, random, sessionId, cookie };
}
