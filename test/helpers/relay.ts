/**
 * A lossy UDP relay on 127.0.0.1 for real-socket tests (test/net) and scripts: it sits between clients and a
 * server and drops, duplicates, reorders, delays and corrupts datagrams at configurable rates, with a seeded RNG
 * so that a run's decisions are reproducible for a given order of datagrams.
 *
 *   client ──▶ relay.port (front) ──[impair toServer]──▶ back socket (one per client) ──▶ target
 *   client ◀──────────────────────── [impair toClient] ◀── back socket ◀────────────────── target
 *
 * Each client address:port gets its own back socket, so the server sees one distinct source per client. Every
 * decision is counted in `stats`, so a test can show that the impairments really happened.
 */
import dgram from 'node:dgram';
import { mulberry32 } from './rng.js';

export interface Impairment {
  /** Probability that a datagram is dropped. */
  drop?: number;
  /** Probability that a datagram is delivered twice (the copy 0–`jitterMs` ms later). */
  duplicate?: number;
  /** Probability that a datagram is held back `reorderMs` so that later ones overtake it. */
  reorder?: number;
  /** How long a reordered datagram is held (default 30 ms). */
  reorderMs?: number;
  /**
   * Probability that one byte of a datagram is flipped. Only datagrams whose first record is application data
   * (content type 23) are corrupted unless `corruptAny` is set: a corrupted handshake message ends a DTLS
   * handshake (it is what an active attacker does), which is not what a loss test is about.
   */
  corrupt?: number;
  corruptAny?: boolean;
  /** Fixed delay added to every datagram (ms). */
  delayMs?: number;
  /** Uniform random extra delay, 0 to this many ms. */
  jitterMs?: number;
}

export interface RelayOptions extends Impairment {
  /** Where to forward to (the server), on 127.0.0.1 unless `targetAddress` says otherwise. */
  targetPort: number;
  targetAddress?: string;
  /** RNG seed (default 1). */
  seed?: number;
  /** Overrides for one direction. */
  toServer?: Impairment;
  toClient?: Impairment;
}

export interface DirectionStats {
  received: number;
  forwarded: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  delayed: number;
}

function emptyStats(): DirectionStats {
  return { received: 0, forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, corrupted: 0, delayed: 0 };
}

/** mulberry32: small, fast, seeded. Returns numbers in [0, 1). */
export const seededRandom = mulberry32;

interface ClientLink {
  readonly address: string;
  readonly port: number;
  readonly back: dgram.Socket;
}

export class LossyRelay {
  readonly stats: { toServer: DirectionStats; toClient: DirectionStats } = { toServer: emptyStats(), toClient: emptyStats() };
  private readonly front = dgram.createSocket('udp4');
  private readonly links = new Map<string, ClientLink>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly random: () => number;
  private readonly impair: { toServer: Impairment; toClient: Impairment };
  private closed = false;

  private constructor(private readonly opts: RelayOptions) {
    this.random = seededRandom(opts.seed ?? 1);
    const { toServer, toClient, targetPort: _p, targetAddress: _a, seed: _s, ...common } = opts;
    this.impair = { toServer: { ...common, ...toServer }, toClient: { ...common, ...toClient } };
    this.front.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    this.front.on('error', () => undefined);
  }

  static async start(opts: RelayOptions): Promise<LossyRelay> {
    const r = new LossyRelay(opts);
    await new Promise<void>((res, rej) => {
      r.front.once('error', rej);
      r.front.bind(0, '127.0.0.1', () => res());
    });
    return r;
  }

  /** The port clients send to. */
  get port(): number {
    return this.front.address().port;
  }

  /** Number of distinct clients seen. */
  get clients(): number {
    return this.links.size;
  }

  /** Changes the impairments of one direction (or both) from now on, e.g. to turn them off. */
  setImpairment(direction: 'toServer' | 'toClient' | 'both', impairment: Impairment): void {
    if (direction !== 'toClient') this.impair.toServer = { ...impairment };
    if (direction !== 'toServer') this.impair.toClient = { ...impairment };
  }

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    let link = this.links.get(key);
    if (link === undefined) {
      const back = dgram.createSocket('udp4');
      const l: ClientLink = { address: rinfo.address, port: rinfo.port, back };
      back.on('message', (m) => this.forward('toClient', m, (d) => this.front.send(d, l.port, l.address)));
      back.on('error', () => undefined);
      back.bind(0, '127.0.0.1');
      this.links.set(key, l);
      link = l;
    }
    const back = link.back;
    this.forward('toServer', msg, (d) => back.send(d, this.opts.targetPort, this.opts.targetAddress ?? '127.0.0.1'));
  }

  private later(ms: number, fn: () => void): void {
    if (ms <= 0) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  private forward(direction: 'toServer' | 'toClient', msg: Buffer, send: (d: Buffer) => void): void {
    const s = this.stats[direction];
    const im = this.impair[direction];
    const rnd = this.random;
    s.received++;
    const safeSend = (d: Buffer): void => {
      if (this.closed) return;
      s.forwarded++;
      try {
        send(d);
      } catch {
        /* socket closed meanwhile */
      }
    };
    if (rnd() < (im.drop ?? 0)) {
      s.dropped++;
      return;
    }
    let data = msg;
    if (rnd() < (im.corrupt ?? 0) && (im.corruptAny === true || msg[0] === 23) && msg.length > 13) {
      data = Buffer.from(msg);
      // A byte after the record header (ciphertext, nonce or tag), so the record still parses.
      const at = 13 + Math.floor(rnd() * (msg.length - 13));
      data[at] = data[at]! ^ (1 + Math.floor(rnd() * 255));
      s.corrupted++;
    }
    let delay = (im.delayMs ?? 0) + (im.jitterMs ?? 0) * rnd();
    if (rnd() < (im.reorder ?? 0)) {
      delay += im.reorderMs ?? 30;
      s.reordered++;
    }
    if (delay > 0) s.delayed++;
    this.later(Math.round(delay), () => safeSend(data));
    if (rnd() < (im.duplicate ?? 0)) {
      s.duplicated++;
      this.later(Math.round(delay + (im.jitterMs ?? 0) * rnd()), () => safeSend(Buffer.from(data)));
    }
  }

  /** A one-line summary of what happened, for logs and assertion messages. */
  describe(): string {
    const f = (d: DirectionStats): string =>
      `received ${d.received}, forwarded ${d.forwarded}, dropped ${d.dropped}, duplicated ${d.duplicated}, reordered ${d.reordered}, corrupted ${d.corrupted}`;
    return `relay to server: ${f(this.stats.toServer)}; to client: ${f(this.stats.toClient)}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const sockets = [this.front, ...[...this.links.values()].map((l) => l.back)];
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((r) => {
            try {
              s.close(() => r());
            } catch {
              r();
            }
          }),
      ),
    );
  }
}
