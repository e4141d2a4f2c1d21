/**
 * An in-memory network for sans-IO tests (DESIGN §9): a client Connection and a server Endpoint on a virtual
 * clock, with latency and a filter that can drop, duplicate, delay or rewrite datagrams. Every datagram is
 * labelled with what it carries (e.g. "ClientHello", "ServerHello,Certificate", "ChangeCipherSpec,EncryptedHandshake")
 * so a test can name the flight it interferes with.
 */
import { Connection } from '../../src/core/connection.js';
import { Endpoint, type EndpointLimits, DEFAULT_ENDPOINT_LIMITS, type Remote } from '../../src/core/endpoint.js';
import type { ConnectionConfig } from '../../src/core/config.js';
import type { ConnectionEvent } from '../../src/core/events.js';
import { resolveCommon, makeVerifier, type CommonOptions } from '../../src/api/options.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { decodeHandshakeFragments, encodeHandshakeFragment } from '../../src/msgs/handshake.js';
import { sealPlaintextRecord } from '../../src/record/protection.js';
import { handshakeName } from '../../src/msgs/enums.js';
import { decodeClientHello } from '../../src/msgs/client-hello.js';

export type Side = 'client' | 'server';

export interface Packet {
  readonly from: Side;
  readonly at: number;
  readonly data: Uint8Array;
  readonly labels: string[];
  /** Index of this datagram among those sent by `from`. */
  readonly index: number;
}

/** What happens to a datagram: delivered, dropped, delivered twice, delivered late, or replaced by other bytes. */
export type Verdict = 'deliver' | 'drop' | 'duplicate' | { delay: number } | { replace: Uint8Array };

export type ClientOptions = CommonOptions & { servername?: string };
export type ServerOptions = CommonOptions & { requestCert?: boolean };

