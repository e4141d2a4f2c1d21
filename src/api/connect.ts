/**
 * connect(): a DTLS client over its own connected UDP socket (or one you bring). Shaped like node:tls.connect.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import { Connection } from '../core/connection.js';
import { ApiMisuseError, DtlsError } from '../errors.js';
import { literalLookup } from './lookup.js';
import { DtlsSocket, monotonicNow, type DatagramTransport } from './socket.js';
import { connectionConfig, intOption, makeVerifier, resolveCommon, socketBufferOptions, type ConnectOptions } from './options.js';

/**
 * The client's end of the UDP path, which a DtlsSocket sends through. A class with plain fields (not an object
 * literal with getters and closures): a connection keeps it for its lifetime, and a literal with accessors costs
 * every connection its own hidden class.
 */
class ClientTransport implements DatagramTransport {
  udp: dgram.Socket | undefined;
  remoteAddress: string;
  remoteFamily: string;

  constructor(
    udp: dgram.Socket | undefined,
    /** Whether we created the socket (then it is connected, and ours to close). */
    readonly ownsSocket: boolean,
    readonly remotePort: number,
    host: string,
  ) {
    this.udp = udp;
    this.remoteAddress = host;
    this.remoteFamily = isIP(host) === 6 ? 'IPv6' : 'IPv4';
  }

  send(d: Uint8Array, done: (error: Error | null) => void): void {
    const udp = this.udp;
    if (udp === undefined) return done(new ApiMisuseError('ERR_DTLS_NOT_CONNECTED', 'socket is not open'));
    if (this.ownsSocket) udp.send(d, (err) => done(err ?? null));
    else udp.send(d, this.remotePort, this.remoteAddress, (err) => done(err ?? null));
  }

  localAddress(): { address: string; family: string; port: number } {
    if (this.udp === undefined) throw new ApiMisuseError('ERR_DTLS_NOT_CONNECTED', 'socket is not open');
    return this.udp.address();
  }

  /** Closes our own socket once the close_notify has left (a socket you brought stays open). */
  closeOwnSocket(): void {
    const s = this.udp;
    if (!this.ownsSocket || s === undefined) return;
    setImmediate(() => {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    });
  }
}

function failConnection(sock: DtlsSocket, error: DtlsError): void {
  sock.destroy();
  process.nextTick(() => sock.emit('error', error));
}

interface SocketSetup {
  bind: dgram.BindOptions;
  buffers: { recvBufferSize: number; sendBufferSize: number };
  /** Called once the first hello is out: makes, while it is out, the key pair the handshake will need. */
  afterHello: (() => void) | undefined;
}

/** Starts the handshake once the peer's address is known: over the socket brought, or a new connected one. */
function startClient(sock: DtlsSocket, transport: ClientTransport, address: string, fam: 4 | 6, setup: SocketSetup): void {
  const conn = sock.connection;
  const port = transport.remotePort;
  transport.remoteAddress = address;
  transport.remoteFamily = fam === 6 ? 'IPv6' : 'IPv4';
  if (!transport.ownsSocket) {
    transport.udp!.on('message', (msg, rinfo) => {
      if (rinfo.address === transport.remoteAddress && rinfo.port === port) sock.handleDatagram(msg);
    });
    conn.connect(monotonicNow());
    sock.pump();
    return;
  }
  const literal = literalLookup();
  const s = dgram.createSocket({ type: fam === 6 ? 'udp6' : 'udp4', lookup: literal.lookup, ...setup.buffers });
  literal.attach(s);
  transport.udp = s;
  s.on('message', (msg) => sock.handleDatagram(msg));
  s.on('error', (err: NodeJS.ErrnoException) => onSocketError(sock, err, fam, address, port));
  const afterHello = setup.afterHello;
  s.bind(setup.bind, () => {
    s.connect(port, address, () => {
      conn.connect(monotonicNow());
      sock.pump();
      if (afterHello !== undefined) afterHello();
    });
  });
}

function onSocketError(sock: DtlsSocket, err: NodeJS.ErrnoException, fam: 4 | 6, address: string, port: number): void {
  if (sock.connection.isClosed) return;
  const where = fam === 6 ? `[${address}]:${port}` : `${address}:${port}`;
  if (err.code === 'ECONNREFUSED') {
    // Linux reports a pending ICMP error before datagrams already queued on the socket. A peer that sends a
    // fatal alert and closes its socket (gnutls-serv rejecting our certificate) makes our trailing datagrams
    // bounce, so the alert would be lost behind "unreachable": let queued datagrams be read first.
    setTimeout(() => {
      if (!sock.connection.isClosed) failConnection(sock, new DtlsError('ERR_DTLS_UNREACHABLE', `nothing is listening on ${where} (ICMP port unreachable)`, undefined, { cause: err }));
    }, 50);
  } else {
    failConnection(sock, new DtlsError('ERR_DTLS_SOCKET', `UDP socket error talking to ${where}: ${err.message}`, undefined, { cause: err }));
  }
}

export function connect(options: ConnectOptions, onSecureConnect?: () => void): DtlsSocket {
  if (options === null || typeof options !== 'object') throw new ApiMisuseError('ERR_DTLS_INVALID_OPTION', 'connect() needs an options object');
  const port = intOption(options.port, 'port', -1, 1, 65535);
  const host = options.host ?? 'localhost';
  const common = resolveCommon(options);
  const conn = new Connection(
    connectionConfig(common.base, {
      role: 'client',
      servername: options.servername ?? host,
      requestClientCertificate: false,
      requireClientCertificate: false,
      verifyPeer: makeVerifier(common),
    }),
  );
  const transport = new ClientTransport(options.socket, options.socket === undefined, port, host);
  const sock = new DtlsSocket(conn, transport);
  if (onSecureConnect !== undefined) sock.once('secureConnect', onSecureConnect);
  sock.onFinished = () => transport.closeOwnSocket();
  const crypto = common.crypto;
  const setup: SocketSetup = {
    bind: { port: options.localPort ?? 0, ...(options.localAddress !== undefined ? { address: options.localAddress } : {}) },
    buffers: socketBufferOptions(options, 'client'),
    afterHello: crypto.prepareKeyShare !== undefined ? () => setImmediate(() => crypto.prepareKeyShare?.()) : undefined,
  };
  const signal = options.signal;
  signal?.addEventListener(
    'abort',
    () => failConnection(sock, new DtlsError('ERR_DTLS_ABORTED', 'connection aborted by its AbortSignal', undefined, { cause: signal.reason })),
    { once: true },
  );
  resolveAndStart(sock, transport, host, setup);
  return sock;
}

/** Resolves `host` (an IP literal at once, a name through dns.lookup) and starts the handshake. */
function resolveAndStart(sock: DtlsSocket, transport: ClientTransport, host: string, setup: SocketSetup): void {
  const ipFamily = isIP(host);
  if (ipFamily !== 0) {
    startClient(sock, transport, host, ipFamily as 4 | 6, setup);
    return;
  }
  lookup(host, (err, address, fam) => {
    if (err) failConnection(sock, new DtlsError('ERR_DTLS_DNS', `cannot resolve ${host}: ${err.message}`, undefined, { cause: err }));
    else startClient(sock, transport, address, fam === 6 ? 6 : 4, setup);
  });
}
