/** `dtls certs [DIR]`: makes a development CA and the classic server and client certificates. */
import { ApiMisuseError } from '../errors.js';
import { generateDevCertificates } from './certs.js';
import { CliError, parse } from './common.js';

export const CERTS_USAGE = `Usage: dtls certs [DIR] [--rsa] [--force]

Creates a development CA and certificates in DIR (default certs):
  ca-cert.pem ca-key.pem            the CA
  server-cert.pem server-key.pem    CN=localhost, for localhost, 127.0.0.1 and ::1
  client-cert.pem client-key.pem    CN=dtls-client

Options:
  --rsa        RSA-2048 keys instead of ECDSA P-256
  --force      overwrite existing files
  -h, --help   show this help`;

export async function certsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { rsa: { type: 'boolean' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help) {
    process.stdout.write(`${CERTS_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new CliError('dtls certs takes at most one DIR argument (see --help)', 2);
  const dir = positionals[0] ?? 'certs';
  try {
    const { files } = await generateDevCertificates({ dir, rsa: values.rsa === true, force: values.force === true });
    process.stderr.write(`[dtls certs] wrote ${files.join(', ')}\n`);
  } catch (e) {
    if (e instanceof ApiMisuseError) throw new CliError(e.message);
    throw e;
  }
  return 0;
}
