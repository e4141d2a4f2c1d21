/** Development certificates for tests, generated once per test process into a temporary directory. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDevCertificates } from '../../src/cli/certs.js';

export interface CertSet {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

const cache = new Map<string, Promise<CertSet>>();

/** 'ec' is ECDSA P-256; 'p384' ECDSA P-384; 'rsa' RSA-2048; 'ed25519' Ed25519. */
export function testCerts(kind: 'ec' | 'rsa' | 'p384' | 'ed25519' = 'ec'): Promise<CertSet> {
  let p = cache.get(kind);
  if (p === undefined) {
    p = (async () => {
      const dir = mkdtempSync(join(tmpdir(), `dtls-test-${kind}-`));
      await generateDevCertificates({ dir, keyType: kind === 'ec' ? 'p256' : kind });
      const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
      return {
        dir,
        ca: read('ca-cert.pem'),
        serverCert: read('server-cert.pem'),
        serverKey: read('server-key.pem'),
        clientCert: read('client-cert.pem'),
        clientKey: read('client-key.pem'),
      };
    })();
    cache.set(kind, p);
  }
  return p;
}
