/**
 * Full handshakes between a client Connection and a server Endpoint in one process, datagrams handed across in
 * memory: the protocol's own CPU per handshake on each side, without sockets, timers or the DtlsSocket driver.
 * The time inside each side's calls is summed separately (hrtime around every handle/poll call).
 *
 * `fresh` = true builds the client's config with resolveCommon() for every handshake, as connect() does;
 * false shares one resolved config (what the core costs when options are resolved once).
 */
import { performance } from 'node:perf_hooks';
import { Connection } from '../../src/core/connection.js';
import type { Remote } from '../../src/core/endpoint.js';
import type { PeerParams } from './peers.js';
import { clientConfigFor, serverEndpointFor } from './core-configs.js';

export interface MemoryPairResult {
  group: string;
  clientCert: boolean;
  freshClientConfig: boolean;
  handshakes: number;
  clientUsPerHandshake: number;
  serverUsPerHandshake: number;
  /** resolveCommon + makeVerifier per handshake (only with freshClientConfig) */
  clientConfigUsPerHandshake: number;
}

export function measureMemoryPairHandshakes(p: PeerParams, durationMs: number, freshClientConfig: boolean): MemoryPairResult {
  const endpoint = serverEndpointFor(p);
  const shared = clientConfigFor(p);
  let clientNs = 0n;
  let serverNs = 0n;
  let configNs = 0n;
  let n = 0;
  const hr = process.hrtime.bigint;
  const end = performance.now() + durationMs;
  const one = (i: number): void => {
    const remote: Remote = { address: '10.1.2.3', port: 1024 + (i % 60000) };
    let t = hr();
    const config = freshClientConfig ? clientConfigFor(p) : shared;
    const client = new Connection(config);
    client.connect(performance.now());
    let u = hr();
    configNs += freshClientConfig ? u - t : 0n;
    clientNs += u - t;
    for (let round = 0; round < 20; round++) {
      const now = performance.now();
      let moved = false;
      for (;;) {
        t = hr();
        const d = client.pollTransmit();
        u = hr();
        clientNs += u - t;
        if (d === undefined) break;
        moved = true;
        const r = endpoint.handleDatagram(now, d, remote);
        t = hr();
        serverNs += t - u;
        if (r.kind === 'reply') {
          client.handleDatagram(now, r.datagram);
          clientNs += hr() - t;
        }
      }
      const server = endpoint.get(remote);
      if (server !== undefined) {
        for (;;) {
          t = hr();
          const d = server.pollTransmit();
          while (d === undefined && server.pollEvent() !== undefined) {
            /* drain */
          }
          u = hr();
          serverNs += u - t;
          if (d === undefined) break;
          moved = true;
          client.handleDatagram(now, d);
          clientNs += hr() - u;
        }
      }
      t = hr();
      while (client.pollEvent() !== undefined) {
        /* drain */
      }
      clientNs += hr() - t;
      if (!moved) break;
    }
    if (!client.isConnected) throw new Error(`in-memory handshake did not complete (${client.error?.message ?? client.handshakeState})`);
    t = hr();
    client.close();
    const d = client.pollTransmit();
    u = hr();
    clientNs += u - t;
    if (d !== undefined) endpoint.handleDatagram(performance.now(), d, remote);
    serverNs += hr() - u;
    endpoint.remove(remote);
    n++;
  };
  for (let i = 0; i < 20; i++) one(i); // warm up
  clientNs = 0n;
  serverNs = 0n;
  configNs = 0n;
  n = 0;
  for (let i = 0; performance.now() < end; i++) one(i);
  return {
    group: p.group,
    clientCert: p.clientCert,
    freshClientConfig,
    handshakes: n,
    clientUsPerHandshake: Number(clientNs) / 1000 / n,
    serverUsPerHandshake: Number(serverNs) / 1000 / n,
    clientConfigUsPerHandshake: Number(configNs) / 1000 / n,
  };
}
