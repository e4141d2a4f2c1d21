/**
 * `npm run bench`: performance of this DTLS 1.2 stack on real UDP loopback sockets, next to werift-dtls,
 * OpenSSL and Node's own ceiling (raw dgram, bare node:crypto), all measured in the same run.
 *
 *   npm run bench                       full run (a few minutes)
 *   npm run bench:quick                 smoke run
 *   node dist/bench/run.js --help       options
 *
 * Prints Markdown tables, writes bench/results/latest.json and bench/results/throughput.svg. Exits non-zero
 * only when it cannot run at all (bad options, no certificates); a case that fails is reported and skipped.
 */
import { cpus, totalmem, release } from 'node:os';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCertificates } from './lib/certs.js';
import { parseOptions, USAGE, type BenchOptions } from './lib/options.js';
import { buildOpensslClient, opensslVersion, type CertFiles } from './lib/openssl.js';
import type { CertPems } from './lib/peers.js';
import type { BenchResults } from './lib/results.js';
import { computeTargets, renderSvg, renderTables } from './lib/report.js';
import { diagnostics } from './lib/rpc.js';
import { cryptoCase, handshakeCase, memoryCase, opensslCase, rttCase, throughputCase, type Ctx } from './lib/cases.js';
import { loadAverage, OtherLoadMeter } from './lib/util.js';

