#!/usr/bin/env node
// Flood test: while legitimate clients connect, attackers on other loopback addresses send cookie-less
// ClientHellos, half-open handshakes (the cookie exchange completed, then silence) and garbage at a high rate from
// many source ports. Reports whether legitimate clients still complete (count, handshake latency percentiles,
// against a baseline measured first without the flood), the server's RSS over time (bounded?), and its refusal
// counters. Loopback only; bounded in time.
//
//   npm run flood -- [--duration 20] [--legit 200] [--baseline 20] [--hello-rate 3000] [--garbage-rate 3000]
//                    [--half-open-rate 300] [--attack-addresses 20] [--ports-per-address 150] [--attackers 2]
//                    [--drain] [--rcvbuf BYTES] [--server-options '{"maxHandshaking":1000}'] [--out FILE]
//
// The server is scripts/load-server.mjs with the library's default limits unless --server-options says otherwise.
// --drain waits for the server's handshake deadline after the flood to show the half-open table empties.
import { fork } from 'node:child_process';
import { readFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { args, percentiles, machine, startServer, makeCerts, udpRcvbufErrors } from './soak.mjs';

const self = fileURLToPath(import.meta.url);
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
const ms = (x) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : '-');

// ----------------------------------------------------------------------------------------------- attacker

async function attacker(cfg) {
  const { HelloTemplate, bindSocket, garbage, halfOpen } = await import('../dist/test/helpers/attackers.js');
  const template = new HelloTemplate();
  const sockets = [];
  for (const address of cfg.addresses) for (let p = 0; p < cfg.portsPerAddress; p++) sockets.push(await bindSocket(address));
  const r = { sockets: sockets.length, hellos: 0, garbage: 0, halfOpenTried: 0, halfOpenSent: 0, repliesReceived: 0, sendErrors: 0 };
  for (const s of sockets) s.on('message', () => r.repliesReceived++);
  const send = (s, d) => {
    s.send(d, cfg.port, '127.0.0.1', (err) => err && r.sendErrors++);
  };
  let next = 0;
  const pick = () => sockets[next++ % sockets.length];
  // Sockets free for a half-open handshake, least recently used first.
  const free = [...sockets];
  let carry = { hello: 0, garbage: 0, half: 0 };
  const tickMs = 10;
  const end = Date.now() + cfg.duration * 1000;
  const timer = setInterval(() => {
    if (Date.now() >= end) return;
    carry.hello += (cfg.helloRate * tickMs) / 1000;
    carry.garbage += (cfg.garbageRate * tickMs) / 1000;
    carry.half += (cfg.halfOpenRate * tickMs) / 1000;
    for (; carry.hello >= 1; carry.hello--) {
      send(pick(), template.first());
      r.hellos++;
    }
    for (; carry.garbage >= 1; carry.garbage--) {
      send(pick(), garbage());
      r.garbage++;
    }
    for (; carry.half >= 1; carry.half--) {
      const s = free.shift();
      if (s === undefined) break;
      r.halfOpenTried++;
      halfOpen(s, cfg.port, template, 2000).then((ok) => {
        if (ok) r.halfOpenSent++;
        free.push(s);
      });
    }
  }, tickMs);
  await sleep(cfg.duration * 1000 + 2100);
  clearInterval(timer);
  for (const s of sockets) s.close();
  process.send({ type: 'result', result: r });
}

// ----------------------------------------------------------------------------------------------- legitimate clients

async function legit(cfg) {
  const { connect } = await import('../dist/src/index.js');
  const ca = readFileSync(join(cfg.certDir, 'ca-cert.pem'));
  const r = { started: 0, completed: 0, failed: 0, errors: {}, latencies: [], sent: 0, acked: 0, lost: 0 };
  async function one() {
    r.started++;
    const t0 = performance.now();
    const c = connect({ host: '127.0.0.1', port: cfg.port, servername: 'localhost', ca, handshakeTimeout: cfg.handshakeTimeout });
    c.on('error', (e) => (r.errors[e.code] = (r.errors[e.code] ?? 0) + 1));
    const ok = await new Promise((res) => {
      c.once('secureConnect', () => res(true));
      c.once('close', () => res(false));
    });
    if (!ok) {
      r.failed++;
      return;
    }
    r.completed++;
    r.latencies.push(performance.now() - t0);
    let waiter;
    c.on('message', (m) => waiter?.(m.toString()));
    for (let id = 0; id < cfg.messages && c.connected; id++) {
      let acked = false;
      for (let attempt = 0; attempt < 5 && !acked && c.connected; attempt++) {
        r.sent++;
        const text = `legit:${id}:${attempt}`;
        const got = new Promise((res) => {
          const t = setTimeout(() => res(false), 1000);
          waiter = (m) => m.startsWith(`legit:${id}:`) && (clearTimeout(t), res(true));
        });
        c.send(text);
        acked = await got;
      }
      if (acked) r.acked++;
      else r.lost++;
    }
    await Promise.race([c.close(), sleep(2000)]);
  }
  const runs = [];
  const gap = cfg.count > 1 ? (cfg.spreadMs / cfg.count) : 0;
  for (let i = 0; i < cfg.count; i++) {
    runs.push(one());
    if (gap > 0) await sleep(gap);
  }
  await Promise.all(runs);
  process.send({ type: 'result', result: r });
}

