/**
 * `dtls client HOST`: the classic OpenSSL DTLS example client. Connects, verifies the server, presents
 * certs/client-cert.pem, reads lines from standard input, sends each (without its line ending) as one message,
 * and prints each acknowledgement on its own line on stdout. Logs go to stderr, so stdout can be piped.
 *
 * DTLS does not make datagrams reliable. Like the classic example, the client keeps one message outstanding:
 * it waits for its acknowledgement before sending the next line, and resends a message whose acknowledgement
 * has not come within --ack-timeout (up to --retries times).
 */
import { createInterface } from 'node:readline';
import { connect } from '../api/connect.js';
import type { DtlsError } from '../errors.js';
import { MAX_RECORD_PLAINTEXT } from '../core/connection.js';
import { CliError, cipherArg, intArg, loadFiles, oneLineSubject, parse } from './common.js';

export const CLIENT_USAGE = `Usage: dtls client HOST [options]

Connects to a DTLS 1.2 server, sends each line of standard input as one message, and prints each
acknowledgement on standard output.

Options:
  --port N            server UDP port (default 4433)
  --certs DIR         directory with client-cert.pem, client-key.pem, ca-cert.pem (default certs)
  --cert F --key F    client certificate and private key (PEM), instead of those in --certs
  --ca F              CA certificate(s) the server certificate must chain to
  --servername NAME   name to check the server certificate against and send as SNI (default HOST)
  --cipher NAME       IANA cipher suite name(s), colon-separated (default: all supported)
  --mtu N             largest datagram to send (default 1200)
  --ack-timeout MS    time to wait for an acknowledgement before resending (default 1000)
  --retries N         resends of an unacknowledged message before giving up on it (default 3)
  -h, --help          show this help

Exit code 0 when every line was acknowledged; 1 when the handshake, verification or connection fails;
3 when some messages were never acknowledged.`;

export async function clientCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      port: { type: 'string' },
      certs: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      servername: { type: 'string' },
      cipher: { type: 'string' },
      mtu: { type: 'string' },
      'ack-timeout': { type: 'string' },
      retries: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(`${CLIENT_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new CliError('dtls client needs exactly one HOST argument (see --help)', 2);
  const host = positionals[0]!;
  const port = intArg(values.port, 'port', 4433, 1, 65535);
  const mtu = intArg(values.mtu, 'mtu', 1200, 256, 65507);
  const ackTimeout = intArg(values['ack-timeout'], 'ack-timeout', 1000, 10, 600_000);
  const retries = intArg(values.retries, 'retries', 3, 0, 100);
  const files = loadFiles(values, 'client');
  const ciphers = cipherArg(values.cipher);
  const servername = typeof values.servername === 'string' ? values.servername : host.replace(/^\[|\]$/g, '');
  const log = (line: string): void => void process.stderr.write(`[dtls client] ${line}\n`);

  return new Promise<number>((resolve) => {
    let finished = false;
    const done = (code: number): void => {
      if (finished) return;
      finished = true;
      resolve(code);
    };
    const socket = connect({
      host: host.replace(/^\[|\]$/g, ''),
      port,
      servername,
      cert: files.cert,
      key: files.key,
      ca: files.ca,
      mtu,
      ...(ciphers !== undefined ? { ciphers } : {}),
    });

    const queue: Buffer[] = [];
    let inputEnded = false;
    let outstanding: { data: Buffer; tries: number; timer: NodeJS.Timeout } | undefined;
    let unacknowledged = 0;

    let closing = false;
    const finish = (): void => {
      closing = true;
      const code = unacknowledged > 0 ? 3 : 0;
      if (unacknowledged > 0) log(`${unacknowledged} message(s) were not acknowledged`);
      void socket.close()!.then(() => done(code));
    };
    const pumpQueue = (): void => {
      if (outstanding !== undefined || finished) return;
      const next = queue.shift();
      if (next === undefined) {
        if (inputEnded) finish();
        return;
      }
      transmit({ data: next, tries: 0, timer: undefined as unknown as NodeJS.Timeout });
    };
    const transmit = (m: { data: Buffer; tries: number; timer: NodeJS.Timeout }): void => {
      outstanding = m;
      try {
        socket.send(m.data);
      } catch (e) {
        log(`cannot send: ${(e as Error).message}`);
        done(1);
        return;
      }
      m.timer = setTimeout(() => {
        if (outstanding !== m) return;
        if (m.tries >= retries) {
          log(`no acknowledgement for a message of ${m.data.length} bytes after ${retries + 1} tries; going on`);
          unacknowledged++;
          outstanding = undefined;
          pumpQueue();
          return;
        }
        m.tries++;
        transmit(m);
      }, ackTimeout);
    };

    socket.on('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      log(`connected to ${socket.remoteAddress}:${socket.remotePort}: ${socket.getProtocol()} ${socket.getCipher()?.standardName} server certificate ${'subject' in cert ? oneLineSubject(cert.subject) : '-'}`);
      const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
      let lineNo = 0;
      rl.on('line', (line) => {
        lineNo++;
        const data = Buffer.from(line, 'utf8');
        if (data.length > MAX_RECORD_PLAINTEXT) {
          log(`line ${lineNo} is ${data.length} bytes; a message can be at most ${MAX_RECORD_PLAINTEXT} bytes: not sent`);
          unacknowledged++;
          return;
        }
        queue.push(data);
        pumpQueue();
      });
      rl.on('close', () => {
        inputEnded = true;
        pumpQueue();
      });
    });
    socket.on('message', (msg: Buffer) => {
      if (outstanding === undefined) return; // a late duplicate acknowledgement
      clearTimeout(outstanding.timer);
      outstanding = undefined;
      process.stdout.write(Buffer.concat([msg, Buffer.from('\n')]));
      pumpQueue();
    });
    socket.on('error', (e: DtlsError) => {
      log(`${socket.connected ? 'connection failed' : 'handshake failed'}: ${e.code}: ${e.message}`);
      done(1);
    });
    socket.on('close', () => {
      if (!finished && !closing) {
        if (outstanding !== undefined) clearTimeout(outstanding.timer);
        log('server closed the connection');
        done(inputEnded && queue.length === 0 && outstanding === undefined ? 0 : 1);
      }
    });
  });
}
