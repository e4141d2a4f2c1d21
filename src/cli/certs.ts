/**
 * `dtls certs`: writes a development PKI — a CA, a server certificate and a client certificate — so that a
 * server and a client can authenticate each other out of the box:
 *
 *   ca-cert.pem / ca-key.pem          self-signed CA: basicConstraints cA (critical), keyUsage keyCertSign+cRLSign
 *   server-cert.pem / server-key.pem  CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1, EKU serverAuth
 *   client-cert.pem / client-key.pem  CN=dtls-client, EKU clientAuth
 *
 * Keys are ECDSA P-256 (ecdsa-with-SHA256) by default, RSA-2048 (sha256WithRSAEncryption) with `rsa: true`.
 * Private keys are written as PKCS#8 PEM with mode 0600. These are for development and testing only.
 */
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as x509 from '@peculiar/x509';
import { ApiMisuseError } from '../errors.js';

export interface GenerateOptions {
  /** Output directory; created (recursively) if missing. */
  dir: string;
  /** RSA-2048 keys instead of ECDSA P-256 (same as keyType 'rsa'). */
  rsa?: boolean;
  /** Key type of all three certificates: ECDSA P-256 (default), ECDSA P-384, RSA-2048 or Ed25519. */
  keyType?: CertKeyType;
  /** Validity in days of all three certificates; default 825 for the leaves and 3650 for the CA. */
  days?: number;
  /** Overwrite existing files. Default false: an existing file is an error (ERR_DTLS_FILE_EXISTS). */
  force?: boolean;
}

const LEAF_DAYS = 825;
const CA_DAYS = 3650;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

type KeyPair = webcrypto.CryptoKeyPair;

export type CertKeyType = 'p256' | 'p384' | 'rsa' | 'ed25519';
export const CERT_KEY_TYPES: readonly CertKeyType[] = ['p256', 'p384', 'rsa', 'ed25519'];

const crypto = webcrypto;

function keyAlgorithm(type: CertKeyType): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams | webcrypto.Algorithm {
  switch (type) {
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as webcrypto.RsaHashedKeyGenParams;
    case 'p384':
      return { name: 'ECDSA', namedCurve: 'P-384' } as webcrypto.EcKeyGenParams;
    case 'ed25519':
      return { name: 'Ed25519' };
    case 'p256':
      return { name: 'ECDSA', namedCurve: 'P-256' } as webcrypto.EcKeyGenParams;
  }
}

