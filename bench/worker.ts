/**
 * A bench worker process (forked by bench/lib/rpc.ts): plays one role — server, client, sender, receiver —
 * as the orchestrator asks over IPC, and reports its own CPU (process.cpuUsage) and memory.
 */
import type { CallMessage, ReplyMessage } from './lib/rpc.js';
import {
  cpuNow,
  openClient,
  runHandshakes,
  startServer,
  type ClientHandle,
  type PeerParams,
  type ServerHandle,
  type ServerMode,
} from './lib/peers.js';
import { measureCryptoFloor } from './lib/crypto-floor.js';
import { measureCoreMemory } from './lib/core-memory.js';
import { measureMemoryPairHandshakes } from './lib/handshake-memory-pair.js';
import { measureRecordPath } from './lib/record-path.js';
import { memNow, settleGc, summarize } from './lib/util.js';
import { startWatchdog } from './lib/watchdog.js';

// BENCH_STALL_FILE (set by the orchestrator): where to write the stack of a main thread stuck for 10 s.
if (process.env.BENCH_STALL_FILE) startWatchdog(process.argv[2] ?? 'worker', process.env.BENCH_STALL_FILE);

let server: ServerHandle | undefined;
let client: ClientHandle | undefined;
let many: ClientHandle[] = [];

const hr = (): number => Number(process.hrtime.bigint()) / 1e6;

interface BlastArgs {
  size: number;
  durationMs: number;
  /** records per second; 0 = as fast as the sender can */
  rate: number;
  /** most datagrams handed to the OS and not yet confirmed */
  maxInflight?: number;
  /** most datagrams sent per event-loop turn */
  burst?: number;
}

export interface BlastResult {
  sent: number;
  elapsedMs: number;
  cpuUs: number;
}

function blast(c: ClientHandle, a: BlastArgs): Promise<BlastResult> {
  const buf = Buffer.alloc(a.size, 0x61);
  const maxInflight = a.maxInflight ?? 256;
  const burst = a.burst ?? 64;
  let sent = 0;
  let inflight = 0;
  const done = (): void => {
    inflight--;
  };
  const c0 = cpuNow();
  const t0 = hr();
  const end = t0 + a.durationMs;
  return new Promise<BlastResult>((resolve) => {
    const finish = (): void => {
      if (inflight > 0) {
        setImmediate(finish);
        return;
      }
      const c1 = cpuNow();
      resolve({ sent, elapsedMs: Math.min(hr(), end) - t0, cpuUs: c1.user - c0.user + (c1.system - c0.system) });
    };
    const step = (): void => {
      const now = hr();
      if (now >= end) {
        finish();
        return;
      }
      let n = Math.min(burst, maxInflight - inflight);
      if (a.rate > 0) n = Math.min(n, Math.floor(((now - t0) * a.rate) / 1000) - sent);
      for (let i = 0; i < n; i++) {
        inflight++;
        sent++;
        c.send(buf, done);
      }
      setImmediate(step);
    };
    step();
  });
}

interface RttArgs {
  size: number;
  durationMs: number;
  warmupMs: number;
  maxSamples?: number;
}

function rtt(c: ClientHandle, a: RttArgs): Promise<{ summaryUs: ReturnType<typeof summarize>; lost: number; cpuUs: number }> {
  const buf = Buffer.alloc(a.size, 0x62);
  const maxSamples = a.maxSamples ?? 2_000_000;
  const samples = new Float64Array(maxSamples);
  let n = 0;
  let lost = 0;
  let warm = true;
  let sentAt = 0n;
  const t0 = hr();
  let c0 = cpuNow();
  let measureStart = t0 + a.warmupMs;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const sendOne = (): void => {
      sentAt = process.hrtime.bigint();
      c.send(buf, () => undefined);
      if (timer !== undefined) timer.refresh();
      else timer = setTimeout(onLost, 1000);
    };
    const onLost = (): void => {
      lost++;
      timer = undefined;
      sendOne();
    };
    c.onMessage(() => {
      const now = process.hrtime.bigint();
      const t = hr();
      if (warm) {
        if (t >= measureStart) {
          warm = false;
          c0 = cpuNow();
          measureStart = t;
        }
      } else {
        samples[n++] = Number(now - sentAt) / 1000;
      }
      if (t - measureStart >= a.durationMs && !warm || n >= maxSamples) {
        if (timer !== undefined) clearTimeout(timer);
        const c1 = cpuNow();
        resolve({ summaryUs: summarize(samples.subarray(0, n)), lost, cpuUs: (c1.user - c0.user + (c1.system - c0.system)) / Math.max(1, n) });
        return;
      }
      sendOne();
    });
    sendOne();
  });
}

