/** CertificateVerify, TLS 1.2 form (RFC 5246 §7.4.8). */
import { checkUint } from './extensions.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

/**
 * ```
 * struct {
 *      digitally-signed struct {
 *          opaque handshake_messages[handshake_messages_length];
 *      }
 * } CertificateVerify;
 *
 * // on the wire, a digitally-signed element is (RFC 5246 §4.7)
 * struct {
 *     SignatureAndHashAlgorithm algorithm;
 *     opaque signature<0..2^16-1>;
 * } DigitallySigned;
 * ```
 */
export interface CertificateVerify {
  signatureScheme: number;
  /** A view into the decoded body. */
  signature: Uint8Array;
}

export function decodeCertificateVerify(body: Uint8Array): CertificateVerify {
  const r = new Reader(body);
  const signatureScheme = r.u16('CertificateVerify.algorithm');
  const signature = r.vec16('CertificateVerify.signature');
  r.expectEnd('CertificateVerify');
  return { signatureScheme, signature };
}

export function encodeCertificateVerify(m: CertificateVerify): Uint8Array {
  checkUint(m.signatureScheme, 0xffff, 'CertificateVerify.algorithm');
  return new Writer(4 + m.signature.length).u16(m.signatureScheme).vec16(m.signature).finish();
}
