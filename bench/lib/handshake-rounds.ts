/**
 * Handshake rates of several client → server pairs in one configuration, measured in alternating rounds.
 *
 * The targets compare pairs (ours↔ours against werift↔werift; our client → s_server against OpenSSL's client →
 * s_server). On a shared VM the machine's speed drifts by tens of percent within minutes, so one window per pair,
 * one after the other, compares the drift as much as the stacks. Here every server is started first, each pair
 * warms up once, and then the `--duration` window of each pair is cut into `--rounds` slices taken in turn
 * (A B C A B C …). A pair's figures are the sums over its slices (rate = handshakes ÷ time).
 */
import { params, type Ctx } from './ctx.js';
import { HandshakeWorkers } from './handshake-workers.js';
import { runOpensslClient, startOpensslServer } from './openssl.js';
import type { Group, HandshakeRun } from './peers.js';
import type { HandshakeRow, PeerName } from './results.js';

interface ServerSide {
  port: number;
  cpuUs(): Promise<number>;
  stop(): Promise<void>;
}

interface ClientRun {
  count: number;
  errors: number;
  wallMs: number;
  cpuUs: number;
  lastError?: string;
  latencyMedianMs?: number;
  latencyP99Ms?: number;
}

type RunClient = (port: number, durationMs: number) => Promise<ClientRun>;

export interface PairSpec {
  client: PeerName;
  server: PeerName;
}

function handshakeWorkers(ctx: Ctx): HandshakeWorkers {
  ctx.handshakeWorkers ??= new HandshakeWorkers(ctx);
  return ctx.handshakeWorkers;
}

async function startServerSide(ctx: Ctx, server: PeerName, group: Group, clientCert: boolean): Promise<ServerSide> {
  if (server === 'openssl') {
    const s = await startOpensslServer(ctx.files, group, clientCert);
    return { port: s.port, cpuUs: async () => s.cpuUs(), stop: () => s.stop() };
  }
  return handshakeWorkers(ctx).serve(server, group, clientCert);
}

async function startClientSide(ctx: Ctx, client: PeerName, group: Group, clientCert: boolean, concurrency: number): Promise<RunClient> {
  if (client === 'openssl') {
    const bin = ctx.opensslBin;
    if (bin === undefined) throw new Error('the OpenSSL C client could not be built (see errors)');
    return (port, d) => runOpensslClient(bin, ctx.files, port, group, clientCert, d);
  }
  const w = await handshakeWorkers(ctx).client(client);
  const p = params(ctx, client, group, clientCert);
  return (port, d) => w.call<HandshakeRun>('handshakes', { params: p, port, concurrency, durationMs: d }, d + 60_000);
}

/** One pair's slices so far. */
class PairTally {
  count = 0;
  errors = 0;
  wallMs = 0;
  clientCpuUs = 0;
  serverCpuUs = 0;
  lastError: string | undefined;
  medians: number[] = [];
  p99s: number[] = [];

  add(r: ClientRun, serverCpuUs: number): void {
    this.count += r.count;
    this.errors += r.errors;
    this.wallMs += r.wallMs;
    this.clientCpuUs += r.cpuUs;
    this.serverCpuUs += serverCpuUs;
    if (r.lastError !== undefined) this.lastError = r.lastError;
    if (r.latencyMedianMs !== undefined && Number.isFinite(r.latencyMedianMs)) this.medians.push(r.latencyMedianMs);
    if (r.latencyP99Ms !== undefined && Number.isFinite(r.latencyP99Ms)) this.p99s.push(r.latencyP99Ms);
  }

  row(pair: PairSpec, group: Group, clientCert: boolean, concurrency: number): HandshakeRow {
    if (this.count === 0) throw new Error(`no handshake completed (${this.errors} errors${this.lastError ? `: ${this.lastError}` : ''})`);
    const sorted = [...this.medians].sort((a, b) => a - b);
    return {
      client: pair.client,
      server: pair.server,
      group,
      clientCert,
      concurrency,
      count: this.count,
      errors: this.errors,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      wallMs: this.wallMs,
      handshakesPerSec: this.count / (this.wallMs / 1000),
      clientCpuUsPerHandshake: this.clientCpuUs / this.count,
      serverCpuUsPerHandshake: this.serverCpuUs / this.count,
      // Latency: the median of the slices' medians, and the worst slice's p99.
      ...(sorted.length > 0 ? { latencyMedianMs: sorted[sorted.length >> 1]!, latencyP99Ms: Math.max(...this.p99s) } : {}),
    };
  }
}

/**
 * Measures `pairs` in one configuration; returns a row per pair, or the error that stopped that pair (the
 * other pairs go on).
 */
export async function compareHandshakes(
  ctx: Ctx,
  pairs: readonly PairSpec[],
  group: Group,
  clientCert: boolean,
  concurrency: number,
): Promise<(HandshakeRow | Error)[]> {
  const failed = new Map<number, Error>();
  const servers = new Map<PeerName, ServerSide | Error>();
  const clients = new Map<PeerName, RunClient | Error>();
  try {
    // Clients first: starting one may JIT-warm its implementation's processes, during which a server would idle.
    for (const { client } of pairs) {
      if (!clients.has(client)) clients.set(client, await startClientSide(ctx, client, group, clientCert, concurrency).catch(asError));
    }
    for (const { server } of pairs) {
      if (!servers.has(server)) servers.set(server, await startServerSide(ctx, server, group, clientCert).catch(asError));
    }
    const sides = pairs.map((pair, i) => {
      const srv = servers.get(pair.server)!;
      const run = clients.get(pair.client)!;
      if (srv instanceof Error || run instanceof Error) {
        failed.set(i, srv instanceof Error ? srv : (run as Error));
        return undefined;
      }
      return { srv, run };
    });
    /** Runs `fn` for each pair still going, in order; a pair whose run throws is out from then on. */
    const eachPair = async (fn: (i: number, srv: ServerSide, run: RunClient) => Promise<void>): Promise<void> => {
      for (let i = 0; i < pairs.length; i++) {
        const side = sides[i];
        if (side === undefined || failed.has(i)) continue;
        await fn(i, side.srv, side.run).catch((e: unknown) => failed.set(i, asError(e)));
      }
    };
    // Each pair's own warm-up, then the rounds.
    if (ctx.opts.warmupS > 0) await eachPair(async (_i, srv, run) => void (await run(srv.port, Math.round(ctx.opts.warmupS * 1000))));
    const tallies = pairs.map(() => new PairTally());
    const rounds = Math.max(1, ctx.opts.rounds);
    const sliceMs = Math.max(50, Math.round((ctx.opts.durationS * 1000) / rounds));
    for (let round = 0; round < rounds; round++) {
      await eachPair(async (i, srv, run) => {
        const s0 = await srv.cpuUs();
        const r = await run(srv.port, sliceMs);
        tallies[i]!.add(r, (await srv.cpuUs()) - s0);
      });
    }
    return pairs.map((pair, i) => {
      const f = failed.get(i);
      if (f !== undefined) return f;
      try {
        return tallies[i]!.row(pair, group, clientCert, concurrency);
      } catch (e) {
        return asError(e);
      }
    });
  } finally {
    for (const s of servers.values()) if (!(s instanceof Error)) await s.stop().catch(() => undefined);
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
