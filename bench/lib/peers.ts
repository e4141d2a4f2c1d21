/**
 * The three peers the bench drives, each as a server and a client with one shape, so every case runs the same
 * code for all of them:
 *
 *   ours    this stack's public API: createServer() (one UDP socket, Endpoint demux, cookies) and connect()
 *           (one connected UDP socket per client), as an application would use them.
 *   werift  werift-dtls 0.5.8: one DtlsServer per peer (that is how werift is built: one DTLS session per
 *           transport, as in WebRTC), demultiplexed by address:port on one UDP socket by this file; DtlsClient
 *           over its own UDP socket. Same certificate, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, EMS on.
 *   raw     node:dgram without DTLS: the UDP part of Node's ceiling, same send pattern.
 *   sealed  node:dgram plus one createCipheriv / createDecipheriv per record (sealed-peer.ts): Node's ceiling as
 *           issue 4 defines it, what any DTLS record layer in Node must pay per record.
 *
 * Servers run in a worker process (bench/worker.ts); clients in another.
 */
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { connect, createServer, type DtlsServer, type DtlsSocket } from '../../src/index.js';
import type { Cpu } from './util.js';
import { clientGroups } from './openssl.js';
import { sealRecord, sealedReceiver, sealedSender } from './sealed-peer.js';

export type Impl = 'ours' | 'werift' | 'raw' | 'sealed';
export type Group = 'x25519' | 'P-256';

export const SUITE = 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256';

