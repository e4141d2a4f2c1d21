/** DTLS HelloVerifyRequest (RFC 6347 §4.2.1). */
import { checkUint } from './extensions.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

/**
 * ```
 * struct {
 *   ProtocolVersion server_version;
 *   opaque cookie<0..2^8-1>;
 * } HelloVerifyRequest;
 * ```
 *
 * RFC 6347 says server_version SHOULD be DTLS 1.0 (0xfeff) whatever version is negotiated; clients must accept
 * both 0xfeff and 0xfefd. That policy belongs to the caller: the codec keeps the number as it is.
 */
export interface HelloVerifyRequest {
  serverVersion: number;
  /** A view into the decoded body. */
  cookie: Uint8Array;
}

export function decodeHelloVerifyRequest(body: Uint8Array): HelloVerifyRequest {
  const r = new Reader(body);
  const serverVersion = r.u16('HelloVerifyRequest.server_version');
  const cookie = r.vec8('HelloVerifyRequest.cookie');
  r.expectEnd('HelloVerifyRequest');
  return { serverVersion, cookie };
}

export function encodeHelloVerifyRequest(m: HelloVerifyRequest): Uint8Array {
  checkUint(m.serverVersion, 0xffff, 'HelloVerifyRequest.server_version');
  return new Writer(3 + m.cookie.length).u16(m.serverVersion).vec8(m.cookie).finish();
}