type Handler = (args: any) => Promise<unknown> | unknown;

const handlers: Record<string, Handler> = {
  ping: () => ({ pid: process.pid }),
  exit: () => {
    setImmediate(() => process.exit(0));
    return {};
  },
  cpu: () => ({ cpu: cpuNow(), mem: memNow() }),
  gc: () => settleGc(),
  serve: async (a: { params: PeerParams; mode: ServerMode }) => {
    if (server !== undefined) throw new Error('a server is already running in this worker (unserve first)');
    server = await startServer(a.params, a.mode);
    return { port: server.port, recvBufferSize: server.recvBufferSize };
  },
  /** Closes the server, keeping the process (and its JIT state) for the next case. */
  unserve: async () => {
    const s = server;
    server = undefined;
    await s?.close();
    return {};
  },
  serverStats: () => server!.stats(),
  serverReset: () => {
    server!.resetMessages();
    return {};
  },
  handshakes: (a: { params: PeerParams; port: number; concurrency: number; durationMs: number }) =>
    runHandshakes(a.params, a.port, a.concurrency, a.durationMs),
  open: async (a: { params: PeerParams; port: number }) => {
    client = await openClient(a.params, a.port);
    return {};
  },
  blast: (a: BlastArgs) => blast(client!, a),
  rtt: (a: RttArgs) => rtt(client!, a),
  many: async (a: { params: PeerParams; port: number; n: number; concurrency: number; timeoutMs: number }) => {
    const t0 = hr();
    let errors = 0;
    let lastError: string | undefined;
    let next = 0;
    const ping = Buffer.alloc(16, 0x70);
    const lane = async (): Promise<void> => {
      while (next < a.n && hr() - t0 < a.timeoutMs && errors < 100) {
        next++;
        try {
          const c = await openClient(a.params, a.port);
          many.push(c);
          c.send(ping, () => undefined);
        } catch (e) {
          errors++;
          lastError = e instanceof Error ? e.message : String(e);
        }
      }
    };
    await Promise.all(Array.from({ length: a.concurrency }, lane));
    return { established: many.length, errors, lastError, wallMs: hr() - t0 };
  },
  closeMany: async () => {
    const list = many;
    many = [];
    await Promise.allSettled(list.map((c) => c.close()));
    return {};
  },
  crypto: (a: { sizes: number[]; iterations: number }) => measureCryptoFloor(a.sizes, a.iterations),
  recordPath: (a: { params: PeerParams; sizes: number[]; perRound: number }) => measureRecordPath(a.params, a.sizes, a.perRound),
  coreMemory: (a: { params: PeerParams; n: number }) => measureCoreMemory(a.params, a.n),
  pairHandshakes: (a: { params: PeerParams; durationMs: number; fresh: boolean }) => measureMemoryPairHandshakes(a.params, a.durationMs, a.fresh),
};

process.on('message', (m: CallMessage) => {
  const reply = (r: Omit<ReplyMessage, 'id'>): void => {
    process.send?.({ id: m.id, ...r });
  };
  const h = handlers[m.cmd];
  if (h === undefined) {
    reply({ ok: false, error: `unknown command ${m.cmd}` });
    return;
  }
  Promise.resolve()
    .then(() => h(m.args))
    .then(
      (result) => reply({ ok: true, result }),
      (e: unknown) => reply({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
    );
});
process.on('disconnect', () => process.exit(0));
// A stray error in a library under test must not take the worker down silently mid-measurement.
process.on('uncaughtException', (e) => {
  process.stderr.write(`[${process.argv[2] ?? 'worker'}] uncaught: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
});
process.on('unhandledRejection', (e) => {
  process.stderr.write(`[${process.argv[2] ?? 'worker'}] unhandled rejection: ${e instanceof Error ? e.message : String(e)}\n`);
});
