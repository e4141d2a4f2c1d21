/**
 * An in-memory network with one server Endpoint and many client Connections on a virtual clock (the many-peer
 * counterpart of test/helpers/sim.ts), for the server limits tests: each client has its own address:port, and a
 * client can be told to go silent (a half-open handshake) or be muted in one direction.
 */
import { Connection } from '../../src/core/connection.js';
import { Endpoint, type EndpointLimits, type Remote } from '../../src/core/endpoint.js';
import type { ConnectionEvent } from '../../src/core/events.js';
import { labelDatagram, makeClientConfig, makeServerConfig, type ClientOptions, type ServerOptions } from './sim.js';

export interface Peer {
  readonly name: string;
  readonly remote: Remote;
  readonly client: Connection;
  /** Events of the client. */
  readonly events: ConnectionEvent[];
  /** Events of the server connection(s) for this peer. */
  readonly serverEvents: ConnectionEvent[];
  /** Labels of every datagram the server sent to this peer, in order (delivered or not). */
  readonly fromServer: string[][];
  /** When true, nothing this client sends reaches the server and nothing reaches it (it went silent). */
  silent: boolean;
  /** Go silent as soon as the server holds a connection for this peer (a half-open handshake). */
  silentOnceAccepted: boolean;
}

interface InFlight {
  at: number;
  order: number;
  data: Uint8Array;
  /** To the server from this peer, or to this peer from the server. */
  peer: Peer;
  toServer: boolean;
}

export interface MultiSimOptions {
  latencyMs?: number;
  server: ServerOptions;
  client: ClientOptions;
  limits?: Partial<EndpointLimits>;
}

export class MultiSim {
  now = 0;
  readonly endpoint: Endpoint;
  readonly peers: Peer[] = [];
  private readonly wire: InFlight[] = [];
  private order = 0;
  private readonly latency: number;
  private readonly clientOptions: ClientOptions;
  /** Every event with the virtual time it was polled at. */
  readonly log: { at: number; peer: Peer; side: 'client' | 'server'; event: ConnectionEvent }[] = [];
  /** Every server connection ever created, with its peer. */
  private readonly servers = new Map<Connection, Peer>();

  constructor(opts: MultiSimOptions) {
    this.latency = opts.latencyMs ?? 5;
    this.clientOptions = opts.client;
    const serverConfig = makeServerConfig(opts.server);
    this.endpoint = new Endpoint(() => serverConfig, serverConfig.crypto, opts.limits ?? {});
  }

  /** A new client at `address:port` that starts its handshake now. */
  connect(name: string, address: string, port: number, opts: { silentOnceAccepted?: boolean; client?: ClientOptions } = {}): Peer {
    const peer: Peer = {
      name,
      remote: { address, port },
      client: new Connection(makeClientConfig(opts.client ?? this.clientOptions)),
      events: [],
      serverEvents: [],
      fromServer: [],
      silent: false,
      silentOnceAccepted: opts.silentOnceAccepted ?? false,
    };
    this.peers.push(peer);
    peer.client.connect(this.now);
    this.drain();
    return peer;
  }

  /** The server connection now serving this peer. */
  server(peer: Peer): Connection | undefined {
    return this.endpoint.get(peer.remote);
  }

  /** Server connections still open. */
  get openServers(): Connection[] {
    return [...this.servers.keys()].filter((c) => !c.isClosed);
  }

  private send(peer: Peer, toServer: boolean, data: Uint8Array, delay = 0): void {
    this.wire.push({ at: this.now + this.latency + delay, order: this.order++, data: data.slice(), peer, toServer });
  }

  /** Puts bytes on the wire from `peer` to the server (bypassing its client connection). */
  inject(peer: Peer, data: Uint8Array): void {
    this.send(peer, true, data);
  }

  drain(): void {
    for (const peer of this.peers) {
      const c = peer.client;
      for (let d = c.pollTransmit(); d !== undefined; d = c.pollTransmit()) if (!peer.silent) this.send(peer, true, d);
      for (let e = c.pollEvent(); e !== undefined; e = c.pollEvent()) {
        peer.events.push(e);
        this.log.push({ at: this.now, peer, side: 'client', event: e });
      }
    }
    for (const [conn, peer] of this.servers) {
      for (let d = conn.pollTransmit(); d !== undefined; d = conn.pollTransmit()) {
        peer.fromServer.push(labelDatagram(d));
        this.send(peer, false, d);
      }
      for (let e = conn.pollEvent(); e !== undefined; e = conn.pollEvent()) {
        peer.serverEvents.push(e);
        this.log.push({ at: this.now, peer, side: 'server', event: e });
      }
    }
  }