function signingAlgorithm(type: CertKeyType): webcrypto.Algorithm | webcrypto.EcdsaParams {
  switch (type) {
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5' };
    case 'p384':
      return { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams;
    case 'ed25519':
      return { name: 'Ed25519' };
    case 'p256':
      return { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams;
  }
}

async function generateKeyPair(type: CertKeyType): Promise<KeyPair> {
  return crypto.subtle.generateKey(keyAlgorithm(type) as webcrypto.EcKeyGenParams, true, ['sign', 'verify']) as Promise<KeyPair>;
}

/** A random positive 128-bit serial number (RFC 5280 §4.1.2.2: positive, at most 20 octets), as hex. */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

function privateKeyPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

interface PlannedFile {
  name: string;
  contents: string;
  secret: boolean;
}

export async function generateDevCertificates(opts: GenerateOptions): Promise<{ files: string[] }> {
  const dir = resolve(opts.dir);
  const keyType: CertKeyType = opts.keyType ?? (opts.rsa === true ? 'rsa' : 'p256');
  if (!CERT_KEY_TYPES.includes(keyType)) {
    throw new ApiMisuseError('ERR_DTLS_INVALID_OPTION', `keyType must be one of ${CERT_KEY_TYPES.join(', ')}, got ${String(keyType)}`);
  }
  const rsa = keyType === 'rsa';
  const force = opts.force === true;
  if (opts.days !== undefined && (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 36_500)) {
    throw new ApiMisuseError('ERR_DTLS_INVALID_OPTION', `days must be an integer between 1 and 36500, got ${String(opts.days)}`);
  }
  const names = ['ca-cert.pem', 'ca-key.pem', 'server-cert.pem', 'server-key.pem', 'client-cert.pem', 'client-key.pem'];
  if (!force) {
    for (const name of names) {
      const path = join(dir, name);
      if (existsSync(path)) {
        throw new ApiMisuseError('ERR_DTLS_FILE_EXISTS', `${path} already exists (use --force to overwrite)`);
      }
    }
  }

  const notBefore = new Date(Date.now() - HOUR_MS);
  const caNotAfter = new Date(notBefore.getTime() + (opts.days ?? CA_DAYS) * DAY_MS);
  const leafNotAfter = new Date(notBefore.getTime() + (opts.days ?? LEAF_DAYS) * DAY_MS);
  const signAlg = signingAlgorithm(keyType);

  const [caKeys, serverKeys, clientKeys] = await Promise.all([
    generateKeyPair(keyType),
    generateKeyPair(keyType),
    generateKeyPair(keyType),
  ]);

  const caCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: 'O=node-dtls-stack, CN=DTLS Development CA',
      notBefore,
      notAfter: caNotAfter,
      keys: caKeys,
      signingAlgorithm: signAlg,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const aki = await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto);

  const serverUsage = rsa
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
    : x509.KeyUsageFlags.digitalSignature;
  const serverCert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: 'CN=localhost',
      issuer: caCert.subject,
      notBefore,
      notAfter: leafNotAfter,
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: signAlg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(serverUsage, true),
        new x509.ExtendedKeyUsageExtension([OID_SERVER_AUTH], false),
        new x509.SubjectAlternativeNameExtension(
          [
            { type: 'dns', value: 'localhost' },
            { type: 'ip', value: '127.0.0.1' },
            { type: 'ip', value: '::1' },
          ],
          false,
        ),
        await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey, false, crypto),
        aki,
      ],
    },
    crypto,
  );

  const clientCert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: 'CN=dtls-client',
      issuer: caCert.subject,
      notBefore,
      notAfter: leafNotAfter,
      publicKey: clientKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: signAlg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([OID_CLIENT_AUTH], false),
        await x509.SubjectKeyIdentifierExtension.create(clientKeys.publicKey, false, crypto),
        aki,
      ],
    },
    crypto,
  );

  const planned: PlannedFile[] = [
    { name: 'ca-cert.pem', contents: caCert.toString('pem') + '\n', secret: false },
    { name: 'ca-key.pem', contents: privateKeyPem(caKeys.privateKey), secret: true },
    { name: 'server-cert.pem', contents: serverCert.toString('pem') + '\n', secret: false },
    { name: 'server-key.pem', contents: privateKeyPem(serverKeys.privateKey), secret: true },
    { name: 'client-cert.pem', contents: clientCert.toString('pem') + '\n', secret: false },
    { name: 'client-key.pem', contents: privateKeyPem(clientKeys.privateKey), secret: true },
  ];

  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new ApiMisuseError('ERR_DTLS_FILE_UNWRITABLE', `cannot create directory ${dir}: ${errnoText(err)}`);
  }
  const files: string[] = [];
  for (const f of planned) {
    const path = join(dir, f.name);
    try {
      // 'wx' refuses to replace a file that appeared since the check above.
      writeFileSync(path, f.contents, { mode: f.secret ? 0o600 : 0o644, flag: force ? 'w' : 'wx' });
      // The mode only applies when the file is created; tighten an overwritten key file too.
      if (f.secret) chmodSync(path, 0o600);
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') {
        throw new ApiMisuseError('ERR_DTLS_FILE_EXISTS', `${path} already exists (use --force to overwrite)`);
      }
      throw new ApiMisuseError('ERR_DTLS_FILE_UNWRITABLE', `cannot write ${path}: ${errnoText(err)}`);
    }
    files.push(path);
  }
  return { files };
}

function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function errnoText(err: unknown): string {
  return errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
}
