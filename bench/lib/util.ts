/** Small helpers shared by the bench's orchestrator and workers. */
import { readFileSync } from 'node:fs';

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
