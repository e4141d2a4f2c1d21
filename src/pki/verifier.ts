/**
 * Certificate chain verification for the handshake: an RFC 5280 §6.1 subset plus RFC 6125 §6.4 host checks.
 *
 * What is checked, in order (the first failure is the one reported):
 *  1. every presented certificate is well-formed DER (else ERR_DTLS_BAD_CERTIFICATE, always thrown);
 *  2. a path exists from the leaf through the presented intermediates (any order) to a trusted CA
 *     (§6.1.3 (a)(1)-(2), §6.1.4 (k)(l)(n)): each signature verifies with the issuer's key, each issuer is a CA
 *     (basicConstraints cA, §4.2.1.9) whose keyUsage, if present, has keyCertSign (§4.2.1.3), within its
 *     pathLenConstraint, valid at `now`, with no unhandled critical extension (§6.1.4 (o)). A leaf that is
 *     itself in the trust store (a pinned or self-signed certificate) is a path of length one;
 *  3. the leaf is valid at `now` (§4.1.2.5);
 *  4. the leaf may be used for TLS authentication: keyUsage, if present, has digitalSignature (§4.2.1.3) and
 *     extKeyUsage, if present, has serverAuth / clientAuth for the role or anyExtendedKeyUsage (§4.2.1.12);
 *  5. for server certificates, `servername` matches: SAN dNSName (wildcards only as the whole left-most label,
 *     RFC 6125 §6.4.3) or SAN iPAddress for IP literals; the subject CN only when there is no SAN (§6.4.4);
 *  6. the caller's `checkPeer` hook.
 *
 * Error codes and alerts follow OpenSSL's X509 → alert table where the brief does not fix them:
 *   ERR_DTLS_NO_CERTIFICATE / ERR_DTLS_BAD_CERTIFICATE / ERR_DTLS_CERT_NOT_YET_VALID / ERR_DTLS_HOSTNAME_MISMATCH /
 *   ERR_DTLS_CERT_REJECTED → bad_certificate; ERR_DTLS_CERT_EXPIRED → certificate_expired;
 *   ERR_DTLS_UNKNOWN_CA / ERR_DTLS_INVALID_CA / ERR_DTLS_CERT_CHAIN_TOO_LONG → unknown_ca;
 *   ERR_DTLS_CERT_SIGNATURE → decrypt_error; ERR_DTLS_CERT_PURPOSE / ERR_DTLS_CERT_UNSUPPORTED_EXTENSION →
 *   unsupported_certificate.
 *
 * Not implemented: revocation (CRL/OCSP), name constraints and certificate policies (a critical
 * nameConstraints or policyConstraints extension makes the certificate unusable rather than unchecked).
 *
 * Speed: certificates are parsed once and kept in a small LRU keyed by their bytes, together with the
 * results of signature checks against a given issuer (certificates are immutable, so those results are too).
 * node:crypto's X509Certificate parses and verifies; a minimal DER walker here reads the TBSCertificate fields
 * node does not expose (validity as numbers, names and SPKI as DER) and the five extensions we act on. Those
 * decoders are a few lines each and are cross-checked against @peculiar/x509 in test/unit/pki.test.ts; the
 * handshake path deliberately does not load @peculiar/x509, whose import alone costs ~300 ms (reflect-metadata,
 * ASN.1 schemas) and whose full parse costs ~2 ms per certificate.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { ApiMisuseError, CertificateError } from '../errors.js';
import { AlertDescription } from '../msgs/enums.js';

export interface PeerCertificate {
  /** DER bytes. */
  raw: Uint8Array;
  /** Subject as node:crypto prints it ("CN=localhost", RDNs separated by newlines). */
  subject: string;
  issuer: string;
  /** e.g. "DNS:localhost, IP Address:127.0.0.1"; undefined when the extension is absent. */
  subjectAltName: string | undefined;
  validFrom: string;
  validTo: string;
  /** SHA-256 of the DER, colon-separated upper-case hex (as node:tls reports it). */
  fingerprint256: string;
  /** Upper-case hex. */
  serialNumber: string;
  /** DER SubjectPublicKeyInfo. */
  publicKeySpki: Uint8Array;
  keyType: 'ec-p256' | 'ec-p384' | 'rsa' | 'ed25519' | 'other';
}

