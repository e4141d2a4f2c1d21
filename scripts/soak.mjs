#!/usr/bin/env node
// Soak test: many concurrent DTLS clients, each exchanging many messages with one server process, on loopback.
//
//   npm run soak -- [--clients 1000] [--messages 50] [--interval 20] [--size 64] [--workers 2]
//                   [--concurrency 100] [--per-address 4] [--rcvbuf BYTES] [--timeout 300] [--out FILE]
//
// The server (scripts/load-server.mjs, an echo server) runs in a child process; the clients run in `--workers`
// child processes, `--concurrency` handshakes in flight per worker, each client from its own UDP port on one of
// the 127.x.y.z loopback addresses (`--per-address` clients per address, as hosts behind a NAT would be). Each
// client sends `--messages` numbered messages one at a time (`--interval` ms apart), waits for the echo and
// resends after 1 s, up to 5 attempts (DTLS does not retransmit application data: the application does).
// Reports handshakes completed and their latency, messages sent / acknowledged / lost, duplicates seen (must be
// 0), the server's RSS before, at peak and after, its CPU time, and the duration. Exits by itself (`--timeout`).
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir, cpus, totalmem, loadavg, platform, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** `--some-flag value` pairs into { someFlag: value } over `defaults` (numbers parsed; a bare flag is true). */
export function args(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const key = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) out[key] = true;
    else {
      out[key] = Number.isNaN(Number(v)) ? v : Number(v);
      i++;
    }
  }
  return out;
}

export function percentiles(values) {
  const s = [...values].sort((a, b) => a - b);
  const p = (q) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((q / 100) * s.length) - 1))]);
  return { n: s.length, min: s[0], p50: p(50), p90: p(90), p99: p(99), max: s[s.length - 1] };
}

const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : '-');

/** Linux: the kernel's count of UDP datagrams dropped because a socket's receive buffer was full (whole machine). */
export function udpRcvbufErrors() {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Number(values[names.indexOf('RcvbufErrors')]);
  } catch {
    return NaN;
  }
}

