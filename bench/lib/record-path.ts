/**
 * CPU per application record on this stack's own paths, with no socket I/O, next to the bare node:crypto cost of
 * the same AEAD operation — the difference is what the record layer, the core and the Node driver add:
 *
 *   send, core        Connection.send() + pollTransmit()                      (client Connection)
 *   send, API         DtlsSocket.send() with a transport that drops the datagram (what connect() users call)
 *   receive, core     Connection.handleDatagram() + pollEvent()               (server-side Connection)
 *   receive, API      DtlsServer.handleDatagram(msg, rinfo) → 'message' event  (what the server's socket calls)
 *
 * A client Connection and a DtlsServer (on a stand-in socket object that hands its datagrams back in memory) do
 * a real handshake first. Each figure is the best of 5 rounds, µs per record.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Socket as DgramSocket } from 'node:dgram';
import { createServer, DtlsSocket, type DtlsServer } from '../../src/index.js';
import { Connection } from '../../src/core/connection.js';
import { SUITE, type PeerParams } from './peers.js';
import { clientConfigFor } from './core-configs.js';

export interface RecordPathRow {
  size: number;
  sendCoreUs: number;
  sendApiUs: number;
  receiveCoreUs: number;
  receiveApiUs: number;
}

const CLIENT = { address: '10.9.8.7', port: 4242, family: 'IPv4', size: 0 };

function best(rounds: number, perRound: number, prepare: (() => void) | undefined, fn: () => void): number {
  let b = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    prepare?.();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) fn();
    b = Math.min(b, Number(process.hrtime.bigint() - t0) / perRound / 1000);
  }
  return b;
}

/**
 * A DtlsServer on a stand-in socket and a client Connection, after a real handshake done in memory, with the
 * server's final flight released. `delivered()` counts the server's `message` events.
 */
export interface InMemoryPair {
  server: DtlsServer;
  serverConn: Connection;
  client: Connection;
  delivered: () => number;
  /** The sender's address as the server sees it. */
  readonly remote: { address: string; port: number; family: string; size: number };
}

export async function inMemoryPair(p: PeerParams): Promise<InMemoryPair> {
  // The server, on a stand-in socket: what it sends goes to `toClient`.
  const toClient: Uint8Array[] = [];
  const fake = Object.assign(new EventEmitter(), {
    send(msg: Uint8Array, _port: number, _address: string, cb?: (err: Error | null) => void): void {
      toClient.push(msg);
      cb?.(null);
    },
    address: () => ({ address: '127.0.0.1', family: 'IPv4', port: 1 }),
  });
  let serverSock: DtlsSocket | undefined;
  let delivered = 0;
  const server: DtlsServer = createServer(
    {
      socket: fake as unknown as DgramSocket,
      cert: p.certs.serverCert,
      key: p.certs.serverKey,
      ca: p.certs.ca,
      groups: [p.group],
      ciphers: [SUITE],
    },
    (s) => {
      serverSock = s;
      s.on('message', () => {
        delivered++;
      });
    },
  );
  const config = clientConfigFor({ ...p, clientCert: false });
  const client = new Connection(config);
  client.connect(performance.now());
  for (let round = 0; round < 20 && !(client.isConnected && serverSock !== undefined); round++) {
    for (let d = client.pollTransmit(); d !== undefined; d = client.pollTransmit()) server.handleDatagram(d, CLIENT);
    for (const d of toClient.splice(0)) client.handleDatagram(performance.now(), d);
    while (client.pollEvent() !== undefined) {
      /* drain */
    }
  }
  if (!client.isConnected || serverSock === undefined) throw new Error('in-memory handshake for the record path did not complete');
  // Let the server release its final flight (data from the client does that) and settle.
  client.send(new Uint8Array(8));
  for (let d = client.pollTransmit(); d !== undefined; d = client.pollTransmit()) server.handleDatagram(d, CLIENT);
  toClient.length = 0;
  return { server, serverConn: serverSock.connection, client, delivered: () => delivered, remote: CLIENT };
}

export async function measureRecordPath(p: PeerParams, sizes: readonly number[], perRound: number): Promise<RecordPathRow[]> {
  const { server, serverConn, client, delivered } = await inMemoryPair(p);

  // The client's API socket, on a transport that drops datagrams.
  const clientSock = new DtlsSocket(client, {
    send: (_d, done) => done(null),
    remoteAddress: '127.0.0.1',
    remotePort: 1,
    remoteFamily: 'IPv4',
    localAddress: () => ({ address: CLIENT.address, family: 'IPv4', port: CLIENT.port }),
  });

  const rows: RecordPathRow[] = [];
  for (const size of sizes) {
    const msg = Buffer.alloc(size, 0x5a);
    const sendCoreUs = best(5, perRound, undefined, () => {
      client.send(msg);
      client.pollTransmit();
    });
    const sendApiUs = best(5, perRound, undefined, () => clientSock.send(msg));
    // Receive: records made beforehand (fresh sequence numbers for every round).
    let batch: Uint8Array[] = [];
    let at = 0;
    const prepare = (): void => {
      batch = [];
      at = 0;
      for (let i = 0; i < perRound; i++) {
        client.send(msg);
        batch.push(client.pollTransmit()!);
      }
    };
    const before = serverConn.stats.messagesDelivered;
    const receiveCoreUs = best(5, perRound, prepare, () => {
      serverConn.handleDatagram(performance.now(), batch[at++]!);
      serverConn.pollEvent();
    });
    if (serverConn.stats.messagesDelivered - before !== 5 * perRound) throw new Error('record path: records were not delivered (core)');
    const d0 = delivered();
    const receiveApiUs = best(5, perRound, prepare, () => server.handleDatagram(batch[at++]!, CLIENT));
    if (delivered() - d0 !== 5 * perRound) throw new Error('record path: records were not delivered (API)');
    rows.push({ size, sendCoreUs, sendApiUs, receiveCoreUs, receiveApiUs });
  }
  return rows;
}
