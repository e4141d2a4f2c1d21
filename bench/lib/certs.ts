/**
 * The bench's certificates: a fresh development CA, server and client certificate (ECDSA P-256) in a new
 * temporary directory, as files (for the OpenSSL peers) and as PEM text (for ours and werift). The caller
 * removes `files.dir` when done.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDevCertificates } from '../../src/index.js';
import type { CertFiles } from './openssl.js';
import type { CertPems } from './peers.js';

export async function benchCertificates(): Promise<{ files: CertFiles; pems: CertPems }> {
  const dir = mkdtempSync(join(tmpdir(), 'dtls-bench-'));
  await generateDevCertificates({ dir });
  const files: CertFiles = {
    dir,
    ca: join(dir, 'ca-cert.pem'),
    serverCert: join(dir, 'server-cert.pem'),
    serverKey: join(dir, 'server-key.pem'),
    clientCert: join(dir, 'client-cert.pem'),
    clientKey: join(dir, 'client-key.pem'),
  };
  const read = (p: string): string => readFileSync(p, 'utf8');
  const pems: CertPems = { ca: read(files.ca), serverCert: read(files.serverCert), serverKey: read(files.serverKey), clientCert: read(files.clientCert), clientKey: read(files.clientKey) };
  return { files, pems };
}
