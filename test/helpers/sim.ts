/**
 * An in-memory network for sans-IO tests (DESIGN §9): a client Connection and a server Endpoint on a virtual
 * clock, with latency and a filter that can drop, duplicate or delay datagrams. Every datagram is labelled with
 * what it carries (e.g. "ClientHello", "ServerHello,Certificate", "ChangeCipherSpec,EncryptedHandshake") so a
 * test can name the flight it interferes with.
 */
import { Connection } from '../../src/core/connection.js';
import { Endpoint, type EndpointLimits, DEFAULT_ENDPOINT_LIMITS } from '../../src/core/endpoint.js';
import type { ConnectionConfig } from '../../src/core/config.js';
import type { ConnectionEvent } from '../../src/core/events.js';
import { resolveCommon, makeVerifier, type CommonOptions } from '../../src/api/options.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { decodeHandshakeFragments } from '../../src/msgs/handshake.js';
import { handshakeName } from '../../src/msgs/enums.js';

export type Side = 'client' | 'server';

export interface Packet {
  readonly from: Side;
  readonly at: number;
  readonly data: Uint8Array;
  readonly labels: string[];
  /** Index of this datagram among those sent by `from`. */
  readonly index: number;
}

export type Verdict = 'deliver' | 'drop' | 'duplicate' | { delay: number };

export interface SimOptions {
  latencyMs?: number;
  filter?: (p: Packet) => Verdict;
  client?: CommonOptions & { servername?: string };
  server?: CommonOptions & { requestCert?: boolean };
  limits?: Partial<EndpointLimits>;
}

export function labelDatagram(d: Uint8Array): string[] {
  const labels: string[] = [];
  for (const r of splitDatagram(d).records) {
    const t = r.header.contentType;
    if (t === 22 && r.header.epoch === 0) {
      try {
        for (const f of decodeHandshakeFragments(r.fragment)) {
          const name = handshakeName(f.msgType);
          labels.push(f.fragmentLength < f.length ? `${name}[${f.fragmentOffset}+${f.fragmentLength}/${f.length}]` : name);
        }
      } catch {
        labels.push('BadHandshake');
      }
    } else if (t === 22) labels.push('EncryptedHandshake');
    else if (t === 20) labels.push('ChangeCipherSpec');
    else if (t === 21) labels.push(r.header.epoch === 0 ? 'Alert' : 'EncryptedAlert');
    else if (t === 23) labels.push('ApplicationData');
    else labels.push(`type${t}`);
  }
  return labels;
}

interface InFlight {
  at: number;
  to: Side;
  data: Uint8Array;
  order: number;
}

export const CLIENT_REMOTE = { address: '10.0.0.2', port: 40000 };

export class Sim {
  now = 0;
  readonly client: Connection;
  readonly endpoint: Endpoint;
  server: Connection | undefined;
  readonly sent: Packet[] = [];
  readonly clientEvents: ConnectionEvent[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  private readonly wire: InFlight[] = [];
  private order = 0;
  private readonly counts: Record<Side, number> = { client: 0, server: 0 };
  private readonly latency: number;
  private readonly filter: (p: Packet) => Verdict;

  constructor(opts: SimOptions) {
    this.latency = opts.latencyMs ?? 5;
    this.filter = opts.filter ?? (() => 'deliver');
    const c = resolveCommon(opts.client ?? {});
    const clientConfig: ConnectionConfig = {
      ...c.base,
      role: 'client',
      servername: opts.client?.servername ?? 'localhost',
      requestClientCertificate: false,
      requireClientCertificate: false,
      verifyPeer: makeVerifier(c),
    };
    this.client = new Connection(clientConfig);
    const s = resolveCommon(opts.server ?? {});
    const requestCert = opts.server?.requestCert ?? false;
    const serverConfig: ConnectionConfig = {
      ...s.base,
      role: 'server',
      servername: undefined,
      requestClientCertificate: requestCert,
      requireClientCertificate: requestCert && s.rejectUnauthorized,
      verifyPeer: makeVerifier(s),
    };
    this.endpoint = new Endpoint(() => serverConfig, s.crypto, { ...DEFAULT_ENDPOINT_LIMITS, ...opts.limits });
  }

  start(): void {
    this.client.connect(this.now);
    this.drain();
  }

  /** Moves all output of both sides onto the wire, through the filter. */
  drain(): void {
    this.collect('client', this.client);
    if (this.server) this.collect('server', this.server);
  }

  private collect(from: Side, conn: Connection): void {
    for (let d = conn.pollTransmit(); d !== undefined; d = conn.pollTransmit()) this.transmit(from, d);
    const sink = from === 'client' ? this.clientEvents : this.serverEvents;
    for (let e = conn.pollEvent(); e !== undefined; e = conn.pollEvent()) sink.push(e);
  }

  transmit(from: Side, data: Uint8Array): void {
    const p: Packet = { from, at: this.now, data, labels: labelDatagram(data), index: this.counts[from]++ };
    this.sent.push(p);
    const v = this.filter(p);
    const to: Side = from === 'client' ? 'server' : 'client';
    if (v === 'drop') return;
    const copy = data.slice();
    this.wire.push({ at: this.now + this.latency, to, data: copy, order: this.order++ });
    if (v === 'duplicate') this.wire.push({ at: this.now + this.latency, to, data: copy.slice(), order: this.order++ });
    else if (typeof v === 'object') this.wire[this.wire.length - 1]!.at += v.delay;
  }

  private deliver(p: InFlight): void {
    if (p.to === 'client') {
      this.client.handleDatagram(this.now, p.data);
      return;
    }
    const r = this.endpoint.handleDatagram(this.now, p.data, CLIENT_REMOTE);
    if (r.kind === 'reply') this.transmit('server', r.datagram);
    else if (r.kind === 'connection') this.server = r.connection;
  }

  private nextEventTime(): number | undefined {
    let t: number | undefined;
    for (const p of this.wire) if (t === undefined || p.at < t) t = p.at;
    for (const c of [this.client, this.server]) {
      const d = c?.pollTimeout();
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  /** Runs until `done()` holds, nothing is left to happen, or `maxMs` of virtual time pass. */
  run(done: () => boolean = () => false, maxMs = 120_000): void {
    const end = this.now + maxMs;
    this.drain();
    for (let steps = 0; steps < 100_000 && !done(); steps++) {
      const t = this.nextEventTime();
      if (t === undefined || t > end) break;
      this.now = Math.max(this.now, t);
      const due = this.wire.filter((p) => p.at <= this.now).sort((a, b) => a.at - b.at || a.order - b.order);
      for (const p of due) this.wire.splice(this.wire.indexOf(p), 1);
      for (const p of due) {
        this.deliver(p);
        this.drain();
      }
      for (const c of [this.client, this.server]) {
        const d = c?.pollTimeout();
        if (c !== undefined && d !== undefined && d <= this.now) c.handleTimeout(this.now);
      }
      this.drain();
    }
  }

  get bothConnected(): boolean {
    return this.client.isConnected && this.server?.isConnected === true;
  }

  /** Data events received by a side, as strings. */
  received(side: Side): string[] {
    const ev = side === 'client' ? this.clientEvents : this.serverEvents;
    return ev.flatMap((e) => (e.type === 'data' ? [Buffer.from(e.data).toString()] : []));
  }

  closedWith(side: Side): ConnectionEvent | undefined {
    const ev = side === 'client' ? this.clientEvents : this.serverEvents;
    return ev.find((e) => e.type === 'closed');
  }
}
