/** Certificate, TLS 1.2 form (RFC 5246 §7.4.2). */
import { InvalidMessageError } from '../errors.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

/**
 * ```
 * opaque ASN.1Cert<1..2^24-1>;
 *
 * struct {
 *     ASN.1Cert certificate_list<0..2^24-1>;
 * } Certificate;
 * ```
 *
 * The sender's certificate comes first, each following one certifies the one before. An empty list is a client
 * declining to authenticate.
 */
export interface CertificateMsg {
  /** DER certificates, views into the decoded body. */
  certificates: Uint8Array[];
}

export function decodeCertificate(body: Uint8Array): CertificateMsg {
  const r = new Reader(body);
  const list = r.sub(3, 'Certificate.certificate_list');
  r.expectEnd('Certificate');
  const certificates: Uint8Array[] = [];
  while (!list.atEnd()) {
    const cert = list.vec24('Certificate.ASN.1Cert');
    if (cert.length === 0) throw new InvalidMessageError('Certificate.ASN.1Cert is empty');
    certificates.push(cert);
  }
  return { certificates };
}

export function encodeCertificate(m: CertificateMsg): Uint8Array {
  let total = 3;
  for (const c of m.certificates) total += 3 + c.length;
  const w = new Writer(total);
  w.lengthPrefixed(3, (b) => {
    for (const c of m.certificates) {
      if (c.length === 0) throw new InvalidMessageError('Certificate.ASN.1Cert is empty');
      b.vec24(c);
    }
  });
  return w.finish();
}
