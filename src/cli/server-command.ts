/**
 * `dtls server`: the classic OpenSSL DTLS example server. Binds a UDP port, loads certs/server-cert.pem and
 * certs/server-key.pem (checking that they match), does the stateless HMAC cookie exchange, requires and verifies
 * a client certificate, serves clients concurrently, and acknowledges every message by sending it back unchanged.
 */
import { createServer } from '../api/server.js';
import type { DtlsSocket } from '../api/socket.js';
import type { DtlsError } from '../errors.js';
import { CliError, cipherArg, intArg, loadFiles, oneLineSubject, parse } from './common.js';

export const SERVER_USAGE = `Usage: dtls server [options]

Runs a DTLS 1.2 echo server: every message a client sends is acknowledged by sending it back unchanged.

Options:
  --port N            UDP port to listen on (default 4433)
  --host H            address to bind (default 0.0.0.0; use :: for IPv6)
  --certs DIR         directory with server-cert.pem, server-key.pem, ca-cert.pem (default certs)
  --cert F --key F    server certificate and private key (PEM), instead of those in --certs
  --ca F              CA certificate(s) that client certificates must chain to
  --no-client-cert    do not ask clients for a certificate
  --cipher NAME       IANA cipher suite name(s), colon-separated (default: all supported)
  --mtu N             largest datagram to send (default 1200)
  -h, --help          show this help

Logs go to stderr: one line when listening, one per handshake (peer, protocol, cipher, client subject).`;

export async function serverCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      certs: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      'no-client-cert': { type: 'boolean' },
      cipher: { type: 'string' },
      mtu: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${SERVER_USAGE}\n`);
    return 0;
  }
  const port = intArg(values.port, 'port', 4433, 0, 65535);
  const mtu = intArg(values.mtu, 'mtu', 1200, 256, 65507);
  const host = typeof values.host === 'string' ? values.host : '0.0.0.0';
  const files = loadFiles(values, 'server');
  const ciphers = cipherArg(values.cipher);
  const requestCert = values['no-client-cert'] !== true;
  const log = (line: string): void => void process.stderr.write(`[dtls server] ${line}\n`);

  const server = createServer({
    cert: files.cert,
    key: files.key,
    ca: files.ca,
    requestCert,
    mtu,
    ...(ciphers !== undefined ? { ciphers } : {}),
  });
  server.on('secureConnection', (socket: DtlsSocket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const cert = socket.getPeerCertificate();
    const subject = 'subject' in cert ? oneLineSubject(cert.subject) : 'none';
    log(`handshake with ${peer}: ${socket.getProtocol()} ${socket.getCipher()?.standardName} client certificate ${subject}`);
    socket.on('message', (msg: Buffer) => {
      try {
        socket.send(msg);
      } catch (e) {
        log(`cannot acknowledge to ${peer}: ${(e as Error).message}`);
      }
    });
    socket.on('error', (e: DtlsError) => log(`connection with ${peer} failed: ${e.code}: ${e.message}`));
    socket.on('close', () => log(`connection with ${peer} closed`));
  });
  server.on('clientError', (e: DtlsError, socket: DtlsSocket) => {
    log(`handshake with ${socket.remoteAddress}:${socket.remotePort} failed: ${e.code}: ${e.message}`);
  });

  return new Promise<number>((resolve) => {
    server.on('error', (e: Error) => {
      log(`cannot listen on ${host}:${port}: ${e.message}`);
      resolve(1);
    });
    server.listen(port, host, () => {
      const a = server.address();
      process.stdout.write(`Server is running at ${a.address} port ${a.port}\n`);
      log(`listening on ${a.address}:${a.port}${requestCert ? ', client certificates required' : ''}`);
    });
    const stop = (): void => {
      log('shutting down');
      void server.close()!.then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export { CliError };
