/** Our side of the interop tests: a client or server of this stack with the test certificates, and waits. */
import { once } from 'node:events';
import { connect, createServer, type DtlsServer, type DtlsSocket } from '../../src/index.js';
import type { CertSet } from '../helpers/certs.js';

/** Per-test timeout; every wait inside a test is shorter. */
export const TEST_TIMEOUT = 20_000;
/** How long one step (handshake, one message) may take. */
export const STEP_MS = 8_000;

/** Group code points (RFC 8422, RFC 7748). */
export const GROUP_IDS: Readonly<Record<string, number>> = { x25519: 29, 'P-256': 23, 'P-384': 24 };

function withTimeout<T>(p: Promise<T>, ms: number, what: string, context?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}${context ? `\n${context()}` : ''}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Resolves with the first `event` of `emitter`; rejects on 'error' or after `ms`. `context` adds peer output to failures. */
export async function waitEvent<T extends unknown[]>(
  emitter: NodeJS.EventEmitter,
  event: string,
  ms = STEP_MS,
  context?: () => string,
): Promise<T> {
  try {
    return (await withTimeout(once(emitter, event), ms, `'${event}'`, context)) as T;
  } catch (e) {
    if (context !== undefined && e instanceof Error && !e.message.includes('timed out')) {
      e.message += `\n${context()}`;
    }
    throw e;
  }
}

export interface OurClientOptions {
  certs: CertSet;
  port: number;
  /** Present our client certificate. Default true. */
  clientCert?: boolean;
  ciphers?: readonly string[];
  groups?: readonly string[];
  mtu?: number;
}

export function ourClient(o: OurClientOptions): DtlsSocket {
  return connect({
    host: '127.0.0.1',
    port: o.port,
    servername: 'localhost',
    ca: o.certs.ca,
    ...((o.clientCert ?? true) ? { cert: o.certs.clientCert, key: o.certs.clientKey } : {}),
    ...(o.ciphers !== undefined ? { ciphers: o.ciphers } : {}),
    ...(o.groups !== undefined ? { groups: o.groups } : {}),
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
    // Loopback: retransmit quickly if a datagram is lost, but do not spin.
    retransmitTimeout: 500,
    handshakeTimeout: STEP_MS,
  });
}

export interface OurServerOptions {
  certs: CertSet;
  ciphers?: readonly string[];
  groups?: readonly string[];
  mtu?: number;
  /** Require and verify a client certificate. Default true. */
  requestCert?: boolean;
  sigalgs?: readonly string[];
}

export interface OurServer {
  server: DtlsServer;
  port: number;
  /** Established connections, in order. */
  sockets: DtlsSocket[];
  /** Messages received (any connection), as strings. */
  received: string[];
  /** clientError events. */
  clientErrors: Error[];
  /** Next secureConnection. */
  nextConnection(ms?: number, context?: () => string): Promise<DtlsSocket>;
  close(): Promise<void>;
}

/** createServer on 127.0.0.1, a random port; every message is answered with "echo: " + message. */
export async function ourServer(o: OurServerOptions): Promise<OurServer> {
  const server = createServer({
    ca: o.certs.ca,
    cert: o.certs.serverCert,
    key: o.certs.serverKey,
    requestCert: o.requestCert ?? true,
    ...(o.ciphers !== undefined ? { ciphers: o.ciphers } : {}),
    ...(o.groups !== undefined ? { groups: o.groups } : {}),
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
    ...(o.sigalgs !== undefined ? { sigalgs: o.sigalgs } : {}),
    retransmitTimeout: 500,
    handshakeTimeout: STEP_MS,
  });
  const sockets: DtlsSocket[] = [];
  const received: string[] = [];
  const clientErrors: Error[] = [];
  server.on('secureConnection', (s: DtlsSocket) => {
    sockets.push(s);
    s.on('error', () => undefined);
    s.on('message', (m: Buffer) => {
      received.push(m.toString('utf8'));
      if (s.connected) s.send(`echo: ${m.toString('utf8')}`);
    });
  });
  server.on('clientError', (e: Error) => clientErrors.push(e));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let closed = false;
  return {
    server,
    port: server.address().port,
    sockets,
    received,
    clientErrors,
    nextConnection: async (ms = STEP_MS, context) => (await waitEvent<[DtlsSocket]>(server, 'secureConnection', ms, context))[0],
    close: async () => {
      if (closed) return;
      closed = true;
      await withTimeout(server.close() ?? Promise.resolve(), 3000, 'server close');
    },
  };
}

/** Closes our socket, bounded in time (a peer that already left must not hang the test). */
export async function closeSocket(s: DtlsSocket | undefined): Promise<void> {
  if (s === undefined) return;
  try {
    await withTimeout(s.close() ?? Promise.resolve(), 3000, 'socket close');
  } catch {
    s.destroy();
  }
}

/** Waits until `predicate` holds (polling), or fails after `ms` with `what` and the context. */
export async function until(predicate: () => boolean, what: string, ms = STEP_MS, context?: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${context ? `\n${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Size of the DER certificate in a PEM block (to show a handshake message cannot fit a small MTU). */
export function derLength(pem: string): number {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64').length;
}