export interface CertPems {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export interface PeerParams {
  impl: Impl;
  certs: CertPems;
  group: Group;
  /** The client presents a certificate and the server requires (ours: and verifies) it. */
  clientCert: boolean;
  /** Server only: raise the per-address connection cap (all bench clients come from 127.0.0.1). */
  manyConnections?: boolean;
  /** Server only: SO_RCVBUF of its UDP socket in bytes (0 or undefined: the system default). */
  rcvbuf?: number;
}

export type ServerMode = 'handshake' | 'sink' | 'echo';

export interface ServerStats {
  /** Handshakes completed. */
  secure: number;
  /** Live connections. */
  connections: number;
  messages: number;
  bytes: number;
  /** ms (hrtime) of the first message since the last reset, and of the message numbered lastAtCount. */
  firstAt: number;
  lastAt: number;
  lastAtCount: number;
  clientErrors: number;
  lastError: string | undefined;
}

export interface ServerHandle {
  readonly port: number;
  /** SO_RCVBUF as the kernel reports it (Linux doubles the value asked for), when set. */
  readonly recvBufferSize: number | undefined;
  stats(): ServerStats;
  /** Resets the message counters (not `secure`). */
  resetMessages(): void;
  close(): Promise<void>;
}

function emptyStats(): ServerStats {
  return { secure: 0, connections: 0, messages: 0, bytes: 0, firstAt: 0, lastAt: 0, lastAtCount: 0, clientErrors: 0, lastError: undefined };
}

/** Zeroes the message counters (not `secure`, `connections` or the errors). */
function resetMessages(st: ServerStats): void {
  st.messages = 0;
  st.bytes = 0;
  st.firstAt = 0;
  st.lastAt = 0;
  st.lastAtCount = 0;
}

const hr = (): number => Number(process.hrtime.bigint()) / 1e6;

// ------------------------------------------------------------------ werift, loaded on demand

interface WeriftSocket {
  onConnect: { once(fn: () => void): void; subscribe(fn: () => void): unknown };
  onData: { subscribe(fn: (b: Buffer) => void): unknown };
  onError: { subscribe(fn: (e: unknown) => void): unknown };
  onClose: { subscribe(fn: () => void): unknown };
  send(buf: Buffer): Promise<void>;
  close(): void;
  connected: boolean;
}
interface WeriftTransport {
  type: string;
  readonly address: { address: string; family: string; port: number };
  closed: boolean;
  onData: (data: Buffer, addr: [string, number]) => void;
  send: (data: Buffer) => Promise<void>;
  close: () => Promise<void>;
}
interface WeriftModule {
  DtlsServer: new (o: Record<string, unknown>) => WeriftSocket;
  DtlsClient: new (o: Record<string, unknown>) => WeriftSocket & { connect(): Promise<void> };
  NamedCurveAlgorithmList: number[];
}

let werift: WeriftModule | undefined;
const WERIFT_GROUP: Record<Group, number> = { x25519: 29, 'P-256': 23 };
/** werift's ECDSA with SHA-256: {hash: sha256(4), signature: ecdsa(3)}. */
const WERIFT_SIGNATURE_HASH = { hash: 4, signature: 3 };

function loadWerift(group: Group): WeriftModule {
  if (werift === undefined) {
    // The package's "main" is broken; the DTLS part is importable directly (CommonJS).
    const require = createRequire(import.meta.url);
    werift = require('werift-dtls/lib/dtls/src/index.js') as WeriftModule;
  }
  // werift offers and accepts the groups of this module-level list (client hello and server choice): make it
  // the one group under test, in place, so both ends use it.
  const list = werift.NamedCurveAlgorithmList;
  list.splice(0, list.length, WERIFT_GROUP[group]);
  return werift;
}

// ------------------------------------------------------------------ servers

export async function startServer(p: PeerParams, mode: ServerMode): Promise<ServerHandle> {
  if (p.impl === 'ours') return startOurServer(p, mode);
  if (p.impl === 'werift') return startWeriftServer(p, mode);
  return startRawServer(mode, p.rcvbuf, p.impl === 'sealed');
}

/**
 * Counts a delivered message. The clock is read for the first message and then every 128th (reading it per
 * message costs about as much as a raw dgram receive), so rates use `lastAtCount` messages over `lastAt − firstAt`.
 */
function onMessage(st: ServerStats, len: number): void {
  st.messages++;
  st.bytes += len;
  if (st.messages === 1) {
    st.firstAt = hr();
    st.lastAt = st.firstAt;
    st.lastAtCount = 1;
  } else if ((st.messages & 127) === 0) {
    st.lastAt = hr();
    st.lastAtCount = st.messages;
  }
}

async function startOurServer(p: PeerParams, mode: ServerMode): Promise<ServerHandle> {
  const st = emptyStats();
  // Our own socket (the `socket` option) only to set its receive buffer; the receive path is the same.
  const udp = p.rcvbuf ? dgram.createSocket({ type: 'udp4', recvBufferSize: p.rcvbuf }) : undefined;
  const server: DtlsServer = createServer(
    {
      ...(udp !== undefined ? { socket: udp } : {}),
      cert: p.certs.serverCert,
      key: p.certs.serverKey,
      ca: p.certs.ca,
      requestCert: p.clientCert,
      groups: [p.group],
      ciphers: [SUITE],
      ...(p.manyConnections ? { maxConnectionsPerAddress: 1_000_000, maxConnections: 1_000_000, maxHandshaking: 1_000_000 } : {}),
    },
    (sock: DtlsSocket) => {
      st.secure++;
      sock.on('error', () => undefined);
      if (mode === 'echo') sock.on('message', (m: Buffer) => {
        onMessage(st, m.length);
        sock.send(m);
      });
      else sock.on('message', (m: Buffer) => onMessage(st, m.length));
    },
  );
  server.on('clientError', (e: Error) => {
    st.clientErrors++;
    st.lastError = e.message;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (udp !== undefined) udp.bind(0, '127.0.0.1', () => resolve());
    else server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: server.address().port,
    recvBufferSize: udp !== undefined ? udp.getRecvBufferSize() : undefined,
    stats: () => ({ ...st, connections: server.connections }),
    resetMessages: () => resetMessages(st),
    close: async () => {
      await server.close();
      if (udp !== undefined) await new Promise<void>((r) => udp.close(() => r()));
    },
  };
}

async function bindUdp(rcvbuf?: number): Promise<dgram.Socket> {
  const s = dgram.createSocket(rcvbuf ? { type: 'udp4', recvBufferSize: rcvbuf } : { type: 'udp4' });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve();
    });
  });
  return s;
}

