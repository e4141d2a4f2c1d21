/**
 * Reads V8 .cpuprofile files (from `npm run bench -- --cpu-prof DIR`, or `node --cpu-prof`) and prints the
 * functions with the most self time, and the functions of this repository's src/ with the most inclusive time.
 *
 *   node dist/bench/profile-summary.js [--top N] [--src] FILE.cpuprofile ...
 *
 * --src: only functions whose script is under dist/src/ in the self-time list too.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const n = url.indexOf('node_modules/');
  if (n >= 0) return url.slice(n);
  // compiled files of this repository: …/dist/src/x.js, …/<other outDir>/bench/x.js
  const m = /\/((?:src|bench|test)\/.*)$/.exec(url);
  if (m !== null && url.startsWith('file://')) return m[1]!;
  return url.replace(/^file:\/\//, '');
}

function key(f: CallFrame): string {
  return `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
}

export function summarize(path: string, top: number, srcOnly: boolean): string {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  // self time per node from samples and time deltas (µs)
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const d = deltas[i + 1] ?? 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + d);
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = p.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((a, n) => a + (selfUs.get(n.id) ?? 0), 0);
  const busy = total - idle;
  const selfBy = new Map<string, number>();
  for (const n of p.nodes) {
    const s = selfUs.get(n.id) ?? 0;
    if (s === 0 || n.callFrame.functionName === '(idle)') continue;
    const k = key(n.callFrame);
    selfBy.set(k, (selfBy.get(k) ?? 0) + s);
  }
  // inclusive time of src/ functions (a function on the stack twice is counted once per stack)
  const inclBy = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const n = byId.get(id)!;
    let t = selfUs.get(id) ?? 0;
    const k = key(n.callFrame);
    const isSrc = shortUrl(n.callFrame.url).startsWith('src/');
    const fresh = isSrc && !onStack.has(k);
    if (fresh) onStack.add(k);
    for (const c of n.children ?? []) t += walk(c, onStack);
    if (fresh) {
      onStack.delete(k);
      inclBy.set(k, (inclBy.get(k) ?? 0) + t);
    }
    return t;
  };
  walk(p.nodes[0]!.id, new Set());
  const pctOf = (v: number): string => `${((v / busy) * 100).toFixed(1).padStart(5)} %`;
  const lines: string[] = [];
  lines.push(`${basename(path)}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (percentages of busy)`);
  lines.push('  self time:');
  [...selfBy.entries()]
    .filter(([k]) => !srcOnly || k.includes(' src/'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([k, v]) => lines.push(`    ${pctOf(v)}  ${k}`));
  lines.push('  inclusive time, src/ functions:');
  [...inclBy.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([k, v]) => lines.push(`    ${pctOf(v)}  ${k}`));
  return lines.join('\n');
}

const args = process.argv.slice(2);
let top = 25;
let srcOnly = false;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else if (args[i] === '--src') srcOnly = true;
  else files.push(args[i]!);
}
if (files.length === 0) {
  console.error('usage: node dist/bench/profile-summary.js [--top N] [--src] FILE.cpuprofile ...');
  process.exit(2);
}
for (const f of files) console.log(summarize(f, top, srcOnly) + '\n');
