/**
 * Shared pieces of the fuzz tests (fast-check): run counts from the environment, case counters, byte mutators, and
 * a light client/server pair on a virtual clock for the Connection properties.
 *
 *   FUZZ_RUNS=n   runs per property for a long campaign (`npm run fuzz`); costly properties divide it (see fuzzRuns).
 *                 Unset: the quick pass of the default test run.
 *   FUZZ_SEED=n   fast-check seed, to replay a failure (fast-check prints the seed and path of a counterexample).
 */
import fc from 'fast-check';
import { Connection } from '../../src/core/connection.js';
import { Endpoint, DEFAULT_ENDPOINT_LIMITS, type Remote } from '../../src/core/endpoint.js';
import type { ConnectionConfig } from '../../src/core/config.js';
import type { ConnectionEvent } from '../../src/core/events.js';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import { makeClientConfig, makeServerConfig } from '../helpers/sim.js';
import { testCerts } from '../helpers/certs.js';
import { mulberry32 } from '../helpers/rng.js';

const envRuns = process.env['FUZZ_RUNS'] === undefined ? undefined : Number(process.env['FUZZ_RUNS']);
if (envRuns !== undefined && !(Number.isInteger(envRuns) && envRuns > 0)) throw new Error(`FUZZ_RUNS must be a positive integer, got ${process.env['FUZZ_RUNS']}`);
const envSeed = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);

export const LONG_CAMPAIGN = envRuns !== undefined;

/**
 * Runs for one property: `quick` in the default test run; with FUZZ_RUNS set, FUZZ_RUNS / `cost` (at least
 * `quick`). `cost` is how much dearer one case is than a decoder call (a case that runs handshakes: 10-50).
 */
export function fuzzRuns(quick: number, cost = 1): number {
  return envRuns === undefined ? quick : Math.max(quick, Math.round(envRuns / cost));
}

export function fcParams(numRuns: number): fc.Parameters<unknown> {
  return { numRuns, ...(envSeed !== undefined ? { seed: envSeed } : {}), includeErrorInReport: true };
}

/** Counts what the cases of a property did, printed as one line when the property is done. */
export class Tally {
  private readonly counts = new Map<string, number>();
  constructor(readonly name: string) {}
  add(what: string, n = 1): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + n);
  }
  get(what: string): number {
    return this.counts.get(what) ?? 0;
  }
  print(startedAt: number): void {
    const parts = [...this.counts].map(([k, v]) => `${k}=${v}`).join(' ');
    console.log(`fuzz ${this.name}: ${parts} (${((performance.now() - startedAt) / 1000).toFixed(1)} s)`);
  }
}

/** Runs a property with the run count, counting cases; prints the tally. */
export function check<T>(name: string, arb: fc.Arbitrary<T>, runs: number, body: (value: T, tally: Tally) => void): Tally {
  const tally = new Tally(name);
  const t0 = performance.now();
  fc.assert(
    fc.property(arb, (v) => {
      tally.add('cases');
      body(v, tally);
    }),
    fcParams(runs),
  );
  tally.print(t0);
  return tally;
}

// ---------------------------------------------------------------------------------------------------- mutations

/** One byte-level edit. */
export type ByteOp =
  | { readonly k: 'flip'; readonly at: number; readonly bit: number }
  | { readonly k: 'set'; readonly at: number; readonly v: number }
  | { readonly k: 'insert'; readonly at: number; readonly v: number }
  | { readonly k: 'delete'; readonly at: number }
  | { readonly k: 'truncate'; readonly at: number };

export const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant('set' as const), at: fc.nat(), v: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xfe, 0xff), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ k: fc.constant('insert' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ k: fc.constant('truncate' as const), at: fc.nat() }),
);

export function applyByteOps(src: Uint8Array, ops: readonly ByteOp[]): Uint8Array {
  const b = Array.from(src);
  for (const op of ops) {
    const i = b.length === 0 ? 0 : op.at % (b.length + (op.k === 'insert' || op.k === 'truncate' ? 1 : 0));
    if (op.k === 'insert') b.splice(i, 0, op.v);
    else if (op.k === 'truncate') b.length = Math.min(b.length, i);
    else if (b.length === 0) continue;
    else if (op.k === 'flip') b[i % b.length] = b[i % b.length]! ^ (1 << op.bit);
    else if (op.k === 'set') b[i % b.length] = op.v;
    else b.splice(i % b.length, 1);
  }
  return Uint8Array.from(b);
}

/** `base` values, and the same values with 1-4 byte edits. */
export function mutated(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: base },
    { weight: 4, arbitrary: fc.tuple(base, fc.array(byteOp, { minLength: 1, maxLength: 4 })).map(([b, ops]) => applyByteOps(b, ops)) },
  );
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** A seeded byte source (test/helpers/rng.ts) for a CryptoProvider, so a case's handshake is reproducible. */
export function seededRandom(seed: number): (length: number) => Uint8Array {
  const next = mulberry32(seed);
  return (length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
    return out;
  };
}

// ---------------------------------------------------------------------------------------------------- a light pair

export const PAIR_REMOTE: Remote = { address: '192.0.2.7', port: 4242 };

export interface PairConfigs {
  client: ConnectionConfig;
  server: ConnectionConfig;
}

let configs: Promise<PairConfigs> | undefined;

