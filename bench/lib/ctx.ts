/** What every measurement gets: options, certificates, the results being filled, a log, and the shared workers. */
import type { Worker, WorkerOptions } from './rpc.js';
import type { BenchOptions } from './options.js';
import type { CertPems, Group, Impl, PeerParams } from './peers.js';
import type { Cpu, Mem } from './util.js';
import type { CertFiles } from './openssl.js';
import type { BenchResults } from './results.js';
import type { HandshakeWorkers } from './handshake-workers.js';

export interface Ctx {
  opts: BenchOptions;
  pems: CertPems;
  files: CertFiles;
  opensslBin: string | undefined;
  results: BenchResults;
  log: (line: string) => void;
  /** Long-lived handshake client and server processes (set by run.ts; see handshake-workers.ts). */
  handshakeWorkers?: HandshakeWorkers;
}

let workerSeq = 0;

/** Fork options of a worker: under --cpu-prof, each writes its own numbered profile. */
export function workerOptions(ctx: Ctx, name: string): WorkerOptions {
  if (ctx.opts.cpuProf === undefined) return {};
  workerSeq++;
  return {
    execArgv: ['--cpu-prof', `--cpu-prof-dir=${ctx.opts.cpuProf}`, `--cpu-prof-name=${String(workerSeq).padStart(3, '0')}-${name}.cpuprofile`],
  };
}

/** A worker's own CPU time so far (user + system, µs). */
export async function cpuOf(w: Worker): Promise<number> {
  const r = await w.call<{ cpu: Cpu; mem: Mem }>('cpu');
  return r.cpu.user + r.cpu.system;
}

export function params(ctx: Ctx, impl: Impl, group: Group, clientCert: boolean, manyConnections = false): PeerParams {
  return { impl, certs: ctx.pems, group, clientCert, manyConnections };
}