export interface VerifyOptions {
  /** Trusted CA certificates (DER). Used when `trust` is not given; pre-parsed once per array object. */
  trustedCas?: readonly Uint8Array[];
  /** A pre-parsed trust store; takes precedence over `trustedCas`. */
  trust?: TrustStore;
  /** Whose certificate is being checked: 'server' requires EKU serverAuth (if EKU is present), 'client' clientAuth. */
  role: 'server' | 'client';
  /** Host name or IP literal the server certificate must match (ignored for client certificates). */
  servername?: string;
  /** Wall-clock time in ms since the epoch (injected clock). */
  now: number;
  /** false: problems with trust, dates, purpose, host or the checkPeer hook are reported in `authorizationError` instead of thrown. */
  rejectUnauthorized: boolean;
  /** Custom check; returning or throwing an Error fails verification with ERR_DTLS_CERT_REJECTED (bad_certificate). */
  checkPeer?: (cert: PeerCertificate, chain: readonly PeerCertificate[]) => void | Error;
}

export interface VerifiedChain {
  leaf: PeerCertificate;
  /** The verified path leaf → trust anchor; when no path was found, the presented certificates in order. */
  chain: PeerCertificate[];
  authorized: boolean;
  authorizationError: CertificateError | undefined;
}

/** Most certificates a path may hold, leaf and trust anchor included. */
export const MAX_PATH_LENGTH = 8;
/** Most certificates accepted in a peer's Certificate message. */
export const MAX_PRESENTED_CERTIFICATES = 16;
/** Issuer candidates examined per verification (bounds path search over adversarial chains). */
const SEARCH_BUDGET = 64;
const CACHE_ENTRIES = 256;

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_SUBJECT_KEY_ID = '2.5.29.14';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const OID_ANY_EKU = '2.5.29.37.0';
/** KeyUsage bits as numbered in RFC 5280 §4.2.1.3 (bit i → 1 << i; same values as @peculiar/x509 KeyUsageFlags). */
export const KU_DIGITAL_SIGNATURE = 1 << 0;
export const KU_KEY_CERT_SIGN = 1 << 5;
/** Critical extensions we process (RFC 5280 §6.1.4 (o)): anything else critical makes a certificate unusable. */
const HANDLED_CRITICAL = new Set([
  OID_BASIC_CONSTRAINTS,
  OID_KEY_USAGE,
  OID_EXT_KEY_USAGE,
  OID_SUBJECT_ALT_NAME,
  OID_SUBJECT_KEY_ID,
  OID_AUTHORITY_KEY_ID,
  '2.5.29.32', // certificatePolicies: accepted as if any-policy (we require no explicit policy)
]);

// ---------------------------------------------------------------------------------------------------------
// Minimal DER walker: just enough of X.690 to find the TBSCertificate fields and the extensions.

class DerError extends Error {}

interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  body: number;
  /** Offset just past the content. */
  end: number;
}

function readTlv(buf: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new DerError('truncated');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used in certificates');
  let len = buf[pos + 1]!;
  let body = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError('unsupported length form');
    if (body + n > limit) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[body + i]!;
    body += n;
  }
  const end = body + len;
  if (end > limit) throw new DerError('length exceeds the enclosing value');
  return { tag, start: pos, body, end };
}

function expectTag(t: Tlv, tag: number, what: string): Tlv {
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

function decodeOid(buf: Uint8Array, start: number, end: number): string {
  const parts: number[] = [];
  let value = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    }
  }
  return parts.join('.');
}

const TIME_RE = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/;

/** UTCTime (0x17) or GeneralizedTime (0x18), RFC 5280 §4.1.2.5.1-2, to ms since the epoch. */
function decodeTime(buf: Uint8Array, t: Tlv): number {
  if (t.tag !== 0x17 && t.tag !== 0x18) throw new DerError('validity: expected UTCTime or GeneralizedTime');
  const text = String.fromCharCode(...buf.subarray(t.body, t.end));
  const m = TIME_RE.exec(text);
  if (!m || (t.tag === 0x17) !== (m[1]!.length === 2)) throw new DerError(`validity: bad time "${text}"`);
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year >= 50 ? 1900 : 2000;
  const ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? '0'));
  if (!Number.isFinite(ms)) throw new DerError(`validity: bad time "${text}"`);
  return ms;
}

interface RawExtension {
  oid: string;
  critical: boolean;
  /** The contents of extnValue: the DER encoding of the extension's value. */
  value: Uint8Array;
}

interface TbsFields {
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  spki: Uint8Array;
  notBefore: number;
  notAfter: number;
  extensions: RawExtension[];
}

