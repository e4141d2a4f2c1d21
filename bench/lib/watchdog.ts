/**
 * A watchdog for bench workers: a worker thread that watches a heartbeat the main thread writes every 100 ms,
 * and when the main thread has been stuck for `stallMs` (a synchronous loop that does not end), pauses it through
 * the inspector (inspector.Session.connectToMainThread, which interrupts running JavaScript) and writes its
 * JavaScript stack to a file. A bench case that hangs then says where.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { spawnSync } from 'node:child_process';

interface WatchdogData {
  beat: SharedArrayBuffer;
  stallMs: number;
  file: string;
  name: string;
}

/** Starts the watchdog for this process; `file` receives the stack of a stalled main thread. */
export function startWatchdog(name: string, file: string, stallMs = 10_000): void {
  const beat = new SharedArrayBuffer(8);
  const view = new BigInt64Array(beat);
  const tick = (): void => {
    Atomics.store(view, 0, BigInt(Date.now()));
  };
  tick();
  setInterval(tick, 100).unref();
  // Not profiled: under --cpu-prof with --cpu-prof-name, this thread's profile would overwrite the main thread's.
  const execArgv = process.execArgv.filter((a) => a.startsWith('--max-') || a.startsWith('--stack-'));
  const w = new Worker(new URL(import.meta.url), { execArgv, workerData: { beat, stallMs, file, name } satisfies WatchdogData });
  w.unref();
  w.on('error', () => undefined);
}

/** Kernel view of every thread of this process: state, wait channel, current syscall (native blocks show here). */
function threadStates(): string {
  const lines: string[] = [];
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const read = (f: string): string => {
        try {
          return readFileSync(`/proc/self/task/${tid}/${f}`, 'utf8').trim();
        } catch {
          return '?';
        }
      };
      const stat = read('stat');
      const comm = read('comm');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      lines.push(`    thread ${tid} ${comm} state ${state} wchan ${read('wchan')} syscall ${read('syscall').split(' ').slice(0, 3).join(' ')}`);
    }
  } catch (e) {
    lines.push(`    (no /proc: ${String(e)})`);
  }
  return lines.join('\n') + '\n';
}

/** Native stacks of every thread through gdb, when it is installed (empty otherwise). */
function nativeStacks(): string {
  const r = spawnSync('gdb', ['-p', String(process.pid), '-batch', '-nx', '-ex', 'thread apply all bt 20'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined || r.status === null) return '';
  const out = r.stdout.split('\n').filter((l) => /^Thread|^#/.test(l));
  return out.length > 0 ? `    native stacks (gdb):\n${out.map((l) => `      ${l}`).join('\n')}\n` : '';
}

async function watch(d: WatchdogData): Promise<void> {
  const { Session } = await import('node:inspector');
  const view = new BigInt64Array(d.beat);
  let reportedFor = 0n;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const last = Atomics.load(view, 0);
    const stalled = Date.now() - Number(last);
    if (stalled < d.stallMs || last === reportedFor) continue;
    reportedFor = last;
    mkdirSync(dirname(d.file), { recursive: true });
    appendFileSync(d.file, `[${new Date().toISOString()}] ${d.name} (pid ${process.pid}): main thread silent for ${stalled} ms; pausing it for its stack\n${threadStates()}${nativeStacks()}`);
    // When it runs again, say how long it was gone (a block in native code cannot be paused).
    void (async () => {
      while (Atomics.load(view, 0) === last) await new Promise((r) => setTimeout(r, 50));
      appendFileSync(d.file, `[${new Date().toISOString()}] ${d.name} (pid ${process.pid}): main thread back after ${Date.now() - Number(last)} ms\n`);
    })();
    const session = new Session();
    session.connectToMainThread();
    const post = (method: string, params?: object): Promise<unknown> =>
      new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
    const scripts = new Map<string, string>();
    session.on('Debugger.scriptParsed', (m) => {
      const p = m.params as { scriptId: string; url: string };
      scripts.set(p.scriptId, p.url);
    });
    try {
      const paused = new Promise<{ callFrames: { functionName: string; url: string; location: { scriptId: string; lineNumber: number } }[] }>((resolve) =>
        session.once('Debugger.paused', (m) => resolve(m.params as never)),
      );
      await post('Debugger.enable');
      await post('Debugger.pause');
      const p = await paused;
      const stack = p.callFrames.map((f) => `    at ${f.functionName || '(anonymous)'} (${f.url || scripts.get(f.location.scriptId) || '?'}:${f.location.lineNumber + 1})`).join('\n');
      mkdirSync(dirname(d.file), { recursive: true });
      appendFileSync(d.file, `[${new Date().toISOString()}] ${d.name} (pid ${process.pid}): main thread stuck for ${stalled} ms in\n${stack}\n\n`);
      await post('Debugger.resume');
      await post('Debugger.disable');
    } catch (e) {
      appendFileSync(d.file, `[${new Date().toISOString()}] ${d.name}: stuck for ${stalled} ms; could not read its stack: ${String(e)}\n`);
    } finally {
      session.disconnect();
    }
  }
}

if (!isMainThread && workerData !== null && typeof workerData === 'object' && 'beat' in (workerData as object)) {
  void watch(workerData as WatchdogData);
  parentPort?.on('message', () => undefined);
}