function child(role, cfg) {
  const c = fork(self, [`--${role}`, JSON.stringify(cfg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const done = new Promise((resolve) => {
    let result;
    c.on('message', (m) => m.type === 'result' && (result = m.result));
    c.on('exit', (code) => resolve(result ?? { failed: `exit ${code}` }));
  });
  return { c, done };
}

// ----------------------------------------------------------------------------------------------- orchestrator

async function main() {
  const o = args(process.argv.slice(2), {
    duration: 20,
    legit: 200,
    baseline: 20,
    helloRate: 3000,
    garbageRate: 3000,
    halfOpenRate: 300,
    attackAddresses: 20,
    portsPerAddress: 150,
    attackers: 2,
    drain: false,
    rcvbuf: 0,
    serverOptions: '{}',
    out: '',
  });
  const serverOptions = JSON.parse(o.serverOptions);
  const started = new Date();
  const load0 = loadavg();
  const certDir = await makeCerts();
  const rcv0 = udpRcvbufErrors();
  const server = startServer(certDir, serverOptions, o.rcvbuf);
  const port = await server.listening;
  const hardStop = setTimeout(() => {
    console.error('flood: hard time limit reached');
    process.exit(2);
  }, (o.duration + 120 + (o.drain ? 40 : 0)) * 1000);
  hardStop.unref();

  // Baseline: legitimate clients with no flood.
  const base = await child('legit', { certDir, port, count: o.baseline, spreadMs: 2000, messages: 5, handshakeTimeout: 15_000 }).done;
  const before = await server.sample(true);

  // Flood.
  const t0 = performance.now();
  const samples = [];
  let peak = { rss: before.rss, handshaking: 0, connections: 0 };
  const sampler = setInterval(async () => {
    const s = await server.sample(false);
    samples.push({ t: Math.round((performance.now() - t0) / 1000), rss: s.rss, handshaking: s.stats.handshaking, connections: s.stats.connections });
    peak = { rss: Math.max(peak.rss, s.rss), handshaking: Math.max(peak.handshaking, s.stats.handshaking), connections: Math.max(peak.connections, s.stats.connections) };
  }, 500);
  const addresses = Array.from({ length: o.attackAddresses }, (_, i) => `127.2.${Math.floor(i / 250)}.${2 + (i % 250)}`);
  const attackers = [];
  for (let a = 0; a < o.attackers; a++) {
    const mine = addresses.filter((_, i) => i % o.attackers === a);
    attackers.push(
      child('attacker', {
        port,
        addresses: mine,
        portsPerAddress: o.portsPerAddress,
        duration: o.duration,
        helloRate: o.helloRate / o.attackers,
        garbageRate: o.garbageRate / o.attackers,
        halfOpenRate: o.halfOpenRate / o.attackers,
      }),
    );
  }
  // Legitimate clients start after the flood is under way and keep arriving until it ends.
  await sleep(Math.min(3000, (o.duration * 1000) / 4));
  const legitRun = child('legit', { certDir, port, count: o.legit, spreadMs: o.duration * 1000 - 4000, messages: 5, handshakeTimeout: 15_000 });
  const attackResults = await Promise.all(attackers.map((a) => a.done));
  const floodEnd = await server.sample(false);
  const legitResult = await legitRun.done;
  clearInterval(sampler);
  const afterFlood = await server.sample(true);
  let drained;
  if (o.drain) {
    const wait = (serverOptions.handshakeTimeout ?? 30_000) + 2_000;
    await sleep(wait);
    drained = await server.sample(true);
  }
  await server.close();
  const kernelDrops = udpRcvbufErrors() - rcv0;

  const atk = { sockets: 0, hellos: 0, garbage: 0, halfOpenTried: 0, halfOpenSent: 0, repliesReceived: 0, sendErrors: 0 };
  for (const r of attackResults) for (const k of Object.keys(atk)) atk[k] += r[k] ?? 0;
  const lb = percentiles(base.latencies ?? []);
  const lf = percentiles(legitResult.latencies ?? []);
  const st = afterFlood.stats;
  const rssSeries = samples.filter((_, i) => i % 4 === 0).map((s) => `${s.t}s ${(s.rss / 1048576).toFixed(0)}`).join(', ');
  const floodSeconds = o.duration;
  const report = [
    `### Flood — ${started.toISOString()}`,
    '',
    `- machine: ${machine()}`,
    `- load average at start: ${load0.map((x) => x.toFixed(2)).join(' ')}; at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    `- command: \`node scripts/flood.mjs ${process.argv.slice(2).join(' ')}\``,
    `- server limits: ${JSON.stringify({ maxConnections: 100000, maxConnectionsPerAddress: 1000, maxHandshaking: 10000, maxHandshakingPerAddress: 100, handshakeTimeout: 30000, ...serverOptions })} (library defaults unless set)`,
    `- attack, ${floodSeconds} s from ${atk.sockets} UDP ports on ${o.attackAddresses} addresses (127.2.0.x), ${o.attackers} processes: ${atk.hellos} cookie-less ClientHellos (${Math.round(atk.hellos / floodSeconds)}/s), ${atk.garbage} garbage datagrams (${Math.round(atk.garbage / floodSeconds)}/s), ${atk.halfOpenSent} half-open handshakes completed the cookie exchange (${atk.halfOpenTried} tried); ${atk.repliesReceived} datagrams came back to the attackers`,
    `- legitimate clients (127.0.0.1), baseline without flood: ${base.completed}/${o.baseline} completed; handshake p50 ${ms(lb.p50)}, p90 ${ms(lb.p90)}, p99 ${ms(lb.p99)}, max ${ms(lb.max)}`,
    `- legitimate clients during the flood: **${legitResult.completed}/${o.legit} completed** (failed ${legitResult.failed}${Object.keys(legitResult.errors ?? {}).length ? ` ${JSON.stringify(legitResult.errors)}` : ''}); handshake p50 ${ms(lf.p50)}, p90 ${ms(lf.p90)}, p99 ${ms(lf.p99)}, max ${ms(lf.max)}; messages acknowledged ${legitResult.acked}/${legitResult.completed * 5}, lost ${legitResult.lost}`,
    `- server RSS: before ${mb(before.rss)}, peak ${mb(peak.rss)}, at the end of the flood ${mb(floodEnd.rss)}, after (GC) ${mb(afterFlood.rss)}${drained ? `, after the handshake deadline (GC) ${mb(drained.rss)}` : ''}; JS heap before ${mb(before.heapUsed)}, after the flood (GC) ${mb(afterFlood.heapUsed)}${drained ? `, after the deadline (GC) ${mb(drained.heapUsed)}` : ''}; samples (s MB): ${rssSeries}`,
    `- server half-open handshakes: peak ${peak.handshaking}, at the end of the flood ${floodEnd.stats.handshaking}${drained ? `, after the deadline ${drained.stats.handshaking} (connections ${drained.stats.connections})` : ''}`,
    `- server counters: datagrams ${st.datagramsReceived}, HelloVerifyRequests ${st.helloVerifyRequestsSent}, connections accepted ${st.connectionsAccepted}, handshakes completed ${st.handshakesCompleted}`,
    `- UDP datagrams the kernel dropped for a full receive buffer during the run (whole machine, /proc/net/snmp RcvbufErrors): ${kernelDrops}; server socket receive buffer: ${o.rcvbuf ? `${o.rcvbuf} B requested` : 'OS default'}`,
    `- server refusals (valid cookie, cap reached): ${JSON.stringify(st.refused)}`,
    `- server drops (no connection): ${JSON.stringify(st.dropped)}; connections closed with error: ${JSON.stringify((drained ?? afterFlood).stats.closedWithError)}`,
    '',
  ].join('\n');
  console.log(report);
  if (o.out) {
    mkdirSync(dirname(o.out), { recursive: true });
    appendFileSync(o.out, `${report}\n`);
  }
  process.exit(legitResult.completed === o.legit ? 0 : 1);
}

if (process.argv[2] === '--attacker') attacker(JSON.parse(process.argv[3])).catch((e) => (console.error(e), process.exit(1)));
else if (process.argv[2] === '--legit') legit(JSON.parse(process.argv[3])).catch((e) => (console.error(e), process.exit(1)));
else main().catch((e) => (console.error(e), process.exit(1)));
