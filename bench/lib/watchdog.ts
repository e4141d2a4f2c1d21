/**
 * A watchdog for bench workers: a worker thread that watches a heartbeat the main thread writes every 100 ms,
 * and when the main thread has been stuck for `stallMs` (a synchronous loop that does not end), pauses it through
 * the inspector (inspector.Session.connectToMainThread, which interrupts running JavaScript) and writes its
 * JavaScript stack to a file. A bench case that hangs then says where.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

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
  const w = new Worker(new URL(import.meta.url), { workerData: { beat, stallMs, file, name } satisfies WatchdogData });
  w.unref();
  w.on('error', () => undefined);
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
    appendFileSync(d.file, `[${new Date().toISOString()}] ${d.name} (pid ${process.pid}): main thread silent for ${stalled} ms; pausing it for its stack\n`);
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