export interface SimOptions {
  latencyMs?: number;
  filter?: (p: Packet) => Verdict;
  client?: ClientOptions;
  server?: ServerOptions;
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

export interface LoggedEvent {
  readonly at: number;
  readonly side: Side;
  readonly event: ConnectionEvent;
}

export const CLIENT_REMOTE: Remote = { address: '10.0.0.2', port: 40000 };

export function makeClientConfig(opts: ClientOptions = {}): ConnectionConfig {
  const c = resolveCommon(opts);
  return {
    ...c.base,
    role: 'client',
    servername: opts.servername ?? 'localhost',
    requestClientCertificate: false,
    requireClientCertificate: false,
    verifyPeer: makeVerifier(c),
  };
}

export function makeServerConfig(opts: ServerOptions = {}): ConnectionConfig {
  const s = resolveCommon(opts);
  const requestCert = opts.requestCert ?? false;
  return {
    ...s.base,
    role: 'server',
    servername: undefined,
    requestClientCertificate: requestCert,
    requireClientCertificate: requestCert && s.rejectUnauthorized,
    verifyPeer: makeVerifier(s),
  };
}

export class Sim {
  now = 0;
  client: Connection;
  readonly endpoint: Endpoint;
  /** The server connection the endpoint most recently routed a datagram to. */
  server: Connection | undefined;
  /** Every datagram handed to the network, in order, before the filter. */
  readonly sent: Packet[] = [];
  readonly clientEvents: ConnectionEvent[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  /** Every event of either side with the virtual time it was polled at. */
  readonly log: LoggedEvent[] = [];
  /** Remote address the client's datagrams appear to come from. */
  clientRemote: Remote = CLIENT_REMOTE;
  private readonly wire: InFlight[] = [];
  private order = 0;
  private readonly counts: Record<Side, number> = { client: 0, server: 0 };
  private readonly latency: number;
  filter: (p: Packet) => Verdict;
  private readonly clientOptions: ClientOptions;

  constructor(opts: SimOptions = {}) {
    this.latency = opts.latencyMs ?? 5;
    this.filter = opts.filter ?? (() => 'deliver');
    this.clientOptions = opts.client ?? {};
    this.client = new Connection(makeClientConfig(this.clientOptions));
    const serverConfig = makeServerConfig(opts.server ?? {});
    this.endpoint = new Endpoint(() => serverConfig, serverConfig.crypto, { ...DEFAULT_ENDPOINT_LIMITS, ...opts.limits });
  }

  start(): void {
    this.client.connect(this.now);
    this.drain();
  }

  /**
   * A new client Connection on the same address:port (a client process that restarted). Events of the old
   * client are no longer collected; returns the old one.
   */
  restartClient(opts: ClientOptions = this.clientOptions): Connection {
    this.drain();
    const old = this.client;
    this.client = new Connection(makeClientConfig(opts));
    this.client.connect(this.now);
    this.drain();
    return old;
  }

  /** Moves all output of both sides onto the wire, through the filter. */
  drain(): void {
    this.collect('client', this.client);
    if (this.server) this.collect('server', this.server);
  }

  private collect(from: Side, conn: Connection): void {
    for (let d = conn.pollTransmit(); d !== undefined; d = conn.pollTransmit()) this.transmit(from, d);
    const sink = from === 'client' ? this.clientEvents : this.serverEvents;
    for (let e = conn.pollEvent(); e !== undefined; e = conn.pollEvent()) {
      sink.push(e);
      this.log.push({ at: this.now, side: from, event: e });
    }
  }

  transmit(from: Side, data: Uint8Array): void {
    const p: Packet = { from, at: this.now, data, labels: labelDatagram(data), index: this.counts[from]++ };
    this.sent.push(p);
    const v = this.filter(p);
    if (v === 'drop') return;
    const to: Side = from === 'client' ? 'server' : 'client';
    const bytes = typeof v === 'object' && 'replace' in v ? v.replace : data;
    const copy = bytes.slice();
    this.wire.push({ at: this.now + this.latency, to, data: copy, order: this.order++ });
    if (v === 'duplicate') this.wire.push({ at: this.now + this.latency, to, data: copy.slice(), order: this.order++ });
    else if (typeof v === 'object' && 'delay' in v) this.wire[this.wire.length - 1]!.at += v.delay;
  }

  /** Puts bytes on the wire to `to` (bypassing the filter and the `sent` log), arriving after `delay` ms. */
  inject(to: Side, data: Uint8Array, delay = 0): void {
    this.wire.push({ at: this.now + delay, to, data: data.slice(), order: this.order++ });
  }

  private deliver(p: InFlight): void {
    if (p.to === 'client') {
      this.client.handleDatagram(this.now, p.data);
      return;
    }
    const r = this.endpoint.handleDatagram(this.now, p.data, this.clientRemote);
    if (r.kind === 'reply') this.transmit('server', r.datagram);
    else if (r.kind === 'connection') {
      if (r.connection !== this.server && this.server !== undefined) this.collect('server', this.server);
      this.server = r.connection;
    }
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

  /** Runs until both sides are connected (or nothing is left to happen). */
  handshake(maxMs = 120_000): void {
    this.start();
    this.run(() => this.bothConnected || this.client.isClosed || this.server?.isClosed === true, maxMs);
  }

  /** Runs until nothing is in flight on the wire (timers may still be pending). */
  settle(maxMs = 1_000): void {
    this.run(() => this.wire.length === 0, maxMs);
  }

  /**
   * Sends each message from the client and keeps its application records from the server: returns them one per
   * record (small records are coalesced into one datagram; taken apart here), as copies, in the order sent.
   */
  holdClientRecords(messages: readonly string[]): Uint8Array[] {
    const held: Packet[] = [];
    const before = this.filter;
    this.filter = (p) => {
      if (p.from === 'client' && p.labels.includes('ApplicationData')) {
        held.push(p);
        return 'drop';
      }
      return before(p);
    };
    for (const m of messages) this.client.send(Buffer.from(m));
    this.settle();
    this.filter = before;
    return held.flatMap((p) => splitDatagram(p.data).records.map((r) => r.raw.slice()));
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

  /** Virtual time at which `side` reported an event of `type` (first one), or undefined. */
  eventTime(side: Side, type: ConnectionEvent['type']): number | undefined {
    return this.log.find((l) => l.side === side && l.event.type === type)?.at;
  }

  /** Datagrams sent by `from` whose labels satisfy `pred`. */
  packets(from: Side, pred: (labels: string[]) => boolean = () => true): Packet[] {
    return this.sent.filter((p) => p.from === from && pred(p.labels));
  }

  /** Send times of datagrams from `from` carrying a label that starts with `label`. */
  times(from: Side, label: string): number[] {
    return this.packets(from, (ls) => ls.some((l) => l.startsWith(label))).map((p) => p.at);
  }

  /** Human-readable trace of the wire, for failure messages. */
  trace(): string {
    return this.sent.map((p) => `${p.at} ${p.from}#${p.index} (${p.data.length}B): ${p.labels.join(',')}`).join('\n');
  }
}

/** Differences between consecutive numbers. */
export function gaps(ts: readonly number[]): number[] {
  return ts.slice(1).map((t, i) => t - ts[i]!);
}

const FLIGHT4 = new Set(['ServerHello', 'Certificate', 'ServerKeyExchange', 'CertificateRequest', 'ServerHelloDone']);
const FLIGHT5 = new Set(['Certificate', 'ClientKeyExchange', 'CertificateVerify', 'ChangeCipherSpec', 'EncryptedHandshake']);

/**
 * The RFC 6347 §4.2.4 flight a handshake datagram belongs to: 1 ClientHello, 2 HelloVerifyRequest, 3 ClientHello
 * with cookie, 4 ServerHello ... ServerHelloDone, 5 [Certificate] ClientKeyExchange ... Finished, 6 ChangeCipherSpec
 * Finished; undefined for anything else (alerts, application data).
 */
export function flightOf(p: Packet): number | undefined {
  const names = p.labels.map((l) => l.replace(/\[.*$/, ''));
  if (names.length === 0) return undefined;
  if (p.from === 'client') {
    if (names[0] === 'ClientHello') {
      const rec = splitDatagram(p.data).records[0]!;
      const f = decodeHandshakeFragments(rec.fragment)[0]!;
      if (f.fragmentLength !== f.length) return undefined;
      return decodeClientHello(f.body).cookie.length > 0 ? 3 : 1;
    }
    return names.every((n) => FLIGHT5.has(n)) ? 5 : undefined;
  }
  if (names.every((n) => n === 'HelloVerifyRequest')) return 2;
  if (names.every((n) => FLIGHT4.has(n))) return 4;
  if (names.every((n) => n === 'ChangeCipherSpec' || n === 'EncryptedHandshake')) return 6;
  return undefined;
}

/** Distinct times at which flight `n` was (re)transmitted. */
export function flightTimes(sim: Sim, n: number): number[] {
  return [...new Set(sim.sent.filter((p) => flightOf(p) === n).map((p) => p.at))];
}

/** A filter that drops every datagram of the first `times` transmissions of flight `n` (grouped by send time). */
export function dropFlight(n: number, times = 1): (p: Packet) => Verdict {
  const seen: number[] = [];
  return (p) => {
    if (flightOf(p) !== n) return 'deliver';
    if (!seen.includes(p.at)) seen.push(p.at);
    return seen.indexOf(p.at) < times ? 'drop' : 'deliver';
  };
}

/**
 * Rewrites the unfragmented epoch-0 handshake messages of type `msgType` in a datagram (keeping record sequence
 * numbers and message_seq), e.g. to strip an extension from a ClientHello or ServerHello. Other records are kept.
 */
export function rewriteHandshake(datagram: Uint8Array, msgType: number, edit: (body: Uint8Array) => Uint8Array): Uint8Array {
  const out: Uint8Array[] = [];
  for (const r of splitDatagram(datagram).records) {
    const h = r.header;
    if (h.contentType !== 22 || h.epoch !== 0) {
      out.push(r.raw);
      continue;
    }
    const parts = decodeHandshakeFragments(r.fragment).map((f) => {
      if (f.msgType !== msgType || f.fragmentLength !== f.length) {
        return encodeHandshakeFragment(f.msgType, f.length, f.messageSeq, f.fragmentOffset, f.body);
      }
      const body = edit(f.body);
      return encodeHandshakeFragment(f.msgType, body.length, f.messageSeq, 0, body);
    });
    out.push(sealPlaintextRecord(22, h.version, 0, h.sequenceNumber, Buffer.concat(parts)));
  }
  return Buffer.concat(out);
}