function walkCertificate(der: Uint8Array): TbsFields {
  const cert = expectTag(readTlv(der, 0, der.length), 0x30, 'Certificate');
  if (cert.end !== der.length) throw new DerError('trailing bytes after the certificate');
  const tbs = expectTag(readTlv(der, cert.body, cert.end), 0x30, 'TBSCertificate');
  let pos = tbs.body;
  let t = readTlv(der, pos, tbs.end);
  if (t.tag === 0xa0) t = readTlv(der, (pos = t.end), tbs.end); // [0] EXPLICIT version
  expectTag(t, 0x02, 'serialNumber');
  t = expectTag(readTlv(der, (pos = t.end), tbs.end), 0x30, 'signature');
  const issuer = expectTag(readTlv(der, (pos = t.end), tbs.end), 0x30, 'issuer');
  const validity = expectTag(readTlv(der, (pos = issuer.end), tbs.end), 0x30, 'validity');
  const nb = readTlv(der, validity.body, validity.end);
  const na = readTlv(der, nb.end, validity.end);
  if (na.end !== validity.end) throw new DerError('validity: trailing bytes');
  const subject = expectTag(readTlv(der, (pos = validity.end), tbs.end), 0x30, 'subject');
  const spki = expectTag(readTlv(der, (pos = subject.end), tbs.end), 0x30, 'subjectPublicKeyInfo');
  pos = spki.end;
  const extensions: RawExtension[] = [];
  const seen = new Set<string>();
  while (pos < tbs.end) {
    t = readTlv(der, pos, tbs.end);
    pos = t.end;
    if (t.tag === 0x81 || t.tag === 0x82 || t.tag === 0xa1 || t.tag === 0xa2) continue; // unique identifiers
    expectTag(t, 0xa3, 'extensions');
    const list = expectTag(readTlv(der, t.body, t.end), 0x30, 'Extensions');
    for (let p = list.body; p < list.end; ) {
      const ext = expectTag(readTlv(der, p, list.end), 0x30, 'Extension');
      p = ext.end;
      const oid = expectTag(readTlv(der, ext.body, ext.end), 0x06, 'extnID');
      let q = oid.end;
      let f = readTlv(der, q, ext.end);
      let critical = false;
      if (f.tag === 0x01) {
        critical = f.end - f.body === 1 && der[f.body] !== 0;
        f = readTlv(der, (q = f.end), ext.end);
      }
      expectTag(f, 0x04, 'extnValue');
      if (f.end !== ext.end) throw new DerError('Extension: trailing bytes');
      const id = decodeOid(der, oid.body, oid.end);
      // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of a particular extension.
      if (seen.has(id)) throw new DerError(`duplicate extension ${id}`);
      seen.add(id);
      extensions.push({ oid: id, critical, value: der.subarray(f.body, f.end) });
    }
  }
  return {
    issuerDer: der.subarray(issuer.start, issuer.end),
    subjectDer: der.subarray(subject.start, subject.end),
    spki: der.subarray(spki.start, spki.end),
    notBefore: decodeTime(der, nb),
    notAfter: decodeTime(der, na),
    extensions,
  };
}

/** Reads the single value that must fill `buf` exactly. */
function whole(buf: Uint8Array, tag: number, what: string): Tlv {
  const t = expectTag(readTlv(buf, 0, buf.length), tag, what);
  if (t.end !== buf.length) throw new DerError(`${what}: trailing bytes`);
  return t;
}

function hex(buf: Uint8Array, t: Tlv): string {
  return Buffer.from(buf.buffer, buf.byteOffset + t.body, t.end - t.body).toString('hex');
}

/** RFC 5280 §4.2.1.9: BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL } */
export function decodeBasicConstraints(v: Uint8Array): { ca: boolean; pathLength: number | undefined } {
  const seq = whole(v, 0x30, 'basicConstraints');
  let ca = false;
  let pathLength: number | undefined;
  let pos = seq.body;
  if (pos < seq.end) {
    let t = readTlv(v, pos, seq.end);
    if (t.tag === 0x01) {
      if (t.end - t.body !== 1) throw new DerError('basicConstraints: bad BOOLEAN');
      ca = v[t.body] !== 0;
      pos = t.end;
      if (pos < seq.end) t = readTlv(v, pos, seq.end);
    }
    if (pos < seq.end) {
      expectTag(t, 0x02, 'pathLenConstraint');
      const len = t.end - t.body;
      if (len < 1 || len > 4 || (v[t.body]! & 0x80) !== 0) throw new DerError('basicConstraints: bad pathLenConstraint');
      pathLength = 0;
      for (let i = t.body; i < t.end; i++) pathLength = pathLength * 256 + v[i]!;
      if (t.end !== seq.end) throw new DerError('basicConstraints: trailing bytes');
    }
  }
  return { ca, pathLength };
}