/** Client and server configurations (client authentication, MTU 400 so flights 4 and 5 span several datagrams). */
export function pairConfigs(): Promise<PairConfigs> {
  configs ??= (async () => {
    const certs = await testCerts('ec');
    return {
      client: makeClientConfig({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, mtu: 400 }),
      server: makeServerConfig({ ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requestCert: true, mtu: 400 }),
    };
  })();
  return configs;
}

type Dir = 'toClient' | 'toServer';

/**
 * A client Connection and a server Endpoint joined by two FIFO queues on a virtual clock — no latency, no loss,
 * cheaper than test/helpers/sim.ts (configurations are shared). `genuine` keeps every datagram either side sent.
 */
export class Pair {
  now = 0;
  readonly client: Connection;
  readonly endpoint: Endpoint;
  server: Connection | undefined;
  readonly queue: { dir: Dir; data: Uint8Array }[] = [];
  readonly genuine: Uint8Array[] = [];
  /** The same, by sender. */
  readonly sentDatagrams: { client: Uint8Array[]; server: Uint8Array[] } = { client: [], server: [] };
  readonly clientEvents: ConnectionEvent[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  readonly delivered = { toClient: 0, toServer: 0 };
  readonly sentBy = { client: 0, server: 0 };
  /** Datagrams produced by the last collect(). */
  lastOutput = 0;

  constructor(cfg: PairConfigs, seed: number) {
    const random = seededRandom(seed);
    this.client = new Connection({ ...cfg.client, crypto: new NodeCryptoProvider({ random }) });
    const scfg = { ...cfg.server, crypto: new NodeCryptoProvider({ random: seededRandom(seed ^ 0x5eed) }) };
    this.endpoint = new Endpoint(() => scfg, scfg.crypto, DEFAULT_ENDPOINT_LIMITS);
  }

  start(): void {
    this.client.connect(this.now);
    this.collect();
  }

  collect(): void {
    let n = 0;
    for (let d = this.client.pollTransmit(); d !== undefined; d = this.client.pollTransmit()) {
      this.queue.push({ dir: 'toServer', data: d });
      this.genuine.push(d);
      this.sentDatagrams.client.push(d);
      this.sentBy.client++;
      n++;
    }
    for (let e = this.client.pollEvent(); e !== undefined; e = this.client.pollEvent()) this.clientEvents.push(e);
    const s = this.server;
    if (s !== undefined) {
      for (let d = s.pollTransmit(); d !== undefined; d = s.pollTransmit()) {
        this.queue.push({ dir: 'toClient', data: d });
        this.genuine.push(d);
        this.sentDatagrams.server.push(d);
        this.sentBy.server++;
        n++;
      }
      for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) this.serverEvents.push(e);
    }
    this.lastOutput = n;
  }

  /** Hands a datagram to the client, or through the endpoint to the server; then collects both sides' output. */
  deliver(dir: Dir, data: Uint8Array): void {
    if (dir === 'toClient') this.client.handleDatagram(this.now, data);
    else {
      const r = this.endpoint.handleDatagram(this.now, data, PAIR_REMOTE);
      if (r.kind === 'reply') {
        this.queue.push({ dir: 'toClient', data: r.datagram });
        this.genuine.push(r.datagram);
        this.sentDatagrams.server.push(r.datagram);
        this.sentBy.server++;
      } else if (r.kind === 'connection' && r.connection !== this.server) {
        if (this.server !== undefined) this.collect();
        this.server = r.connection;
      }
    }
    this.collect();
  }

  /** Delivers the oldest queued datagram; false when none is queued. */
  step(): boolean {
    const next = this.queue.shift();
    if (next === undefined) return false;
    this.delivered[next.dir]++;
    this.deliver(next.dir, next.data);
    return true;
  }

  /** Advances the clock to the earliest timer (at most `maxMs` ahead) and fires it; false when there is none. */
  tick(maxMs = Infinity): boolean {
    let t: number | undefined;
    for (const c of [this.client, this.server]) {
      const d = c?.pollTimeout();
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    if (t === undefined || t - this.now > maxMs) return false;
    this.now = Math.max(this.now, t);
    for (const c of [this.client, this.server]) {
      const d = c?.pollTimeout();
      if (c !== undefined && d !== undefined && d <= this.now) c.handleTimeout(this.now);
    }
    this.collect();
    return true;
  }

  /** Moves the clock by `ms`, firing whatever falls due. */
  advance(ms: number): void {
    const end = this.now + ms;
    while (this.tick(end - this.now));
    this.now = end;
  }

  /** Delivers genuine datagrams until `pred` holds (throws if the exchange stalls first). */
  until(pred: () => boolean, what: string): void {
    for (let i = 0; i < 200 && !pred(); i++) {
      if (!this.step()) throw new Error(`stalled before ${what}`);
    }
    if (!pred()) throw new Error(`never reached ${what}`);
  }

  /**
   * Lets the handshake run its course: delivers everything queued, fires timers when nothing is queued, until both
   * sides are connected with nothing in flight, or both are closed, or nothing is left to happen. Bounded.
   */
  finish(): { steps: number } {
    let steps = 0;
    for (; steps < 5000; steps++) {
      if (this.bothConnected && this.queue.length === 0) break;
      if (this.client.isClosed && (this.server === undefined || this.server.isClosed) && this.queue.length === 0) break;
      if (!this.step() && !this.tick()) break;
    }
    if (steps >= 5000) throw new Error('the exchange did not settle within 5000 steps');
    return { steps };
  }

  get bothConnected(): boolean {
    return this.client.isConnected && this.server?.isConnected === true;
  }
}