async function startRawServer(mode: ServerMode, rcvbuf: number | undefined, sealed: boolean): Promise<ServerHandle> {
  const st = emptyStats();
  const s = await bindUdp(rcvbuf);
  let seq = 0;
  const receive = (m: Buffer, r: dgram.RemoteInfo): void => {
    onMessage(st, m.length);
    if (mode === 'echo') s.send(sealed ? sealRecord(seq++, m) : m, r.port, r.address);
  };
  s.on('message', sealed ? sealedReceiver(receive) : receive);
  return {
    port: s.address().port,
    recvBufferSize: s.getRecvBufferSize(),
    stats: () => ({ ...st }),
    resetMessages: () => resetMessages(st),
    close: () => new Promise<void>((r) => s.close(() => r())),
  };
}

async function startWeriftServer(p: PeerParams, mode: ServerMode): Promise<ServerHandle> {
  const w = loadWerift(p.group);
  const st = emptyStats();
  const s = await bindUdp(p.rcvbuf);
  const peers = new Map<string, WeriftTransport>();
  s.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}|${rinfo.port}`;
    let t = peers.get(key);
    if (t === undefined) {
      const transport = weriftTransport(
        s,
        (data, done) => s.send(data, rinfo.port, rinfo.address, done),
        () => {
          peers.delete(key);
        },
      );
      t = transport;
      peers.set(key, t);
      const server = new w.DtlsServer({
        transport: t,
        cert: p.certs.serverCert,
        key: p.certs.serverKey,
        signatureHash: WERIFT_SIGNATURE_HASH,
        certificateRequest: p.clientCert,
        extendedMasterSecret: true,
      });
      server.onConnect.subscribe(() => {
        st.secure++;
      });
      server.onError.subscribe((e) => {
        st.clientErrors++;
        st.lastError = String(e);
      });
      // werift reports any alert (close_notify included) as onClose; it sends none itself.
      server.onClose.subscribe(() => {
        transport.closed = true;
        peers.delete(key);
      });
      if (mode === 'echo') server.onData.subscribe((m) => {
        onMessage(st, m.length);
        void server.send(m);
      });
      else server.onData.subscribe((m) => onMessage(st, m.length));
    }
    t.onData(msg, [rinfo.address, rinfo.port]);
  });
  return {
    port: s.address().port,
    recvBufferSize: s.getRecvBufferSize(),
    stats: () => ({ ...st, connections: peers.size }),
    resetMessages: () => resetMessages(st),
    close: () => new Promise<void>((r) => s.close(() => r())),
  };
}

// ------------------------------------------------------------------ clients

export interface ClientHandle {
  /** Sends one message (one DTLS record / one datagram); `done` when handed to the OS. */
  send(buf: Buffer, done: () => void): void;
  onMessage(fn: (m: Buffer) => void): void;
  close(): Promise<void>;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Opens one connection and resolves once it is established. */
export function openClient(p: PeerParams, port: number): Promise<ClientHandle> {
  if (p.impl === 'ours') return openOurClient(p, port);
  if (p.impl === 'werift') return openWeriftClient(p, port);
  return openRawClient(port, p.impl === 'sealed');
}

function openOurClient(p: PeerParams, port: number): Promise<ClientHandle> {
  return new Promise<ClientHandle>((resolve, reject) => {
    const sock = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: p.certs.ca,
      groups: clientGroups(p.group),
      ciphers: [SUITE],
      ...(p.clientCert ? { cert: p.certs.clientCert, key: p.certs.clientKey } : {}),
    });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('handshake timed out'));
    }, HANDSHAKE_TIMEOUT_MS);
    sock.once('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      sock.on('error', () => undefined);
      resolve({
        send: (buf, done) => sock.send(buf, () => done()),
        onMessage: (fn) => sock.on('message', fn),
        close: async () => {
          await sock.close();
        },
      });
    });
  });
}

/** A UDP socket connected to 127.0.0.1:port. */
async function connectedUdp(port: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.connect(port, '127.0.0.1', () => resolve());
  });
  return s;
}

/**
 * werift's transport over our UDP socket `s`: `send` hands a datagram to `sendTo`, and nothing once closed;
 * `close` runs `onClose` once.
 */
function weriftTransport(
  s: dgram.Socket,
  sendTo: (data: Buffer, done: () => void) => void,
  onClose: () => void | Promise<void>,
): WeriftTransport {
  const transport: WeriftTransport = {
    type: 'udp',
    get address() {
      return s.address();
    },
    closed: false,
    onData: () => undefined,
    send: (data) =>
      new Promise<void>((resolve) => {
        if (transport.closed) return resolve();
        sendTo(data, () => resolve());
      }),
    close: async () => {
      if (transport.closed) return;
      transport.closed = true;
      await onClose();
    },
  };
  return transport;
}

async function openRawClient(port: number, sealed: boolean): Promise<ClientHandle> {
  const s = await connectedUdp(port);
  return {
    send: sealed ? sealedSender(s) : (buf, done) => s.send(buf, () => done()),
    onMessage: (fn) => s.on('message', sealed ? sealedReceiver((m) => fn(m)) : fn),
    close: () => new Promise<void>((r) => s.close(() => r())),
  };
}

async function openWeriftClient(p: PeerParams, port: number): Promise<ClientHandle> {
  const w = loadWerift(p.group);
  const s = await connectedUdp(port);
  const transport = weriftTransport(
    s,
    (data, done) => s.send(data, done),
    () => new Promise<void>((r) => s.close(() => r())),
  );
  s.on('message', (m, r) => transport.onData(m, [r.address, r.port]));
  s.on('error', () => undefined);
  const client = new w.DtlsClient({
    transport,
    signatureHash: WERIFT_SIGNATURE_HASH,
    extendedMasterSecret: true,
    ...(p.clientCert ? { cert: p.certs.clientCert, key: p.certs.clientKey } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void transport.close();
      reject(new Error('werift handshake timed out'));
    }, HANDSHAKE_TIMEOUT_MS);
    client.onConnect.once(() => {
      clearTimeout(timer);
      resolve();
    });
    client.onError.subscribe((e) => {
      clearTimeout(timer);
      void transport.close();
      reject(e instanceof Error ? e : new Error(String(e)));
    });
    client.connect().catch((e: unknown) => {
      clearTimeout(timer);
      reject(e instanceof Error ? e : new Error(String(e)));
    });
  });
  return {
    send: (buf, done) => {
      client.send(buf).then(done, done);
    },
    onMessage: (fn) => client.onData.subscribe(fn),
    // werift has no close_notify: closing is dropping the transport.
    close: () => transport.close(),
  };
}

// ------------------------------------------------------------------ client-side measurements

export function cpuNow(): Cpu {
  const c = process.cpuUsage();
  return { user: c.user, system: c.system };
}

export interface HandshakeRun {
  count: number;
  errors: number;
  lastError: string | undefined;
  wallMs: number;
  cpuUs: number;
  /** Per-handshake latency (connect → established), ms. */
  latencyMedianMs: number;
  latencyP99Ms: number;
}

/**
 * Full handshakes in `concurrency` parallel lanes for `durationMs`: each lane opens a connection (new UDP
 * socket, cookie exchange, full handshake), closes it (close_notify for ours), and starts the next.
 */
export async function runHandshakes(p: PeerParams, port: number, concurrency: number, durationMs: number, maxErrors = 50): Promise<HandshakeRun> {
  const t0 = hr();
  const c0 = cpuNow();
  const deadline = t0 + durationMs;
  let count = 0;
  let errors = 0;
  let lastError: string | undefined;
  const lat: number[] = [];
  const lane = async (): Promise<void> => {
    while (hr() < deadline && errors < maxErrors) {
      const s = hr();
      try {
        const c = await openClient(p, port);
        lat.push(hr() - s);
        count++;
        await c.close();
      } catch (e) {
        errors++;
        lastError = e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const c1 = cpuNow();
  const wallMs = hr() - t0;
  lat.sort((a, b) => a - b);
  return {
    count,
    errors,
    lastError,
    wallMs,
    cpuUs: c1.user - c0.user + (c1.system - c0.system),
    latencyMedianMs: lat[Math.floor(lat.length / 2)] ?? Number.NaN,
    latencyP99Ms: lat[Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)] ?? Number.NaN,
  };
}
