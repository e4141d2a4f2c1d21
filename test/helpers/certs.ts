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

export function testCerts(kind: 'ec' | 'rsa' = 'ec'): Promise<CertSet> {
  let p = cache.get(kind);
  if (p === undefined) {
    p = (async () => {
      const dir = mkdtempSync(join(tmpdir(), `dtls-test-${kind}-`));
      await generateDevCertificates({ dir, rsa: kind === 'rsa' });
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