/** RFC 5280 §4.2.1.3: KeyUsage ::= BIT STRING; returns bit i as 1 << i. */
export function decodeKeyUsage(v: Uint8Array): number {
  const t = whole(v, 0x03, 'keyUsage');
  const len = t.end - t.body;
  if (len < 1 || v[t.body]! > 7) throw new DerError('keyUsage: bad BIT STRING');
  let flags = 0;
  for (let i = 0; i < 16 && 1 + (i >> 3) < len; i++) {
    if (v[t.body + 1 + (i >> 3)]! & (0x80 >> (i & 7))) flags |= 1 << i;
  }
  return flags;
}

/** RFC 5280 §4.2.1.12: ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (OIDs). */
export function decodeExtKeyUsage(v: Uint8Array): string[] {
  const seq = whole(v, 0x30, 'extKeyUsage');
  const out: string[] = [];
  for (let pos = seq.body; pos < seq.end; ) {
    const t = expectTag(readTlv(v, pos, seq.end), 0x06, 'KeyPurposeId');
    out.push(decodeOid(v, t.body, t.end));
    pos = t.end;
  }
  return out;
}

/** RFC 5280 §4.2.1.2: SubjectKeyIdentifier ::= OCTET STRING; lower-case hex. */
function decodeSubjectKeyId(v: Uint8Array): string {
  return hex(v, whole(v, 0x04, 'subjectKeyIdentifier'));
}

/** RFC 5280 §4.2.1.1: AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... } */
function decodeAuthorityKeyId(v: Uint8Array): string | undefined {
  const seq = whole(v, 0x30, 'authorityKeyIdentifier');
  if (seq.body === seq.end) return undefined;
  const t = readTlv(v, seq.body, seq.end);
  return t.tag === 0x80 ? hex(v, t) : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Parsed certificates and their cache.

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function cacheKey(der: Uint8Array): string {
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
}

function oneLine(name: string): string {
  return name.replace(/\n/g, ', ');
}

function keyTypeOf(key: KeyObject | undefined): PeerCertificate['keyType'] {
  if (key === undefined) return 'other';
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'rsa';
    case 'ed25519':
      return 'ed25519';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ec-p256';
      if (curve === 'secp384r1') return 'ec-p384';
      return 'other';
    }
    default:
      return 'other';
  }
}

/** One parsed certificate. Internal: everything the path search needs, decoded once. */
class ParsedCert {
  readonly key: string;
  readonly raw: Uint8Array;
  readonly x: X509Certificate;
  readonly publicKey: KeyObject | undefined;
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  /** basicConstraints, or undefined when absent. */
  readonly basicConstraints: { ca: boolean; pathLength: number | undefined } | undefined;
  /** keyUsage bits (KU_*), or undefined when absent. */
  readonly keyUsage: number | undefined;
  /** extKeyUsage OIDs, or undefined when absent. */
  readonly extKeyUsage: readonly string[] | undefined;
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
  /** The first critical extension we do not process, if any. */
  readonly unhandledCritical: string | undefined;
  /** A v1-style certificate: no extensions at all. */
  readonly noExtensions: boolean;
  readonly selfIssued: boolean;
  readonly peer: PeerCertificate;
  /** Signature check results by issuer cache key (bounded). */
  private readonly verified = new Map<string, boolean>();

  constructor(der: Uint8Array, key: string) {
    this.key = key;
    this.raw = der;
    const tbs = walkCertificate(der);
    this.x = new X509Certificate(der);
    this.subjectDer = tbs.subjectDer;
    this.issuerDer = tbs.issuerDer;
    this.notBefore = tbs.notBefore;
    this.notAfter = tbs.notAfter;
    this.noExtensions = tbs.extensions.length === 0;
    let bc: ParsedCert['basicConstraints'];
    let ku: number | undefined;
    let eku: string[] | undefined;
    let ski: string | undefined;
    let aki: string | undefined;
    let unhandled: string | undefined;
    for (const ext of tbs.extensions) {
      switch (ext.oid) {
        case OID_BASIC_CONSTRAINTS:
          bc = decodeBasicConstraints(ext.value);
          break;
        case OID_KEY_USAGE:
          ku = decodeKeyUsage(ext.value);
          break;
        case OID_EXT_KEY_USAGE:
          eku = decodeExtKeyUsage(ext.value);
          break;
        case OID_SUBJECT_KEY_ID:
          ski = decodeSubjectKeyId(ext.value);
          break;
        case OID_AUTHORITY_KEY_ID:
          aki = decodeAuthorityKeyId(ext.value);
          break;
        default:
          if (ext.critical && !HANDLED_CRITICAL.has(ext.oid) && unhandled === undefined) unhandled = ext.oid;
      }
    }
    this.basicConstraints = bc;
    this.keyUsage = ku;
    this.extKeyUsage = eku;
    this.subjectKeyId = ski;
    this.authorityKeyId = aki;
    this.unhandledCritical = unhandled;
    this.selfIssued = bytesEqual(tbs.subjectDer, tbs.issuerDer) || this.x.subject === this.x.issuer;
    let publicKey: KeyObject | undefined;
    try {
      publicKey = this.x.publicKey;
    } catch {
      publicKey = undefined; // an algorithm OpenSSL cannot load; signatures by this key will not verify
    }
    this.publicKey = publicKey;
    this.peer = Object.freeze({
      raw: der,
      subject: this.x.subject,
      issuer: this.x.issuer,
      subjectAltName: this.x.subjectAltName,
      validFrom: this.x.validFrom,
      validTo: this.x.validTo,
      fingerprint256: this.x.fingerprint256,
      serialNumber: this.x.serialNumber,
      publicKeySpki: tbs.spki,
      keyType: keyTypeOf(publicKey),
    });
  }

