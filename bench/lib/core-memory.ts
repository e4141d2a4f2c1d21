/**
 * Memory of the sans-IO core alone: one server Endpoint and N client Connections in one process, datagrams
 * handed across in memory (no sockets, no DtlsSocket, no timers). Each client does the full handshake with the
 * cookie exchange, then sends one 16-byte message so the server releases its final flight (as it does when a
 * real peer's first data arrives), and every event is drained, as a driver would.
 *
 * heap(both) − heap(after removing the server connections from the endpoint) = servers;
 * heap(clients only) − heap(after dropping the clients too) = clients. What is left above the baseline at the end
 * (cookie jar, maps) is reported as residue. The clients are held in a module-level slot: a local that is not
 * read again would be dead for V8 at the await, and collected before the first measurement.
 */
import { performance } from 'node:perf_hooks';
import { Connection } from '../../src/core/connection.js';
import { Endpoint, type Remote } from '../../src/core/endpoint.js';
import type { PeerParams } from './peers.js';
import { clientConfigFor, serverEndpointFor } from './core-configs.js';
import { settleGc, type Mem } from './util.js';

export interface CoreMemoryResult {
  n: number;
  established: number;
  baseline: Mem;
  both: Mem;
  clientsOnly: Mem;
  residue: Mem;
  serverHeapPerConn: number;
  clientHeapPerConn: number;
  residueHeapPerConn: number;
  /** total external + arrayBuffers (Buffers live outside the JS heap) */
  serverExternalPerConn: number;
  clientExternalPerConn: number;
  wallMs: number;
}

const held: { clients: Connection[] | undefined; endpoint: Endpoint | undefined } = { clients: undefined, endpoint: undefined };

export async function measureCoreMemory(p: PeerParams, n: number): Promise<CoreMemoryResult> {
  const clientConfig = clientConfigFor(p);
  const endpoint = serverEndpointFor(p);
  const drain = (c: Connection): void => {
    while (c.pollEvent() !== undefined) {
      /* a driver consumes every event */
    }
  };
  held.endpoint = endpoint;
  const baseline = await settleGc();
  const t0 = performance.now();
  const clients: Connection[] = [];
  held.clients = clients;
  const remotes: Remote[] = [];
  let established = 0;
  const ping = new Uint8Array(16);
  for (let i = 0; i < n; i++) {
    const remote: Remote = { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 5000 };
    remotes.push(remote);
    const client = new Connection(clientConfig);
    clients.push(client);
    client.connect(performance.now());
    let sentPing = false;
    for (let round = 0; round < 50; round++) {
      const now = performance.now();
      let moved = false;
      for (let d = client.pollTransmit(); d !== undefined; d = client.pollTransmit()) {
        moved = true;
        const r = endpoint.handleDatagram(now, d, remote);
        if (r.kind === 'reply') client.handleDatagram(now, r.datagram);
      }
      const server = endpoint.get(remote);
      if (server !== undefined) {
        for (let d = server.pollTransmit(); d !== undefined; d = server.pollTransmit()) {
          moved = true;
          client.handleDatagram(now, d);
        }
        drain(server);
      }
      drain(client);
      if (client.isConnected && !sentPing) {
        client.send(ping);
        sentPing = true;
        moved = true;
      }
      if (!moved) break;
    }
    if (client.isConnected && endpoint.get(remote)?.isConnected) established++;
  }
  const wallMs = performance.now() - t0;
  const both = await settleGc();
  for (const r of remotes) endpoint.remove(r);
  const clientsOnly = await settleGc();
  const stillHeld = held.clients?.length ?? 0;
  held.clients = undefined;
  held.endpoint = undefined;
  const residue = await settleGc();
  if (stillHeld !== n) throw new Error('clients were not held');
  const result: CoreMemoryResult = {
    n,
    established,
    baseline,
    both,
    clientsOnly,
    residue,
    serverHeapPerConn: (both.heapUsed - clientsOnly.heapUsed) / n,
    clientHeapPerConn: (clientsOnly.heapUsed - residue.heapUsed) / n,
    residueHeapPerConn: (residue.heapUsed - baseline.heapUsed) / n,
    serverExternalPerConn: (both.external - clientsOnly.external) / n,
    clientExternalPerConn: (clientsOnly.external - residue.external) / n,
    wallMs,
  };
  return result;
}
