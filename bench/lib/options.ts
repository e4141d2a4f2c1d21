/** Command-line options of `npm run bench` (node dist/bench/run.js). */

export const SECTIONS = ['crypto', 'handshake', 'openssl', 'throughput', 'rtt', 'memory'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  quick: boolean;
  /** Seconds per measurement window. */
  durationS: number;
  /** Seconds of warm-up before each window. */
  warmupS: number;
  /** Handshake cases: slices each pair's window is cut into, taken in turn with the other pairs compared. */
  rounds: number;
  /** Seconds of handshakes between each implementation's long-lived handshake processes before their first case. */
  jitWarmupS: number;
  sizes: number[];
  only: Set<Section>;
  impls: Set<'ours' | 'werift'>;
  concurrency: number;
  /** Throughput receivers' SO_RCVBUF (bytes; 0 = system default). */
  rcvbuf: number;
  /** Memory case: established connections (ours). */
  connections: number;
  /** Memory case for werift (its handshakes are slow; per-connection figures do not need 10 000). */
  weriftConnections: number;
  out: string;
  svg: string;
  cpuProf: string | undefined;
  help: boolean;
}

export const USAGE = `npm run bench [-- options]         (or: node dist/bench/run.js [options])

  --quick                 smoke run (about 15 s): short windows, 1000-byte records only, this stack only (plus
                          the raw dgram and OpenSSL references), one handshake configuration
  --duration S            seconds per measurement window (default 3; quick 0.3)
  --warmup S              seconds of warm-up before each window (default 1; quick 0.1)
  --rounds N              handshake cases: the pairs compared (ours and werift; the OpenSSL pairs) take turns in
                          N slices of each window, so drift in machine speed touches them alike (default 3; quick 1);
                          throughput: with N ≥ 2 the ceiling and ours run in turn twice and keep their best run
  --jit-warmup S          seconds of handshakes that warm each implementation's handshake processes up before
                          their first case, every configuration in turn (default 12; quick 0)
  --sizes A,B,...         record sizes for throughput (default 64,1000,1200; quick 1000)
  --only LIST             sections: ${SECTIONS.join(',')} (default all)
  --impls LIST            ours,werift (default both, quick ours; raw dgram and openssl are always the references)
  --concurrency N         concurrent clients in the parallel handshake case (default 32)
  --rcvbuf BYTES          receive buffer of the throughput receivers, all alike (default 4194304, capped by
                          net.core.rmem_max; 0 = system default)
  --connections N         idle connections in the memory case (default 10000; quick 200)
  --werift-connections N  same for werift (default 2000; quick 100)
  --out FILE              JSON results (default bench/results/latest.json)
  --svg FILE              throughput chart (default bench/results/throughput.svg)
  --cpu-prof DIR          run every worker under node --cpu-prof, profiles written to DIR
  --help`;

function list(v: string | undefined, name: string): string[] {
  if (v === undefined || v.length === 0) throw new Error(`${name} needs a value`);
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function num(v: string | undefined, name: string, min: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < min) throw new Error(`${name} needs a number ≥ ${min}`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const o: BenchOptions = {
    quick,
    durationS: quick ? 0.3 : 3,
    warmupS: quick ? 0.1 : 1,
    jitWarmupS: quick ? 0 : 12,
    rounds: quick ? 1 : 3,
    sizes: quick ? [1000] : [64, 1000, 1200],
    only: new Set(SECTIONS),
    impls: new Set(quick ? ['ours'] : ['ours', 'werift']),
    concurrency: 32,
    rcvbuf: 4 * 1024 * 1024,
    connections: quick ? 200 : 10_000,
    weriftConnections: quick ? 100 : 2000,
    out: 'bench/results/latest.json',
    svg: '',
    cpuProf: undefined,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--quick':
        break;
      case '--duration':
        o.durationS = num(val(), flag, 0.05);
        break;
      case '--warmup':
        o.warmupS = num(val(), flag, 0);
        break;
      case '--rounds':
        o.rounds = Math.floor(num(val(), flag, 1));
        break;
      case '--jit-warmup':
        o.jitWarmupS = num(val(), flag, 0);
        break;
      case '--sizes':
        o.sizes = list(val(), flag).map((s) => {
          const n = Number(s);
          if (!Number.isInteger(n) || n < 1 || n > 16384) throw new Error(`--sizes: bad size ${s} (1..16384)`);
          return n;
        });
        break;
      case '--only': {
        const names = list(val(), flag);
        for (const n of names) if (!(SECTIONS as readonly string[]).includes(n)) throw new Error(`--only: unknown section ${n} (${SECTIONS.join(', ')})`);
        o.only = new Set(names as Section[]);
        break;
      }
      case '--impls': {
        const names = list(val(), flag);
        for (const n of names) if (n !== 'ours' && n !== 'werift') throw new Error(`--impls: unknown ${n} (ours, werift)`);
        o.impls = new Set(names as ('ours' | 'werift')[]);
        break;
      }
      case '--concurrency':
        o.concurrency = Math.floor(num(val(), flag, 1));
        break;
      case '--rcvbuf':
        o.rcvbuf = Math.floor(num(val(), flag, 0));
        break;
      case '--connections':
        o.connections = Math.floor(num(val(), flag, 1));
        break;
      case '--werift-connections':
        o.weriftConnections = Math.floor(num(val(), flag, 1));
        break;
      case '--out':
        o.out = val() ?? o.out;
        break;
      case '--svg':
        o.svg = val() ?? '';
        break;
      case '--cpu-prof':
        o.cpuProf = val();
        if (o.cpuProf === undefined) throw new Error('--cpu-prof needs a directory');
        break;
      case '--help':
      case '-h':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  return o;
}
