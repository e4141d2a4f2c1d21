#!/usr/bin/env node
// A lossy UDP relay on 127.0.0.1 for trying DTLS peers by hand under loss (the one the test/net tests use):
//
//   node scripts/relay.mjs --target 4433 [--drop 0.1] [--duplicate 0.05] [--reorder 0.05] [--reorder-ms 30]
//                          [--corrupt 0.01] [--corrupt-any] [--delay-ms 0] [--jitter-ms 5] [--seed 1] [--duration 0]
//
// Prints "relay listening on 127.0.0.1 port N" and then point a client at that port, e.g.
//   npx dtls server --port 4433 &  node scripts/relay.mjs --target 4433 --drop 0.2 &  npx dtls client 127.0.0.1 --port N
// Prints the counts every 5 s and at exit (SIGINT/SIGTERM, or after --duration seconds when given).
// Needs the build (npm run build): it runs dist/test/helpers/relay.js.
import { LossyRelay } from '../dist/test/helpers/relay.js';

const o = { target: 0, seed: 1, duration: 0 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (!a.startsWith('--')) continue;
  const key = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) o[key] = true;
  else {
    o[key] = Number(v);
    i++;
  }
}
if (!Number.isInteger(o.target) || o.target <= 0 || o.target > 65535) {
  console.error('usage: node scripts/relay.mjs --target PORT [--drop P] [--duplicate P] [--reorder P] [--corrupt P] [--jitter-ms MS] ...');
  process.exit(2);
}
const { target, duration, ...rest } = o;
const relay = await LossyRelay.start({ targetPort: target, ...rest });
console.log(`relay listening on 127.0.0.1 port ${relay.port}, forwarding to 127.0.0.1 port ${target}`);
const report = setInterval(() => console.error(relay.describe()), 5000);
const stop = async () => {
  clearInterval(report);
  console.error(relay.describe());
  await relay.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
if (duration > 0) setTimeout(stop, duration * 1000);
