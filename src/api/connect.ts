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
import { intOption, makeVerifier, resolveCommon, socketBufferOptions, type ConnectOptions } from './options.js';

export function connect(options: ConnectOptions, onSecureConnect?: () => void): DtlsSocket {
  if (options === null || typeof options !== 'object') throw new ApiMisuseError('ERR_DTLS_INVALID_OPTION', 'connect() needs an options object');
  const port = intOption(options.port, 'port', -1, 1, 65535);
  const host = options.host ?? 'localhost';
  const common = resolveCommon(options);
  const buffers = socketBufferOptions(options, 'client');
  const servername = options.servername ?? host;
  const conn = new Connection({
    ...common.base,
    role: 'client',
    servername,
    requestClientCertificate: false,
    requireClientCertificate: false,
    verifyPeer: makeVerifier(common),
  });

  let udp: dgram.Socket | undefined = options.socket;
  const ownsSocket = udp === undefined;
  let remoteAddress = host;
  let family = isIP(host) === 6 ? 'IPv6' : 'IPv4';
  const transport: DatagramTransport = {
    send: (d, done) => {
      if (udp === undefined) return done(new ApiMisuseError('ERR_DTLS_NOT_CONNECTED', 'socket is not open'));
      if (ownsSocket) udp.send(d, (err) => done(err ?? null));
      else udp.send(d, port, remoteAddress, (err) => done(err ?? null));
    },
    get remoteAddress() {
      return remoteAddress;
    },
    remotePort: port,
    get remoteFamily() {
      return family;
    },
    localAddress: () => {
      if (udp === undefined) throw new ApiMisuseError('ERR_DTLS_NOT_CONNECTED', 'socket is not open');
      return udp.address();
    },
  };
  const sock = new DtlsSocket(conn, transport);
  if (onSecureConnect !== undefined) sock.once('secureConnect', onSecureConnect);

  const fail = (error: DtlsError): void => {
    sock.destroy();
    process.nextTick(() => sock.emit('error', error));
  };
  const start = (address: string, fam: 4 | 6): void => {
    remoteAddress = address;
    family = fam === 6 ? 'IPv6' : 'IPv4';
    if (!ownsSocket) {
      udp!.on('message', (msg, rinfo) => {
        if (rinfo.address === remoteAddress && rinfo.port === port) sock.handleDatagram(msg);
      });
      conn.connect(monotonicNow());
      sock.pump();
      return;
    }
    const literal = literalLookup();
    const s = dgram.createSocket({ type: fam === 6 ? 'udp6' : 'udp4', lookup: literal.lookup, ...buffers });
    literal.attach(s);
    udp = s;
    s.on('message', (msg) => sock.handleDatagram(msg));
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (conn.isClosed) return;
      const where = fam === 6 ? `[${address}]:${port}` : `${address}:${port}`;
      if (err.code === 'ECONNREFUSED') {
        // Linux reports a pending ICMP error before datagrams already queued on the socket. A peer that sends a
        // fatal alert and closes its socket (gnutls-serv rejecting our certificate) makes our trailing datagrams
        // bounce, so the alert would be lost behind "unreachable": let queued datagrams be read first.
        setTimeout(() => {
          if (!conn.isClosed) fail(new DtlsError('ERR_DTLS_UNREACHABLE', `nothing is listening on ${where} (ICMP port unreachable)`, undefined, { cause: err }));
        }, 50);
      } else {
        fail(new DtlsError('ERR_DTLS_SOCKET', `UDP socket error talking to ${where}: ${err.message}`, undefined, { cause: err }));
      }
    });
    s.bind({ port: options.localPort ?? 0, ...(options.localAddress !== undefined ? { address: options.localAddress } : {}) }, () => {
      s.connect(port, address, () => {
        conn.connect(monotonicNow());
        sock.pump();
        // While the hello is out, make the key pair this handshake will need (the group used last).
        if (common.crypto.prepareKeyShare !== undefined) setImmediate(() => common.crypto.prepareKeyShare?.());
      });
    });
  };
  sock.onFinished = () => {
    if (ownsSocket && udp !== undefined) {
      const s = udp;
      // Let the close_notify leave before the socket goes.
      setImmediate(() => {
        try {
          s.close();
        } catch {
          /* already closed */
        }
      });
    }
  };
  options.signal?.addEventListener(
    'abort',
    () => fail(new DtlsError('ERR_DTLS_ABORTED', 'connection aborted by its AbortSignal', undefined, { cause: options.signal?.reason })),
    { once: true },
  );

  const ipFamily = isIP(host);
  if (ipFamily !== 0) start(host, ipFamily as 4 | 6);
  else {
    lookup(host, (err, address, fam) => {
      if (err) fail(new DtlsError('ERR_DTLS_DNS', `cannot resolve ${host}: ${err.message}`, undefined, { cause: err }));
      else start(address, fam === 6 ? 6 : 4);
    });
  }
  return sock;
}
