/** Small helpers shared by the bench's orchestrator and workers. */
import { readdirSync, readFileSync } from 'node:fs';

export interface Cpu {
  /** µs */
  user: number;
  /** µs */
  system: number;
}

export function cpuDiff(a: Cpu, b: Cpu): number {
  return b.user - a.user + (b.system - a.system);
}

export interface Mem {
  heapUsed: number;
  heapTotal: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

export function memNow(): Mem {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Full collections until the heap stops shrinking (needs --expose-gc). */
export async function settleGc(): Promise<Mem> {
  const gc = (globalThis as { gc?: () => void }).gc;
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 8; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
    const h = process.memoryUsage().heapUsed;
    if (Math.abs(last - h) < 4096) break;
    last = h;
  }
  return memNow();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Percentile by nearest rank of a sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface Summary {
  n: number;
  min: number;
  median: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: Float64Array | number[]): Summary {
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    median: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? Number.NaN,
    mean: s.length > 0 ? sum / s.length : Number.NaN,
  };
}

/** CPU time of another process (openssl) in µs, from /proc/<pid>/schedstat (ns on CPU), else /proc/<pid>/stat. */
export function processCpuUs(pid: number): number {
  try {
    const ns = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    if (Number.isFinite(ns)) return ns / 1000;
  } catch {
    /* fall back */
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (clock ticks; 100 per second on Linux)
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

export function loadAverage(): [number, number, number] {
  try {
    const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
    return [a!, b!, c!];
  } catch {
    return [Number.NaN, Number.NaN, Number.NaN];
  }
}

export function round(v: number, digits = 1): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * CPU used by other processes on the machine (not this bench and its children), for the record: the load
 * average counts the bench's own two busy processes. Reads /proc/stat (all CPUs), /proc/self/stat (self plus
 * reaped children) and the stat of every live child (the handshake workers live across cases and sections).
 */
export class OtherLoadMeter {
  private sys0: number;
  private self0: number;
  private t0: number;
  constructor() {
    this.sys0 = systemBusyTicks();
    this.self0 = selfAndChildrenTicks();
    this.t0 = Date.now();
  }
  /** Average number of CPUs kept busy by other processes since the last call (or construction). */
  sample(): number {
    const sys = systemBusyTicks();
    const self = selfAndChildrenTicks();
    const t = Date.now();
    const seconds = (t - this.t0) / 1000;
    const others = (sys - this.sys0 - (self - this.self0)) / 100;
    this.sys0 = sys;
    this.self0 = self;
    this.t0 = t;
    return seconds > 0 ? Math.max(0, others / seconds) : Number.NaN;
  }
}

function systemBusyTicks(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
  } catch {
    return Number.NaN;
  }
}

/** utime + stime + cutime + cstime of one /proc/<pid>/stat, and its parent pid. */
function statTicks(text: string): { ppid: number; ticks: number } {
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  // after the command name: state ppid ... utime stime cutime cstime are fields 14..17 (1-based), i.e. 11..14
  return { ppid: f[1]!, ticks: f[11]! + f[12]! + f[13]! + f[14]! };
}

/** This process, its reaped children, and its live children (whose CPU moves to cutime when they are reaped). */
function selfAndChildrenTicks(): number {
  try {
    let total = statTicks(readFileSync('/proc/self/stat', 'utf8')).ticks;
    for (const name of readdirSync('/proc')) {
      if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
      try {
        const t = statTicks(readFileSync(`/proc/${name}/stat`, 'utf8'));
        if (t.ppid === process.pid) total += t.ticks;
      } catch {
        // the process ended while we looked
      }
    }
    return total;
  } catch {
    return Number.NaN;
  }
}
