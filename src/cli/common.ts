/** Shared pieces of the `dtls` commands: argument parsing, credential loading, and one-line fatal errors. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DtlsError } from '../errors.js';
import { loadCaFile, loadCredentialFiles } from '../pki/credentials.js';
import { DTLS12_SUITES } from '../crypto/suites.js';

/** An error that ends the command with one line on stderr and exit code `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals: boolean,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (e) {
    throw new CliError(`${(e as Error).message} (see --help)`, 2);
  }
}

export function intArg(value: string | boolean | undefined, name: string, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max) {
    throw new CliError(`--${name} must be a whole number from ${min} to ${max}, got ${String(value)}`, 2);
  }
  return n;
}

export interface LoadedFiles {
  cert: string;
  key: string;
  ca: string;
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * Loads our certificate, key and the CA, checking that each file exists and that the key matches the
 * certificate. `who` is 'server' or 'client' (the classic file names certs/<who>-cert.pem, certs/<who>-key.pem).
 */
export function loadFiles(values: Record<string, string | boolean | undefined>, who: 'server' | 'client'): LoadedFiles {
  const dir = typeof values.certs === 'string' ? values.certs : 'certs';
  const certFile = typeof values.cert === 'string' ? values.cert : join(dir, `${who}-cert.pem`);
  const keyFile = typeof values.key === 'string' ? values.key : join(dir, `${who}-key.pem`);
  const caFile = typeof values.ca === 'string' ? values.ca : join(dir, 'ca-cert.pem');
  try {
    loadCredentialFiles(certFile, keyFile);
    loadCaFile(caFile);
  } catch (e) {
    if (e instanceof DtlsError) {
      const hint = values.cert === undefined && values.certs === undefined ? ' (run `dtls certs` to create development certificates)' : '';
      throw new CliError(`${e.message}${e.code === 'ERR_DTLS_FILE_NOT_FOUND' ? hint : ''}`);
    }
    throw e;
  }
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    ca: readFileSync(caFile, 'utf8'),
    certFile,
    keyFile,
    caFile,
  };
}

export function cipherArg(value: string | boolean | undefined): string | undefined {
  if (value === undefined) return undefined;
  const names = String(value).split(':');
  for (const n of names) {
    if (!DTLS12_SUITES.some((s) => s.name === n)) {
      throw new CliError(`--cipher: unknown suite ${n}; supported: ${DTLS12_SUITES.map((s) => s.name).join(', ')}`, 2);
    }
  }
  return String(value);
}

/** Subject of a certificate on one line: "CN=dtls-client, O=..." */
export function oneLineSubject(subject: string | undefined): string {
  return subject === undefined ? '-' : subject.split('\n').join(', ');
}
