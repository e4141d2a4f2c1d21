/**
 * Long-lived handshake processes: one client worker and one server worker per JavaScript implementation, shared
 * by every case of the handshake and OpenSSL sections, as in a server that runs for hours.
 *
 * Why: V8 needs thousands of handshakes to finish optimising a DTLS stack. Measured on the bench machine
 * (2026-11-26, ours↔ours X25519, sequential, 3 s windows from a cold start): 208, 211, 284, 346, 364, 378/s —
 * steady only after about 10 s. werift: 56, 62, 62, 65, 65, 64/s. A fresh process per case with a 1 s
 * warm-up therefore measured mostly the JIT. So before its first case each implementation gets a JIT warm-up:
 * both its processes do handshakes with each other, every configuration the sections use in turn, for
 * `--jit-warmup` seconds in all (default 12). The rates of that warm-up are kept in the results (`jitWarmup`), so the cold
 * figure is on record too. Each case then still has its own `--warmup` before its window.
 */
import { Worker } from './rpc.js';
import { cpuOf, params, workerOptions, type Ctx } from './ctx.js';
import type { Group, HandshakeRun, Impl } from './peers.js';

export type JsImpl = Extract<Impl, 'ours' | 'werift'>;

export interface JitWarmupWindow {
  group: Group;
  clientCert: boolean;
  concurrency: number;
  handshakesPerSec: number;
}

export interface JitWarmup {
  impl: JsImpl;
  seconds: number;
  windows: JitWarmupWindow[];
}

/** The configurations the handshake sections measure. */
export function handshakeConfigs(ctx: Ctx): { group: Group; clientCert: boolean }[] {
  const groups: Group[] = ctx.opts.quick ? ['x25519'] : ['x25519', 'P-256'];
  const certs = ctx.opts.quick ? [false] : [false, true];
  return groups.flatMap((group) => certs.map((clientCert) => ({ group, clientCert })));
}

interface Pair {
  client: Worker;
  server: Worker;
}

export class HandshakeWorkers {
  private readonly pairs = new Map<JsImpl, Promise<Pair>>();
  readonly warmups: JitWarmup[] = [];

  constructor(private readonly ctx: Ctx) {}

  async client(impl: JsImpl): Promise<Worker> {
    return (await this.pair(impl)).client;
  }

  async server(impl: JsImpl): Promise<Worker> {
    return (await this.pair(impl)).server;
  }

  /** Starts a server of `impl` in its worker; `stop` closes that server (the process stays). */
  async serve(impl: JsImpl, group: Group, clientCert: boolean): Promise<{ port: number; cpuUs(): Promise<number>; stop(): Promise<void> }> {
    const w = await this.server(impl);
    const { port } = await w.call<{ port: number }>('serve', { params: params(this.ctx, impl, group, clientCert), mode: 'handshake' });
    return { port, cpuUs: () => cpuOf(w), stop: () => w.call('unserve').then(() => undefined) };
  }

  async stopAll(): Promise<void> {
    const pairs = await Promise.allSettled([...this.pairs.values()]);
    this.pairs.clear();
    await Promise.all(pairs.flatMap((p) => (p.status === 'fulfilled' ? [p.value.client.stop(), p.value.server.stop()] : [])));
  }

  private pair(impl: JsImpl): Promise<Pair> {
    let p = this.pairs.get(impl);
    if (p === undefined) {
      p = this.start(impl);
      this.pairs.set(impl, p);
      // A failed start is not cached: the next case tries again (and reports its own error).
      p.catch(() => this.pairs.delete(impl));
    }
    return p;
  }

  private async start(impl: JsImpl): Promise<Pair> {
    const client = new Worker(`hs-client-${impl}`, workerOptions(this.ctx, `hs-client-${impl}`));
    const server = new Worker(`hs-server-${impl}`, workerOptions(this.ctx, `hs-server-${impl}`));
    try {
      await Promise.all([client.call('ping', {}, 20_000), server.call('ping', {}, 20_000)]);
      await this.warmUp(impl, { client, server });
      return { client, server };
    } catch (e) {
      await Promise.all([client.stop(), server.stop()]);
      throw e;
    }
  }

  /** Handshakes between the two processes, each configuration in turn, sequential and concurrent. */
  private async warmUp(impl: JsImpl, pair: Pair): Promise<void> {
    const seconds = this.ctx.opts.jitWarmupS;
    if (seconds <= 0) return;
    const configs = handshakeConfigs(this.ctx);
    const lanes = [1, this.ctx.opts.concurrency];
    const sliceMs = Math.max(50, Math.round((seconds * 1000) / (configs.length * lanes.length)));
    const record: JitWarmup = { impl, seconds, windows: [] };
    this.ctx.log(`  JIT warm-up ${impl}↔${impl}: ${seconds} s`);
    for (const { group, clientCert } of configs) {
      const { port } = await pair.server.call<{ port: number }>('serve', { params: params(this.ctx, impl, group, clientCert), mode: 'handshake' });
      try {
        for (const concurrency of lanes) {
          const r = await pair.client.call<HandshakeRun>(
            'handshakes',
            { params: params(this.ctx, impl, group, clientCert), port, concurrency, durationMs: sliceMs },
            sliceMs + 60_000,
          );
          record.windows.push({ group, clientCert, concurrency, handshakesPerSec: r.count / (r.wallMs / 1000) });
        }
      } finally {
        await pair.server.call('unserve');
      }
    }
    this.warmups.push(record);
    this.ctx.results.jitWarmup = this.warmups;
  }
}