  /** RFC 5280 §7.1 name chaining: DER-equal, or equal as OpenSSL prints them (tolerates string-type differences). */
  issuedBy(candidate: ParsedCert): boolean {
    return bytesEqual(this.issuerDer, candidate.subjectDer) || this.x.issuer === candidate.x.subject;
  }

  /** Whether `issuer`'s key verifies this certificate's signature (memoized; certificates are immutable). */
  signatureVerifiesWith(issuer: ParsedCert): boolean {
    const known = this.verified.get(issuer.key);
    if (known !== undefined) return known;
    let ok = false;
    if (issuer.publicKey !== undefined) {
      try {
        ok = this.x.verify(issuer.publicKey);
      } catch {
        ok = false;
      }
    }
    if (this.verified.size >= 8) this.verified.clear();
    this.verified.set(issuer.key, ok);
    return ok;
  }
}

const cache = new Map<string, ParsedCert>();

function describeParseFailure(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Parses (or fetches from the LRU) one certificate; malformed DER throws ERR_DTLS_BAD_CERTIFICATE. */
function parseCertificate(der: Uint8Array, what: string): ParsedCert {
  const key = cacheKey(der);
  const hit = cache.get(key);
  if (hit !== undefined) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  let parsed: ParsedCert;
  try {
    parsed = new ParsedCert(new Uint8Array(der), key);
  } catch (err) {
    throw new CertificateError(
      'ERR_DTLS_BAD_CERTIFICATE',
      `${what} is not a valid X.509 certificate: ${describeParseFailure(err)}`,
      AlertDescription.bad_certificate,
      { cause: err },
    );
  }
  cache.set(key, parsed);
  if (cache.size > CACHE_ENTRIES) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  return parsed;
}

// ---------------------------------------------------------------------------------------------------------
// Trust store.

/** Trusted CA certificates, parsed once and indexed by subject. */
export class TrustStore {
  private readonly byKey = new Map<string, ParsedCert>();
  private readonly bySubject = new Map<string, ParsedCert[]>();
  private readonly anchors: ParsedCert[] = [];

  constructor(casDer: readonly Uint8Array[]) {
    casDer.forEach((der, i) => {
      let cert: ParsedCert;
      try {
        cert = parseCertificate(der, `trusted CA certificate #${i + 1}`);
      } catch (err) {
        throw new ApiMisuseError('ERR_DTLS_BAD_CA', err instanceof Error ? err.message : String(err));
      }
      if (this.byKey.has(cert.key)) return;
      this.byKey.set(cert.key, cert);
      this.anchors.push(cert);
      const list = this.bySubject.get(cert.x.subject);
      if (list) list.push(cert);
      else this.bySubject.set(cert.x.subject, [cert]);
    });
  }

  get size(): number {
    return this.anchors.length;
  }

  /** Whether these exact certificate bytes are trusted. */
  has(der: Uint8Array): boolean {
    return this.byKey.has(cacheKey(der));
  }

  /** DER subject names of the trusted CAs, e.g. for CertificateRequest.certificate_authorities (RFC 5246 §7.4.4). */
  distinguishedNames(): Uint8Array[] {
    return this.anchors.map((c) => new Uint8Array(c.subjectDer));
  }

  /** @internal */
  contains(cert: ParsedCert): boolean {
    return this.byKey.has(cert.key);
  }

  /** @internal trusted certificates whose subject is `cert`'s issuer. */
  issuersOf(cert: ParsedCert): readonly ParsedCert[] {
    const direct = this.bySubject.get(cert.x.issuer);
    if (direct !== undefined) return direct;
    // Names that print differently but are DER-equal are not expected; fall back to a scan for them.
    return this.anchors.filter((a) => bytesEqual(a.subjectDer, cert.issuerDer));
  }
}

const storesByArray = new WeakMap<readonly Uint8Array[], TrustStore>();

/** Trust store for a `trustedCas` array, parsed once per array object (treat the array as immutable). */
function trustStoreFor(cas: readonly Uint8Array[]): TrustStore {
  let store = storesByArray.get(cas);
  if (store === undefined) {
    store = new TrustStore(cas);
    storesByArray.set(cas, store);
  }
  return store;
}

// ---------------------------------------------------------------------------------------------------------
// Checks.

function validityError(cert: ParsedCert, now: number, role: string): CertificateError | undefined {
  if (now < cert.notBefore) {
    return new CertificateError(
      'ERR_DTLS_CERT_NOT_YET_VALID',
      `${role} certificate "${oneLine(cert.x.subject)}" is not valid before ${cert.x.validFrom}`,
      AlertDescription.bad_certificate,
    );
  }
  if (now > cert.notAfter) {
    return new CertificateError(
      'ERR_DTLS_CERT_EXPIRED',
      `${role} certificate "${oneLine(cert.x.subject)}" expired on ${cert.x.validTo}`,
      AlertDescription.certificate_expired,
    );
  }
  return undefined;
}

function unhandledCriticalError(cert: ParsedCert): CertificateError | undefined {
  if (cert.unhandledCritical === undefined) return undefined;
  return new CertificateError(
    'ERR_DTLS_CERT_UNSUPPORTED_EXTENSION',
    `certificate "${oneLine(cert.x.subject)}" has an unsupported critical extension ${cert.unhandledCritical} (RFC 5280 §4.2)`,
    AlertDescription.unsupported_certificate,
  );
}

/** Why `issuer` cannot be the next certificate after `chain` (whose last element `child` it would sign). */
function issuerProblem(
  child: ParsedCert,
  issuer: ParsedCert,
  chain: readonly ParsedCert[],
  trusted: boolean,
  now: number,
): CertificateError | undefined {
  const name = oneLine(issuer.x.subject);
  if (!child.signatureVerifiesWith(issuer)) {
    return new CertificateError(
      'ERR_DTLS_CERT_SIGNATURE',
      `the signature on "${oneLine(child.x.subject)}" does not verify with the key of "${name}"`,
      AlertDescription.decrypt_error,
    );
  }
  const critical = unhandledCriticalError(issuer);
  if (critical) return critical;
  // RFC 5280 §4.2.1.9 / §6.1.4 (k): an issuer must assert cA. A trust anchor without any extensions (an
  // X.509 v1 root) is accepted as configured.
  const isCa = issuer.basicConstraints?.ca === true || (trusted && issuer.noExtensions);
  if (!isCa) {
    return new CertificateError(
      'ERR_DTLS_INVALID_CA',
      `"${name}" issued "${oneLine(child.x.subject)}" but is not a CA (basicConstraints cA not set, RFC 5280 §4.2.1.9)`,
      AlertDescription.unknown_ca,
    );
  }
  // §4.2.1.3 / §6.1.4 (n): if keyUsage is present, keyCertSign must be set.
  if (issuer.keyUsage !== undefined && (issuer.keyUsage & KU_KEY_CERT_SIGN) === 0) {
    return new CertificateError(
      'ERR_DTLS_INVALID_CA',
      `CA "${name}" may not sign certificates (keyUsage lacks keyCertSign, RFC 5280 §4.2.1.3)`,
      AlertDescription.unknown_ca,
    );
  }
  // §4.2.1.9 / §6.1.4 (l)(m): pathLenConstraint counts the non-self-issued intermediates below this CA.
  const pathLength = issuer.basicConstraints?.pathLength;
  if (pathLength !== undefined) {
    let intermediates = 0;
    for (let i = 1; i < chain.length; i++) if (!chain[i]!.selfIssued) intermediates++;
    if (intermediates > pathLength) {
      return new CertificateError(
        'ERR_DTLS_INVALID_CA',
        `CA "${name}" allows ${pathLength} intermediate(s) below it, the path has ${intermediates} (RFC 5280 §4.2.1.9)`,
        AlertDescription.unknown_ca,
      );
    }
  }
  return validityError(issuer, now, 'CA');
}

/**
 * Depth-first search for a path leaf → ... → trust anchor (RFC 5280 §6.1). Candidates come from the trust
 * store first, then from the presented certificates (in any order). Returns the path, or the most relevant
 * reason none was found.
 */
function buildPath(
  leaf: ParsedCert,
  presented: readonly ParsedCert[],
  trust: TrustStore,
  now: number,
): { path: ParsedCert[] } | { error: CertificateError } {
  let budget = SEARCH_BUDGET;
  let firstProblem: CertificateError | undefined;
  let tooLong = false;
  const note = (e: CertificateError): void => {
    firstProblem ??= e;
  };

  const visit = (chain: ParsedCert[]): ParsedCert[] | undefined => {
    const current = chain[chain.length - 1]!;
    if (trust.contains(current)) return chain;
    if (chain.length >= MAX_PATH_LENGTH) {
      tooLong = true;
      return undefined;
    }
    const inChain = (c: ParsedCert): boolean => chain.some((p) => p.key === c.key);
    const candidates: ParsedCert[] = [];
    for (const c of trust.issuersOf(current)) if (!inChain(c)) candidates.push(c);
    for (const c of presented) {
      if (!inChain(c) && !candidates.some((k) => k.key === c.key) && current.issuedBy(c)) candidates.push(c);
    }
    for (const candidate of candidates) {
      if (--budget < 0) {
        tooLong = true;
        return undefined;
      }
      // RFC 5280 §4.2.1.1: when both key identifiers are present they must agree (a different CA of that name).
      if (
        current.authorityKeyId !== undefined &&
        candidate.subjectKeyId !== undefined &&
        current.authorityKeyId !== candidate.subjectKeyId
      ) {
        continue;
      }
      const trusted = trust.contains(candidate);
      const problem = issuerProblem(current, candidate, chain, trusted, now);
      if (problem) {
        note(problem);
        continue;
      }
      if (trusted) return [...chain, candidate];
      const found = visit([...chain, candidate]);
      if (found) return found;
    }
    return undefined;
  };

  const path = visit([leaf]);
  if (path) return { path };
  if (firstProblem) return { error: firstProblem };
  if (tooLong) {
    return {
      error: new CertificateError(
        'ERR_DTLS_CERT_CHAIN_TOO_LONG',
        `no certification path of at most ${MAX_PATH_LENGTH} certificates leads to a trusted CA`,
        AlertDescription.unknown_ca,
      ),
    };
  }
  const subject = oneLine(leaf.x.subject);
  const message = leaf.selfIssued
    ? `self-signed certificate "${subject}" is not trusted (it is not in the trust store)`
    : `certificate "${subject}" was issued by "${oneLine(leaf.x.issuer)}", which is not a trusted CA and not among the presented intermediates`;
  return { error: new CertificateError('ERR_DTLS_UNKNOWN_CA', message, AlertDescription.unknown_ca) };
}

/** RFC 5280 §4.2.1.3 and §4.2.1.12: may this leaf authenticate a TLS server / client? */
function purposeError(leaf: ParsedCert, role: 'server' | 'client'): CertificateError | undefined {
  const critical = unhandledCriticalError(leaf);
  if (critical) return critical;
  const subject = oneLine(leaf.x.subject);
  if (leaf.keyUsage !== undefined && (leaf.keyUsage & KU_DIGITAL_SIGNATURE) === 0) {
    return new CertificateError(
      'ERR_DTLS_CERT_PURPOSE',
      `${role} certificate "${subject}" may not be used for signatures (keyUsage lacks digitalSignature, RFC 5280 §4.2.1.3)`,
      AlertDescription.unsupported_certificate,
    );
  }
  const wanted = role === 'server' ? OID_SERVER_AUTH : OID_CLIENT_AUTH;
  const eku = leaf.extKeyUsage;
  if (eku !== undefined && !eku.includes(wanted) && !eku.includes(OID_ANY_EKU)) {
    return new CertificateError(
      'ERR_DTLS_CERT_PURPOSE',
      `${role} certificate "${subject}" is not valid for TLS ${role} authentication (extKeyUsage ${eku.join(', ') || 'empty'} lacks ${wanted}, RFC 5280 §4.2.1.12)`,
      AlertDescription.unsupported_certificate,
    );
  }
  return undefined;
}

/** RFC 6125 §6.4: does the server certificate match the name the client asked for? */
function hostError(leaf: ParsedCert, servername: string): CertificateError | undefined {
  let name = servername.trim();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  const zone = name.indexOf('%');
  if (zone > 0 && isIP(name.slice(0, zone)) === 6) name = name.slice(0, zone); // fe80::1%eth0
  let matched: string | undefined;
  try {
    if (isIP(name) !== 0) {
      // §6.4: an IP literal is compared with iPAddress SAN entries only, never with DNS names or the CN.
      matched = leaf.x.checkIP(name);
    } else {
      name = name.toLowerCase();
      if (name.endsWith('.')) name = name.slice(0, -1);
      const ascii = domainToASCII(name);
      matched = leaf.x.checkHost(ascii === '' ? name : ascii, {
        // §6.4.4: the CN is a fallback only for certificates without subjectAltName.
        subject: leaf.x.subjectAltName === undefined ? 'always' : 'never',
        wildcards: true,
        // §6.4.3: '*' only as the complete left-most label, matching exactly one label.
        partialWildcards: false,
        multiLabelWildcards: false,
        singleLabelSubdomains: false,
      });
    }
  } catch {
    matched = undefined;
  }
  if (matched !== undefined) return undefined;
  const names = leaf.x.subjectAltName ?? `no subjectAltName; subject ${oneLine(leaf.x.subject)}`;
  return new CertificateError(
    'ERR_DTLS_HOSTNAME_MISMATCH',
    `server certificate is not valid for "${servername}" (certificate names: ${names})`,
    AlertDescription.bad_certificate,
  );
}

function checkPeerError(
  hook: NonNullable<VerifyOptions['checkPeer']>,
  leaf: PeerCertificate,
  chain: readonly PeerCertificate[],
): CertificateError | undefined {
  let result: unknown;
  try {
    result = hook(leaf, chain);
  } catch (err) {
    result = err instanceof Error ? err : new Error(String(err));
  }
  if (!(result instanceof Error)) return undefined;
  if (result instanceof CertificateError) return result;
  return new CertificateError(
    'ERR_DTLS_CERT_REJECTED',
    `certificate rejected by checkPeer: ${result.message}`,
    AlertDescription.bad_certificate,
    { cause: result },
  );
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Verifies a peer's certificate chain (DER, leaf first, as sent in the Certificate message).
 *
 * Throws CertificateError for an empty chain, malformed DER or an over-long chain, whatever
 * `rejectUnauthorized` says. Any other failure is thrown when `rejectUnauthorized` is true and otherwise
 * returned as `authorizationError` with `authorized: false`. With `rejectUnauthorized: false` the `checkPeer`
 * hook runs even after an earlier failure (its error is reported only if it is the first).
 */
export function verifyCertificateChain(chainDer: readonly Uint8Array[], opts: VerifyOptions): VerifiedChain {
  if (chainDer.length === 0) {
    throw new CertificateError('ERR_DTLS_NO_CERTIFICATE', 'the peer sent no certificate', AlertDescription.bad_certificate);
  }
  if (chainDer.length > MAX_PRESENTED_CERTIFICATES) {
    throw new CertificateError(
      'ERR_DTLS_CERT_CHAIN_TOO_LONG',
      `the peer sent ${chainDer.length} certificates; at most ${MAX_PRESENTED_CERTIFICATES} are accepted`,
      AlertDescription.bad_certificate,
    );
  }
  const presented = chainDer.map((der, i) =>
    parseCertificate(der, i === 0 ? `${opts.role} certificate` : `${opts.role} chain certificate #${i + 1}`),
  );
  const leaf = presented[0]!;
  const trust = opts.trust ?? trustStoreFor(opts.trustedCas ?? []);

  let error: CertificateError | undefined;
  const fail = (e: CertificateError | undefined): void => {
    if (e === undefined || error !== undefined) return;
    if (opts.rejectUnauthorized) throw e;
    error = e;
  };

  const built = buildPath(leaf, presented.slice(1), trust, opts.now);
  let path: readonly ParsedCert[];
  if ('path' in built) {
    path = built.path;
  } else {
    path = presented;
    fail(built.error);
  }
  fail(validityError(leaf, opts.now, opts.role));
  fail(purposeError(leaf, opts.role));
  if (opts.role === 'server' && opts.servername !== undefined && opts.servername !== '') {
    fail(hostError(leaf, opts.servername));
  }
  const chain = path.map((c) => c.peer);
  if (opts.checkPeer) fail(checkPeerError(opts.checkPeer, leaf.peer, chain));
  return { leaf: leaf.peer, chain, authorized: error === undefined, authorizationError: error };
}

/** Parses one DER certificate into the public shape (throws ERR_DTLS_BAD_CERTIFICATE when malformed). */
export function describeCertificate(der: Uint8Array): PeerCertificate {
  return parseCertificate(der, 'certificate').peer;
}