/** The repository: the nearest directory above this script with bench/openssl/ (also from a private --outDir build). */
function findRepo(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench', 'openssl'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}
const REPO = findRepo();

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    log(`bench: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const outPath = resolve(REPO, opts.out);
  const svgPath = opts.svg ? resolve(REPO, opts.svg) : join(dirname(outPath), 'throughput.svg');
  if (opts.cpuProf !== undefined) {
    opts.cpuProf = resolve(REPO, opts.cpuProf);
    mkdirSync(opts.cpuProf, { recursive: true });
  }
  const started = Date.now();

  // Fresh development certificates (ECDSA P-256), shared by every peer.
  let files: CertFiles;
  let pems: CertPems;
  try {
    ({ files, pems } = await benchCertificates());
  } catch (e) {
    log(`bench: cannot make certificates: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }

  const cpuModel = cpus()[0]?.model ?? 'unknown';
  const ossl = opensslVersion();
  const results: BenchResults = {
    schema: 1,
    date: new Date().toISOString(),
    machine: {
      cpu: cpuModel,
      nproc: cpus().length,
      memTotal: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
      node: process.version,
      platform: process.platform,
      kernel: release(),
      ...(ossl !== undefined ? { openssl: ossl } : {}),
    },
    load: { start: loadAverage(), end: [], otherCpus: {}, otherCpusOverall: Number.NaN },
    options: { ...opts, only: [...opts.only], impls: [...opts.impls] },
    method: {
      processes:
        'server/receiver in one worker process, client/sender in another, so each side has a core and its CPU is its own process.cpuUsage() (user+system, all threads); the orchestrator only waits. Throughput, RTT and memory cases fork fresh workers; the handshake and OpenSSL sections share one client and one server process per implementation, JIT-warmed first (jitWarmup)',
      handshake:
        'each lane: new UDP socket, connect, cookie exchange, full handshake, close_notify, close; ours via connect()/createServer(); werift one DtlsServer per peer demultiplexed on one socket, no close_notify (it has none). Before its first case each implementation\'s two processes do handshakes with each other for --jit-warmup seconds, every configuration in turn (V8 needs thousands of handshakes to reach steady state); each case starts a new server in the same server process. The pairs a target compares (ours↔ours and werift↔werift; the three OpenSSL pairs) run with all their servers up: each pair warms up for --warmup seconds, then the pairs take turns in --rounds slices of the --duration window, and a pair\'s figures are sums over its slices (latency: median of the slice medians, worst slice p99)',
      openssl:
        'server: openssl s_server -dtls1_2 -quiet -no_ticket (one client at a time; CPU from /proc/<pid>/schedstat); client: bench/openssl/dtls-hs-client.c, libssl in a loop (full handshakes, no session reuse) — repeated s_client runs would measure process start-up and -reconnect resumes sessions',
      throughput:
        'one connection, the sender sends one message per record/datagram in bursts of ≤ 64 per event-loop turn with ≤ 256 unconfirmed sends; unpaced = as fast as the sender can; sustainable = highest paced rate found with < 0.1 % loss (descending trials from the rate delivered while flooded, then three bisection steps); records/s at the receiver between its first and last delivery; default socket buffers. The ceiling (sealed) and ours run in turn twice (with --rounds ≥ 2), fresh processes each time, and each keeps its best run (runRates lists all)',
      rtt: 'one 64-byte message outstanding, echoed by the server worker; hrtime from send() to the message event',
      memory:
        'N connections established (32 at a time) and each sends one 16-byte message, so the server releases its final flight; then full GC (--expose-gc, repeated until stable) in both processes; per connection = (after − before) / N',
      crypto: 'createCipheriv/createDecipheriv aes-128-gcm per record, 13-byte AAD, 16-byte tag, best of 7 rounds',
      recordPath:
        'a client Connection and a DtlsServer on a stand-in socket do a real handshake in memory; then µs per record for Connection.send+pollTransmit, DtlsSocket.send (transport drops the datagram), Connection.handleDatagram+pollEvent and DtlsServer.handleDatagram → message event; best of 5 rounds',
      handshakeInMemory:
        'client Connection and server Endpoint in one worker, datagrams passed in memory, hrtime summed around each side\'s calls; "shared config" resolves options once, "per-connection config" runs resolveCommon() per handshake as connect() does',
    },
    crypto: [],
    recordPath: [],
    handshake: [],
    jitWarmup: [],
    handshakeInMemory: [],
    throughput: [],
    rtt: [],
    memory: [],
    coreMemory: undefined,
    targets: [],
    errors: [],
    durationS: 0,
  };

  let opensslBin: string | undefined;
  if (opts.only.has('openssl')) {
    if (ossl === undefined) results.errors.push({ section: 'openssl', case: 'setup', message: 'openssl CLI not found' });
    const b = buildOpensslClient(REPO, join(dirname(outPath), '.bin'));
    if (b.path !== undefined) opensslBin = b.path;
    else results.errors.push({ section: 'openssl', case: 'build C client', message: b.error ?? 'unknown' });
  }

  diagnostics.stallFile = join(dirname(outPath), 'stalls.log');
  const ctx: Ctx = { opts, pems, files, opensslBin, results, log };
  log(`bench: node ${process.version}, ${cpus().length} × ${cpuModel}, load ${results.load.start.join(' ')}${opts.quick ? ' (quick)' : ''}`);
  const sections: [string, (c: Ctx) => Promise<void>][] = [
    ['crypto', cryptoCase],
    ['rtt', rttCase],
    ['throughput', throughputCase],
    ['handshake', handshakeCase],
    ['openssl', opensslCase],
    ['memory', memoryCase],
  ];
  const meter = new OtherLoadMeter();
  const overall = new OtherLoadMeter();
  for (const [name, fn] of sections) {
    if (!opts.only.has(name as never)) continue;
    log(`[${name}]`);
    meter.sample();
    try {
      await fn(ctx);
    } catch (e) {
      results.errors.push({ section: name, case: '*', message: e instanceof Error ? e.message : String(e) });
    }
    results.load.otherCpus[name] = Math.round(meter.sample() * 100) / 100;
    log(`  (other processes kept ${results.load.otherCpus[name]} CPUs busy)`);
    // The handshake processes serve the handshake and openssl sections; stop them after the last of these.
    const later = sections.slice(sections.findIndex(([n]) => n === name) + 1).map(([n]) => n);
    if (!later.some((n) => (n === 'handshake' || n === 'openssl') && opts.only.has(n))) await ctx.handshakeWorkers?.stopAll();
  }
  results.load.otherCpusOverall = Math.round(overall.sample() * 100) / 100;
  results.load.end = loadAverage();
  results.targets = computeTargets(results);
  results.durationS = (Date.now() - started) / 1000;

  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, JSON.stringify(results, null, 2) + '\n');
  const svg = renderSvg(results);
  if (svg !== undefined) {
    mkdirSync(dirname(svgPath), { recursive: true });
    writeFileSync(svgPath, svg);
  }
  console.log(
    `## DTLS bench — ${results.date}\n\n${results.machine.nproc} × ${results.machine.cpu}, ${results.machine.memTotal}, node ${results.machine.node}, ${results.machine.openssl ?? 'no openssl'}; load average at start ${results.load.start.join(' ')}, at end ${results.load.end.join(' ')}; other processes kept ${results.load.otherCpusOverall} of ${results.machine.nproc} CPUs busy on average (by section: ${Object.entries(results.load.otherCpus).map(([k, v]) => `${k} ${v}`).join(', ')}); ${opts.durationS} s windows, ${opts.warmupS} s warm-up, ${opts.jitWarmupS} s JIT warm-up of the handshake processes\n`,
  );
  console.log(renderTables(results));
  console.log(`\nresults: ${outPath}${svg !== undefined ? `\nchart:   ${svgPath}` : ''}\n(${results.durationS.toFixed(0)} s)`);
  rmSync(files.dir, { recursive: true, force: true });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
