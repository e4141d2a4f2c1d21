/** CertificateRequest, TLS 1.2 form (RFC 5246 §7.4.4). */
import { InvalidMessageError } from '../errors.js';
import { readU16List, readU8List, writeU16List, writeU8List } from './extensions.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

/**
 * ```
 * enum {
 *     rsa_sign(1), dss_sign(2), rsa_fixed_dh(3), dss_fixed_dh(4),
 *     rsa_ephemeral_dh_RESERVED(5), dss_ephemeral_dh_RESERVED(6),
 *     fortezza_dms_RESERVED(20), (255)
 * } ClientCertificateType;          // + ecdsa_sign(64) from RFC 8422
 *
 * opaque DistinguishedName<1..2^16-1>;
 *
 * struct {
 *     ClientCertificateType certificate_types<1..2^8-1>;
 *     SignatureAndHashAlgorithm
 *       supported_signature_algorithms<2^16-1>;    // <2..2^16-2> per erratum 2864
 *     DistinguishedName certificate_authorities<0..2^16-1>;
 * } CertificateRequest;
 * ```
 * supported_signature_algorithms must be non-empty with an even length (as rustls requires).
 */
export interface CertificateRequest {
  certificateTypes: number[];
  signatureSchemes: number[];
  /** DER-encoded DistinguishedNames, views into the decoded body. */
  certificateAuthorities: Uint8Array[];
}

export function decodeCertificateRequest(body: Uint8Array): CertificateRequest {
  const r = new Reader(body);
  const certificateTypes = readU8List(r, 1, 'CertificateRequest.certificate_types', true);
  const signatureSchemes = readU16List(r, 2, 'CertificateRequest.supported_signature_algorithms', true);
  const cas = r.sub(2, 'CertificateRequest.certificate_authorities');
  r.expectEnd('CertificateRequest');
  const certificateAuthorities: Uint8Array[] = [];
  while (!cas.atEnd()) {
    const dn = cas.vec16('CertificateRequest.DistinguishedName');
    if (dn.length === 0) throw new InvalidMessageError('CertificateRequest.DistinguishedName is empty');
    certificateAuthorities.push(dn);
  }
  return { certificateTypes, signatureSchemes, certificateAuthorities };
}

export function encodeCertificateRequest(m: CertificateRequest): Uint8Array {
  const w = new Writer(64);
  writeU8List(w, 1, m.certificateTypes, 'CertificateRequest.certificate_types', true);
  writeU16List(w, 2, m.signatureSchemes, 'CertificateRequest.supported_signature_algorithms', true);
  w.lengthPrefixed(2, (b) => {
    for (const dn of m.certificateAuthorities) {
      if (dn.length === 0) throw new InvalidMessageError('CertificateRequest.DistinguishedName is empty');
      b.vec16(dn);
    }
  });
  return w.finish();
}
