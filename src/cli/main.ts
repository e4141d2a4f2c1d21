#!/usr/bin/env node
/** The `dtls` command: certs, server, client. */
import { readFileSync } from 'node:fs';
import { clientCommand, CLIENT_USAGE } from './client-command.js';
import { serverCommand, SERVER_USAGE } from './server-command.js';
import { CliError } from './common.js';

const USAGE = `Usage: dtls <command> [options]

Commands:
  certs [DIR]     create a development CA, server and client certificates (default DIR: certs)
  server          run a DTLS 1.2 echo server that requires client certificates
  client HOST     send each line of standard input to a server and print the acknowledgements

Run "dtls <command> --help" for a command's options.

${SERVER_USAGE.split('\n')[0]}
${CLIENT_USAGE.split('\n')[0]}`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'certs':
      // Loaded on demand: the X.509 library behind it takes a few hundred ms to import.
      return (await import('./certs-command.js')).certsCommand(rest);
    case 'server':
      return serverCommand(rest);
    case 'client':
      return clientCommand(rest);
    case '--version':
    case '-v':
      process.stdout.write(`${version()}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new CliError(`unknown command ${command} (see dtls --help)`, 2);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof CliError) {
      process.stderr.write(`dtls: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`dtls: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