  private deliver(p: InFlight): void {
    const peer = p.peer;
    if (peer.silent) return;
    if (!p.toServer) {
      peer.client.handleDatagram(this.now, p.data);
      return;
    }
    const r = this.endpoint.handleDatagram(this.now, p.data, peer.remote);
    if (r.kind === 'reply') {
      peer.fromServer.push(labelDatagram(r.datagram));
      this.send(peer, false, r.datagram);
    } else if (r.kind === 'connection') {
      this.servers.set(r.connection, peer);
      if (r.isNew && peer.silentOnceAccepted) peer.silent = true;
    }
  }

  private nextTime(): number | undefined {
    let t: number | undefined;
    const consider = (d: number | undefined): void => {
      if (d !== undefined && (t === undefined || d < t)) t = d;
    };
    for (const p of this.wire) consider(p.at);
    for (const peer of this.peers) consider(peer.client.pollTimeout());
    for (const conn of this.servers.keys()) consider(conn.pollTimeout());
    return t;
  }

  /** Runs until `done()` holds, nothing is left to happen, or the virtual clock reaches now + maxMs. */
  run(done: () => boolean = () => false, maxMs = 60_000): void {
    const end = this.now + maxMs;
    this.drain();
    for (let steps = 0; steps < 200_000 && !done(); steps++) {
      const t = this.nextTime();
      if (t === undefined || t > end) {
        if (t !== undefined) this.now = Math.max(this.now, end);
        break;
      }
      this.now = Math.max(this.now, t);
      const due = this.wire.filter((p) => p.at <= this.now).sort((a, b) => a.at - b.at || a.order - b.order);
      for (const p of due) this.wire.splice(this.wire.indexOf(p), 1);
      for (const p of due) {
        this.deliver(p);
        this.drain();
      }
      for (const c of [...this.peers.map((p) => p.client), ...this.servers.keys()]) {
        const d = c.pollTimeout();
        if (d !== undefined && d <= this.now) c.handleTimeout(this.now);
      }
      this.drain();
    }
  }

  /** Advances the clock to `at`, running everything due before it. */
  runUntil(at: number): void {
    this.run(() => false, at - this.now);
    this.now = Math.max(this.now, at);
  }

  /** Runs until every given peer's client and server connection are both connected (or closed). */
  handshake(peers: Peer[], maxMs = 30_000): void {
    this.run(() => peers.every((p) => p.client.isClosed || (p.client.isConnected && this.server(p)?.isConnected === true)), maxMs);
  }

  /** Sends one message each way and runs until both arrive; returns what each side received. */
  exchange(peer: Peer, text: string, maxMs = 5_000): { atServer: string[]; atClient: string[] } {
    const s = this.server(peer);
    if (s === undefined) throw new Error(`${peer.name} has no server connection`);
    const before = { server: dataOf(peer.serverEvents).length, client: dataOf(peer.events).length };
    peer.client.send(Buffer.from(`c:${text}`));
    s.send(Buffer.from(`s:${text}`));
    this.run(() => dataOf(peer.serverEvents).length > before.server && dataOf(peer.events).length > before.client, maxMs);
    return { atServer: dataOf(peer.serverEvents).slice(before.server), atClient: dataOf(peer.events).slice(before.client) };
  }
}

/** Virtual time of the first event of `type` on `side` for `peer`. */
export function eventTime(net: MultiSim, peer: Peer, side: 'client' | 'server', type: ConnectionEvent['type']): number | undefined {
  return net.log.find((l) => l.peer === peer && l.side === side && l.event.type === type)?.at;
}

export function dataOf(events: readonly ConnectionEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'data' ? [Buffer.from(e.data).toString()] : []));
}

export function closedEvent(events: readonly ConnectionEvent[]): Extract<ConnectionEvent, { type: 'closed' }> | undefined {
  return events.find((e): e is Extract<ConnectionEvent, { type: 'closed' }> => e.type === 'closed');
}
