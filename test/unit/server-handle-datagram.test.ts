/**
 * DtlsServer.handleDatagram(msg, rinfo), the entry for a socket shared with other protocols (RFC 7983
 * demultiplexing): the caller may reuse its receive buffer as soon as the call returns. What the server keeps
 * from a datagram must be copies, not views of that buffer: the ClientHello a connection is made for (its random
 * goes into the keys at ClientKeyExchange) and records kept for later (RFC 6347 §4.1: records of the next epoch
 * that arrive before the ChangeCipherSpec).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket as DgramSocket } from 'node:dgram';
import { createServer, type DtlsSocket } from '../../src/index.js';
import { Connection } from '../../src/core/connection.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { makeClientConfig } from '../helpers/sim.js';
import { testCerts } from '../helpers/certs.js';

test('RFC 6347 §4.1, §4.2.1 handleDatagram with a reused receive buffer: the ClientHello and a Finished that arrives before its ChangeCipherSpec are kept as copies, and the handshake completes', async () => {
  const certs = await testCerts('ec');
  const toClient: Uint8Array[] = [];
  const socket = Object.assign(new EventEmitter(), {
    send(msg: Uint8Array, _port: number, _address: string, cb?: (err: Error | null) => void): void {
      toClient.push(Uint8Array.from(msg));
      cb?.(null);
    },
    address: () => ({ address: '127.0.0.1', family: 'IPv4', port: 4433 }),
  });
  let secure: DtlsSocket | undefined;
  const received: string[] = [];
  const server = createServer({ socket: socket as unknown as DgramSocket, cert: certs.serverCert, key: certs.serverKey }, (s) => {
    secure = s;
    s.on('message', (m: Buffer) => received.push(m.toString()));
  });
  const rinfo = { address: '10.1.2.3', port: 5555, family: 'IPv4' };
  // One receive buffer for every datagram, overwritten each time, as a demultiplexer reading into a fixed buffer.
  const shared = Buffer.alloc(2048);
  const feed = (d: Uint8Array): void => {
    shared.fill(0xee);
    shared.set(d);
    server.handleDatagram(shared.subarray(0, d.length), rinfo);
    shared.fill(0xee);
  };
  const client = new Connection(makeClientConfig({ ca: certs.ca }));
  client.connect(0);
  for (let round = 0; round < 10 && !client.isConnected; round++) {
    for (let d = client.pollTransmit(); d !== undefined; d = client.pollTransmit()) {
      const records = splitDatagram(d).records;
      const finished = records.findIndex((r) => r.header.epoch === 1);
      if (finished > 0) {
        // The client's last flight: its epoch-1 Finished first, on its own, then the records before it.
        feed(records[finished]!.raw);
        for (const r of records.slice(0, finished)) feed(r.raw);
        for (const r of records.slice(finished + 1)) feed(r.raw);
      } else feed(d);
    }
    for (const d of toClient.splice(0)) client.handleDatagram(round, d);
    while (client.pollEvent() !== undefined) {
      /* drain */
    }
  }
  assert.ok(client.isConnected, 'client connected');
  assert.ok(secure?.connected, 'server connected');
  client.send(Buffer.from('after the handshake'));
  for (let d = client.pollTransmit(); d !== undefined; d = client.pollTransmit()) feed(d);
  assert.deepEqual(received, ['after the handshake']);
  await server.close();
});

test('DtlsServer.handleDatagram: a datagram that is not bytes, or a sender without address and port, throws ERR_DTLS_INVALID_ARGUMENT', async () => {
  const certs = await testCerts('ec');
  const socket = Object.assign(new EventEmitter(), {
    send: (): void => undefined,
    address: () => ({ address: '127.0.0.1', family: 'IPv4', port: 4433 }),
  });
  const server = createServer({ socket: socket as unknown as DgramSocket, cert: certs.serverCert, key: certs.serverKey });
  const rinfo = { address: '10.1.2.3', port: 5555 };
  for (const bad of ['text', 42, null, undefined, new ArrayBuffer(20), [1, 2, 3]]) {
    assert.throws(() => server.handleDatagram(bad as unknown as Uint8Array, rinfo), { code: 'ERR_DTLS_INVALID_ARGUMENT' }, String(bad));
  }
  for (const bad of [undefined, null, {}, { address: '10.1.2.3' }, { port: 5555 }, { address: 1, port: 5555 }, { address: '10.1.2.3', port: 1.5 }]) {
    assert.throws(() => server.handleDatagram(new Uint8Array(20), bad as unknown as typeof rinfo), { code: 'ERR_DTLS_INVALID_ARGUMENT' }, JSON.stringify(bad));
  }
  // Bytes that are not DTLS are a peer's malformed datagram: discarded and counted, no throw.
  server.handleDatagram(new Uint8Array(20), rinfo);
  assert.equal(server.getStats().dropped.malformed, 1);
  assert.equal(server.connections, 0);
  await server.close();
});

