/** `dtls certs [DIR]`: makes a development CA and the classic server and client certificates. */
import { ApiMisuseError } from '../errors.js';
import { CERT_KEY_TYPES, generateDevCertificates, type CertKeyType } from './certs.js';
import { CliError, parse } from './common.js';

export const CERTS_USAGE = `Usage: dtls certs [DIR] [--key-type p256|p384|rsa|ed25519] [--rsa] [--force]

Creates a development CA and certificates in DIR (default certs):
  ca-cert.pem ca-key.pem            the CA
  server-cert.pem server-key.pem    CN=localhost, for localhost, 127.0.0.1 and ::1
  client-cert.pem client-key.pem    CN=dtls-client

Options:
  --key-type T  key type of the CA and both certificates: p256 (ECDSA P-256, default), p384 (ECDSA P-384),
                rsa (RSA-2048) or ed25519
  --rsa         the same as --key-type rsa
  --force       overwrite existing files
  -h, --help    show this help`;

export async function certsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { rsa: { type: 'boolean' }, 'key-type': { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help) {
    process.stdout.write(`${CERTS_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new CliError('dtls certs takes at most one DIR argument (see --help)', 2);
  const dir = positionals[0] ?? 'certs';
  const keyTypeArg = values['key-type'];
  if (keyTypeArg !== undefined && !CERT_KEY_TYPES.includes(keyTypeArg as CertKeyType)) {
    throw new CliError(`--key-type must be one of ${CERT_KEY_TYPES.join(', ')}, got ${String(keyTypeArg)}`, 2);
  }
  const keyType: CertKeyType = (keyTypeArg as CertKeyType | undefined) ?? (values.rsa === true ? 'rsa' : 'p256');
  try {
    const { files } = await generateDevCertificates({ dir, keyType, force: values.force === true });
    process.stderr.write(`[dtls certs] wrote ${files.join(', ')}\n`);
  } catch (e) {
    if (e instanceof ApiMisuseError) throw new CliError(e.message);
    throw e;
  }
  return 0;
}