export function machine() {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? 'unknown CPU'}, ${mb(totalmem())} RAM, ${platform()} ${release()}, Node ${process.version}`;
}

/** Address of the g-th client: `perAddress` clients per address, on 127.1.0.2 and up (127.0.0.1 stays free). */
export function clientAddress(g, perAddress) {
  const n = Math.floor(g / perAddress);
  return `127.1.${Math.floor(n / 250) % 256}.${2 + (n % 250)}`;
}

// ----------------------------------------------------------------------------------------------- client worker

async function worker(cfg) {
  const { connect } = await import('../dist/src/index.js');
  const ca = readFileSync(join(cfg.certDir, 'ca-cert.pem'));
  const r = { clients: 0, handshakes: 0, handshakeFailures: 0, errors: {}, latencies: [], sent: 0, acked: 0, resends: 0, lost: 0, duplicates: 0, corrupted: 0 };
  let inFlight = 0;
  const waiting = [];
  const acquire = () => (inFlight < cfg.concurrency ? (inFlight++, Promise.resolve()) : new Promise((res) => waiting.push(res)));
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else inFlight--;
  };
  const sleep = (t) => new Promise((res) => setTimeout(res, t));
  const pad = 'x'.repeat(Math.max(0, cfg.size - 24));

  async function one(g) {
    r.clients++;
    await acquire();
    const t0 = performance.now();
    const c = connect({
      host: '127.0.0.1',
      port: cfg.port,
      servername: 'localhost',
      ca,
      localAddress: clientAddress(g, cfg.perAddress),
      handshakeTimeout: 30_000,
    });
    let failed;
    c.on('error', (e) => {
      failed = e;
      r.errors[e.code] = (r.errors[e.code] ?? 0) + 1;
    });
    const ok = await new Promise((res) => {
      c.once('secureConnect', () => res(true));
      c.once('close', () => res(false));
    });
    release();
    if (!ok) {
      r.handshakeFailures++;
      return;
    }
    r.handshakes++;
    r.latencies.push(performance.now() - t0);
    // One message outstanding at a time; the echo must come back intact.
    let waiter;
    const seen = new Set();
    c.on('message', (m) => {
      const s = m.toString();
      if (seen.has(s)) r.duplicates++;
      seen.add(s);
      const [gs, id] = s.split(':');
      if (Number(gs) !== g) r.corrupted++;
      else waiter?.(Number(id));
    });
    for (let id = 0; id < cfg.messages && !failed && c.connected; id++) {
      let acked = false;
      for (let attempt = 0; attempt < 5 && !acked && c.connected; attempt++) {
        if (attempt > 0) r.resends++;
        r.sent++;
        const got = new Promise((res) => {
          const t = setTimeout(() => res(false), 1000);
          waiter = (x) => {
            if (x === id) {
              clearTimeout(t);
              res(true);
            }
          };
        });
        c.send(`${g}:${id}:${attempt}:${pad}`);
        acked = await got;
      }
      if (acked) r.acked++;
      else r.lost++;
      if (cfg.interval > 0) await sleep(cfg.interval);
    }
    await Promise.race([c.close(), sleep(2000)]);
  }

  await Promise.all(Array.from({ length: cfg.count }, (_, i) => one(cfg.first + i)));
  process.send({ type: 'result', result: r });
}

// ----------------------------------------------------------------------------------------------- orchestrator

export function startServer(certDir, options, rcvbuf = 0) {
  const child = fork(join(here, 'load-server.mjs'), [JSON.stringify({ certDir, options, rcvbuf })], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let seq = 0;
  const pending = new Map();
  child.on('message', (m) => {
    if (m.type === 'sample') {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    }
  });
  const listening = new Promise((resolve, reject) => {
    child.on('message', (m) => m.type === 'listening' && resolve(m.port));
    child.once('exit', (code) => reject(new Error(`server exited with code ${code}`)));
  });
  return {
    child,
    listening,
    sample: (gc = false) =>
      new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, resolve);
        child.send({ type: 'sample', id, gc });
      }),
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send({ type: 'close' });
        setTimeout(() => child.kill('SIGKILL'), 8_000).unref();
      }),
  };
}

export async function makeCerts() {
  const { generateDevCertificates } = await import('../dist/src/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'dtls-load-'));
  await generateDevCertificates({ dir });
  return dir;
}

async function main() {
  const o = args(process.argv.slice(2), {
    clients: 1000,
    messages: 50,
    interval: 20,
    size: 64,
    workers: 2,
    concurrency: 100,
    perAddress: 4,
    rcvbuf: 0,
    timeout: 300,
    out: '',
  });
  const started = new Date();
  const load0 = loadavg();
  const t0 = performance.now();
  const certDir = await makeCerts();
  const rcv0 = udpRcvbufErrors();
  const server = startServer(certDir, {}, o.rcvbuf);
  const port = await server.listening;
  const before = await server.sample(true);
  let peakRss = before.rss;
  let peakConnections = 0;
  let peakHandshaking = 0;
  const sampler = setInterval(async () => {
    const s = await server.sample(false);
    peakRss = Math.max(peakRss, s.rss);
    peakConnections = Math.max(peakConnections, s.stats.connections);
    peakHandshaking = Math.max(peakHandshaking, s.stats.handshaking);
  }, 500);

  const workers = [];
  const per = Math.ceil(o.clients / o.workers);
  for (let w = 0; w < o.workers; w++) {
    const first = w * per;
    const count = Math.min(per, o.clients - first);
    if (count <= 0) break;
    const cfg = { role: 'worker', certDir, port, first, count, messages: o.messages, interval: o.interval, size: o.size, concurrency: o.concurrency, perAddress: o.perAddress };
    const child = fork(fileURLToPath(import.meta.url), ['--worker', JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push(
      new Promise((resolve) => {
        let result;
        child.on('message', (m) => m.type === 'result' && (result = m.result));
        child.on('exit', (code) => resolve(result ?? { failed: code }));
      }),
    );
    workers.at(-1).child = child;
  }
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    console.error(`soak: --timeout ${o.timeout} s reached, stopping`);
    for (const w of workers) w.child?.kill('SIGKILL');
  }, o.timeout * 1000);
  const results = await Promise.all(workers);
  clearTimeout(killer);
  const clientsDone = performance.now();
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 1500)); // close_notify processed, timers settled
  const after = await server.sample(true);
  await server.close();
  const kernelDrops = udpRcvbufErrors() - rcv0;

  const total = { clients: 0, handshakes: 0, handshakeFailures: 0, errors: {}, latencies: [], sent: 0, acked: 0, resends: 0, lost: 0, duplicates: 0, corrupted: 0 };
  for (const r of results) {
    if (r.failed !== undefined) continue;
    for (const k of ['clients', 'handshakes', 'handshakeFailures', 'sent', 'acked', 'resends', 'lost', 'duplicates', 'corrupted']) total[k] += r[k];
    total.latencies.push(...r.latencies);
    for (const [k, v] of Object.entries(r.errors)) total.errors[k] = (total.errors[k] ?? 0) + v;
  }
  const lat = percentiles(total.latencies);
  const cpuMs = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000;
  const report = [
    `### Soak — ${started.toISOString()}`,
    '',
    `- machine: ${machine()}`,
    `- load average at start: ${load0.map((x) => x.toFixed(2)).join(' ')}; at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    `- command: \`node scripts/soak.mjs ${process.argv.slice(2).join(' ')}\` (clients ${o.clients}, messages ${o.messages} each, interval ${o.interval} ms, ${o.size} B, ${o.workers} client processes, ${o.concurrency} handshakes in flight per process, ${o.perAddress} clients per 127.x address)`,
    `- duration: ${((clientsDone - t0) / 1000).toFixed(1)} s${timedOut ? ' (stopped by --timeout)' : ''}`,
    `- handshakes completed: ${total.handshakes} / ${o.clients} (failed: ${total.handshakeFailures}${Object.keys(total.errors).length ? `; errors ${JSON.stringify(total.errors)}` : ''})`,
    `- handshake latency (connect() to secureConnect, queueing included): p50 ${ms(lat.p50)}, p90 ${ms(lat.p90)}, p99 ${ms(lat.p99)}, max ${ms(lat.max)}`,
    `- messages: sent ${total.sent} (resends ${total.resends}), acknowledged ${total.acked} / ${o.clients * o.messages}, lost ${total.lost}, duplicates ${total.duplicates}, corrupted ${total.corrupted}`,
    `- server: connections at peak ${peakConnections} (handshaking at peak ${peakHandshaking}), 1.5 s after the clients closed ${after.stats.connections} (a close_notify lost on the way leaves a connection open: no idle timeout by default); handshakes completed ${after.stats.handshakesCompleted}, messages echoed ${after.messages}`,
    `- server RSS: before ${mb(before.rss)}, peak ${mb(peakRss)}, after (GC) ${mb(after.rss)}; heap after (GC) ${mb(after.heapUsed)}; CPU ${(cpuMs / 1000).toFixed(1)} s`,
    `- UDP datagrams the kernel dropped for a full receive buffer during the run (whole machine, /proc/net/snmp RcvbufErrors): ${kernelDrops}; server socket receive buffer: ${o.rcvbuf ? `${o.rcvbuf} B requested` : 'OS default'}`,
    `- server refusals: ${JSON.stringify(after.stats.refused)}; dropped ${JSON.stringify(after.stats.dropped)}; closed with error ${JSON.stringify(after.stats.closedWithError)}; client errors seen by the server ${JSON.stringify(after.clientErrors)}`,
    '',
  ].join('\n');
  console.log(report);
  if (o.out) {
    mkdirSync(dirname(o.out), { recursive: true });
    appendFileSync(o.out, `${report}\n`);
  }
  process.exit(total.handshakes === o.clients && total.lost === 0 && total.duplicates === 0 && total.corrupted === 0 ? 0 : 1);
}

if (process.argv[2] === '--worker') {
  worker(JSON.parse(process.argv[3])).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
