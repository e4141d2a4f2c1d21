/**
 * createServer(): one UDP socket serving many DTLS clients (demultiplexed by address:port in the core
 * Endpoint), with the stateless cookie exchange. Shaped like node:tls's Server.
 *
 * Events: 'listening', 'secureConnection' (DtlsSocket), 'clientError' (error, socket or remote), 'error', 'close'.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { Endpoint, type EndpointStatsSnapshot, type Remote } from '../core/endpoint.js';
import type { ConnectionConfig } from '../core/config.js';
import type { Connection } from '../core/connection.js';
import { ApiMisuseError, DtlsError } from '../errors.js';
import { literalLookup } from './lookup.js';
import { datagramView, DtlsSocket, monotonicNow, type DatagramTransport } from './socket.js';
import { connectionConfig, makeVerifier, resolveCommon, resolveServerLimits, socketBufferOptions, type ServerOptions } from './options.js';

export class DtlsServer extends EventEmitter {
  readonly endpoint: Endpoint;
  private socket: dgram.Socket | undefined;
  private readonly ownsSocket: boolean;
  /** The socket of each connection (by connection, so a datagram costs no second address:port key). */
  private readonly sockets = new Map<Connection, DtlsSocket>();
  private closing = false;
  private readonly buffers: { recvBufferSize: number; sendBufferSize: number };
  private readonly crypto: ConnectionConfig['crypto'];
  private keySharePending = false;

  constructor(options: ServerOptions, onSecureConnection?: (socket: DtlsSocket) => void) {
    super();
    const common = resolveCommon(options);
    this.buffers = socketBufferOptions(options, 'server');
    if (common.base.credentials === undefined) throw new ApiMisuseError('ERR_DTLS_INVALID_OPTION', 'a server needs options cert and key');
    const requestCert = options.requestCert ?? false;
    const verifyPeer = makeVerifier(common);
    this.crypto = common.crypto;
    const config = connectionConfig(common.base, {
      role: 'server',
      servername: undefined,
      requestClientCertificate: requestCert,
      requireClientCertificate: requestCert && common.rejectUnauthorized,
      verifyPeer,
    });
    this.endpoint = new Endpoint(() => config, common.crypto, resolveServerLimits(options));
    if (onSecureConnection !== undefined) this.on('secureConnection', onSecureConnection);
    this.ownsSocket = options.socket === undefined;
    if (options.socket !== undefined) this.attach(options.socket);
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  private attach(socket: dgram.Socket): void {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.receive(datagramView(msg), rinfo));
    socket.on('error', (err) => this.emit('error', err));
    socket.on('listening', () => this.emit('listening'));
  }

  /** Binds the UDP socket. `host` defaults to '0.0.0.0'; an IPv6 host makes an IPv6 socket. */
  listen(port = 0, host = '0.0.0.0', cb?: () => void): this {
    if (this.socket !== undefined && !this.ownsSocket) throw new ApiMisuseError('ERR_DTLS_INVALID_STATE', 'listen() on a server with a socket of your own');
    if (this.socket !== undefined) throw new ApiMisuseError('ERR_DTLS_INVALID_STATE', 'server is already listening');
    const literal = literalLookup();
    const socket = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false, lookup: literal.lookup, ...this.buffers });
    literal.attach(socket);
    this.attach(socket);
    if (cb !== undefined) this.once('listening', cb);
    socket.bind(port, host);
    return this;
  }

  /**
   * Feeds one datagram received on a socket shared with other protocols (e.g. STUN/RTP demultiplexed by first
   * byte, RFC 7983). The server's own socket goes straight to `receive`: dgram's arguments need no checking.
   */
  handleDatagram(msg: Uint8Array, rinfo: { address: string; port: number; family?: string }): void {
    const bytes = datagramView(msg);
    if (rinfo === null || typeof rinfo !== 'object' || typeof rinfo.address !== 'string' || !Number.isInteger(rinfo.port)) {
      throw new ApiMisuseError('ERR_DTLS_INVALID_ARGUMENT', 'handleDatagram() needs the sender as { address, port }');
    }
    this.receive(bytes, rinfo);
  }

  private receive(bytes: Uint8Array, rinfo: { address: string; port: number; family?: string }): void {
    if (this.closing) return;
    const remote: Remote = rinfo; // read only here; copied below when a new connection keeps it
    const result = this.endpoint.handleDatagram(monotonicNow(), bytes, remote);
    if (result.kind === 'reply') {
      this.socket?.send(result.datagram, remote.port, remote.address);
      return;
    }
    if (result.kind === 'dropped') return;
    // A client that restarted on the same address:port replaced its old connection: let the old socket report it.
    if (result.replaced !== undefined) this.sockets.get(result.replaced)?.pump();
    const conn = result.connection;
    // A new connection used the provider's key pair: have the next one made once this turn's output is out.
    if (result.isNew) this.prepareKeyShareWhenIdle();
    // A copy: a caller of handleDatagram may reuse its rinfo object, and the new socket keeps its peer's address.
    const sock = this.sockets.get(conn) ?? this.wrap(conn, { address: remote.address, port: remote.port }, rinfo.family ?? (isIPv6(remote.address) ? 'IPv6' : 'IPv4'));
    sock.pump();
  }

  private prepareKeyShareWhenIdle(): void {
    if (this.keySharePending || this.crypto.prepareKeyShare === undefined) return;
    this.keySharePending = true;
    setImmediate(() => {
      this.keySharePending = false;
      this.crypto.prepareKeyShare?.();
    });
  }

  private wrap(conn: Connection, remote: Remote, family: string): DtlsSocket {
    const transport: DatagramTransport = {
      send: (d, done) => {
        if (this.socket === undefined) return done(new ApiMisuseError('ERR_DTLS_NOT_LISTENING', 'server socket is closed'));
        this.socket.send(d, remote.port, remote.address, (err) => done(err ?? null));
      },
      remoteAddress: remote.address,
      remotePort: remote.port,
      remoteFamily: family,
      localAddress: () => this.address(),
    };
    const sock = new DtlsSocket(conn, transport);
    this.sockets.set(conn, sock);
    sock.onUnhandledError = (err) => this.emit('clientError', err, sock);
    sock.onFinished = () => {
      this.sockets.delete(conn);
      if (this.endpoint.get(remote) === conn) this.endpoint.remove(remote);
    };
    sock.once('secureConnect', () => this.emit('secureConnection', sock));
    return sock;
  }

  address(): { address: string; family: string; port: number } {
    if (this.socket === undefined) throw new ApiMisuseError('ERR_DTLS_NOT_LISTENING', 'server is not listening');
    return this.socket.address();
  }

  /** Number of connections (handshaking and established). */
  get connections(): number {
    return this.endpoint.size;
  }

  /**
   * The endpoint's counters: connections now (handshaking, established), HelloVerifyRequests sent, handshakes
   * completed, connections closed (by error code), datagrams dropped by reason and peers refused by cap
   * (`refused.max_handshaking_per_address` ...). A fresh copy on every call.
   */
  getStats(): EndpointStatsSnapshot {
    return this.endpoint.getStats();
  }

  /** Sends close_notify to every peer, then closes the socket (if we created it). Promise without a callback. */
  close(cb?: () => void): Promise<void> | undefined {
    const p = (async () => {
      if (this.closing) return;
      this.closing = true;
      await Promise.all([...this.sockets.values()].map((s) => s.close()));
      if (this.socket !== undefined && this.ownsSocket) {
        await new Promise<void>((r) => this.socket!.close(() => r()));
      }
      this.emit('close');
    })();
    if (cb !== undefined) {
      void p.then(cb);
      return undefined;
    }
    return p;
  }
}

export function createServer(options: ServerOptions, onSecureConnection?: (socket: DtlsSocket) => void): DtlsServer {
  return new DtlsServer(options, onSecureConnection);
}

export type { DtlsError };
