/**
 * Loading certificates and private keys from files, for the public API and the CLI. Every failure is an
 * ApiMisuseError with a one-line message that names the file.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApiMisuseError } from '../errors.js';

export interface Credentials {
  /** DER, leaf first. */
  certificateChain: Uint8Array[];
  /** The private key as PKCS#8 PEM (whatever PEM form the file used). */
  privateKeyPem: string;
}

const PEM_CERT_RE = /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----([\s\S]*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----/g;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** All CERTIFICATE blocks of a PEM text, as DER, in file order. */
export function parsePemCertificates(pem: string, sourceName: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(PEM_CERT_RE)) {
    const body = m[1]!.replace(/\s+/g, '');
    const n = out.length + 1;
    if (!BASE64_RE.test(body) || body.length === 0) {
      throw new ApiMisuseError('ERR_DTLS_BAD_CERTIFICATE_FILE', `${sourceName}: certificate #${n} is not valid base64`);
    }
    const der = new Uint8Array(Buffer.from(body, 'base64'));
    try {
      new X509Certificate(der);
    } catch {
      throw new ApiMisuseError('ERR_DTLS_BAD_CERTIFICATE_FILE', `${sourceName}: certificate #${n} is not a valid X.509 certificate`);
    }
    out.push(der);
  }
  if (out.length === 0) {
    throw new ApiMisuseError('ERR_DTLS_BAD_CERTIFICATE_FILE', `${sourceName}: no PEM certificate found`);
  }
  return out;
}

function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Reads a file; ENOENT → ERR_DTLS_FILE_NOT_FOUND, anything else → ERR_DTLS_FILE_UNREADABLE. */
function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      throw new ApiMisuseError('ERR_DTLS_FILE_NOT_FOUND', `${what} not found: ${path}`);
    }
    const reason = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? (err instanceof Error ? err.message : String(err)));
    throw new ApiMisuseError('ERR_DTLS_FILE_UNREADABLE', `cannot read ${what} ${path}: ${reason}`);
  }
}

function loadPrivateKey(text: string, keyFile: string): KeyObject {
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    const what = /-----BEGIN CERTIFICATE-----/.test(text) ? 'contains a certificate, not a private key' : 'contains no PEM private key';
    throw new ApiMisuseError('ERR_DTLS_BAD_KEY_FILE', `${keyFile} ${what}`);
  }
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ERR_MISSING_PASSPHRASE' || /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
      throw new ApiMisuseError('ERR_DTLS_BAD_KEY_FILE', `${keyFile} is an encrypted private key; decrypt it first (e.g. openssl pkey -in ${keyFile} -out key.pem)`);
    }
    throw new ApiMisuseError('ERR_DTLS_BAD_KEY_FILE', `${keyFile} is not a valid PEM private key`);
  }
}

function spkiOfKey(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

function spkiOfCertificate(certDer: Uint8Array): Buffer {
  return new X509Certificate(certDer).publicKey.export({ type: 'spki', format: 'der' });
}

/** Whether the private key's public half is the certificate's subject public key. */
export function checkKeyMatchesCertificate(privateKeyPem: string, certDer: Uint8Array): boolean {
  try {
    return spkiOfKey(createPrivateKey(privateKeyPem)).equals(spkiOfCertificate(certDer));
  } catch {
    return false;
  }
}

/** Loads a PEM certificate chain (leaf first) and its PEM private key, checking that they belong together. */
export function loadCredentialFiles(certFile: string, keyFile: string): Credentials {
  const certificateChain = parsePemCertificates(readFile(certFile, 'certificate file').toString('latin1'), certFile);
  const key = loadPrivateKey(readFile(keyFile, 'key file').toString('latin1'), keyFile);
  let matches: boolean;
  try {
    matches = spkiOfKey(key).equals(spkiOfCertificate(certificateChain[0]!));
  } catch {
    matches = false;
  }
  if (!matches) {
    throw new ApiMisuseError('ERR_DTLS_KEY_MISMATCH', `${keyFile} does not match the certificate in ${certFile}`);
  }
  const privateKeyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certificateChain, privateKeyPem };
}

/** Loads trusted CA certificates: a PEM bundle (any number of CERTIFICATE blocks) or a single DER certificate. */
export function loadCaFile(caFile: string): Uint8Array[] {
  const data = readFile(caFile, 'CA file');
  const text = data.toString('latin1');
  if (!text.includes('-----BEGIN') && data.length > 0 && data[0] === 0x30) {
    try {
      new X509Certificate(data);
      return [new Uint8Array(data)];
    } catch {
      // fall through to the PEM error below
    }
  }
  return parsePemCertificates(text, caFile);
}
