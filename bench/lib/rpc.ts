/**
 * The bench's process model: the orchestrator (bench/run.ts) forks one worker process per role (server,
 * client, sender, receiver) with an IPC channel, so that each side runs on its own core and its CPU can be
 * measured with process.cpuUsage() in its own process. A call is `{id, cmd, args}` → `{id, ok, result|error}`.
 * Every call has a timeout; a worker that dies fails its pending calls.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface CallMessage {
  id: number;
  cmd: string;
  args: unknown;
}

export interface ReplyMessage {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

const WORKER = fileURLToPath(new URL('../worker.js', import.meta.url));

/**
 * Where a worker's watchdog (bench/lib/watchdog.ts) writes the JavaScript stack of a main thread stuck for 10 s,
 * so that a case that hangs says where. Set by the orchestrator.
 */
export const diagnostics: { stallFile: string | undefined } = { stallFile: undefined };

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export interface WorkerOptions {
  /** Extra node flags, e.g. --cpu-prof. --expose-gc is always given. */
  execArgv?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

export class Worker {
  private readonly proc: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exited = false;
  private stderr = '';
  readonly done: Promise<void>;

  constructor(
    readonly name: string,
    opts: WorkerOptions = {},
  ) {
    this.proc = fork(WORKER, [name], {
      execArgv: ['--expose-gc', ...(opts.execArgv ?? [])],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: { ...(opts.env ?? process.env), ...(diagnostics.stallFile !== undefined ? { BENCH_STALL_FILE: diagnostics.stallFile } : {}) },
      serialization: 'advanced',
    });
    live.add(this.proc);
    this.proc.stderr?.setEncoding('utf8');
    this.proc.stderr?.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-4000);
    });
    this.proc.on('message', (m: ReplyMessage) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${this.name}: ${m.error ?? 'failed'}`));
    });
    this.done = new Promise<void>((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = true;
        live.delete(this.proc);
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`${this.name} exited (code ${code}, signal ${signal})${this.stderr ? `: ${this.stderr.trim().slice(-800)}` : ''}`));
        }
        this.pending.clear();
        resolve();
      });
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        const note = diagnostics.stallFile !== undefined ? ` (a stuck main thread's stack goes to ${diagnostics.stallFile})` : '';
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms${note}`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.send({ id, cmd, args } satisfies CallMessage);
    });
  }

  /** Asks the worker to exit (it flushes a --cpu-prof profile on a clean exit), then kills it if it lingers. */
  async stop(): Promise<void> {
    if (this.exited) return;
    try {
      await this.call('exit', {}, 3000);
    } catch {
      /* exiting: the reply may not come */
    }
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.done;
    clearTimeout(t);
  }
}
