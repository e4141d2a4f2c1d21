#!/usr/bin/env node
// The server process of scripts/soak.mjs and scripts/flood.mjs: a DTLS echo server on 127.0.0.1, driven over IPC.
// It is started with `fork(..., [JSON config], { execArgv: ['--expose-gc'] })` and answers:
//   { type: 'sample', id, gc }  → { type: 'sample', id, rss, heapUsed, cpu, stats, clientErrors, messages }
//   { type: 'close' }           → closes every connection (close_notify) and exits.
// It exits by itself when its parent goes away.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from '../dist/src/index.js';

const config = JSON.parse(process.argv[2] ?? '{}');
const dir = config.certDir;
// config.rcvbuf: bring our own socket with a larger kernel receive buffer (SO_RCVBUF, capped by net.core.rmem_max).
const own = config.rcvbuf ? dgram.createSocket({ type: 'udp4', recvBufferSize: config.rcvbuf, sendBufferSize: config.rcvbuf }) : undefined;
const server = createServer({
  cert: readFileSync(join(dir, 'server-cert.pem')),
  key: readFileSync(join(dir, 'server-key.pem')),
  ca: readFileSync(join(dir, 'ca-cert.pem')),
  ...(config.options ?? {}),
  ...(own ? { socket: own } : {}),
});
const clientErrors = {};
let messages = 0;
server.on('secureConnection', (socket) => {
  socket.on('error', (err) => (clientErrors[err.code] = (clientErrors[err.code] ?? 0) + 1));
  socket.on('message', (msg) => {
    messages++;
    if (socket.connected) socket.send(msg);
  });
});
server.on('clientError', (err) => (clientErrors[err.code] = (clientErrors[err.code] ?? 0) + 1));
server.on('error', (err) => {
  console.error(`load-server: ${err.message}`);
  process.exit(1);
});
const announce = () => process.send({ type: 'listening', port: server.address().port, rcvbuf: own?.getRecvBufferSize() });
if (own) own.bind(config.port ?? 0, config.host ?? '127.0.0.1', announce);
else server.listen(config.port ?? 0, config.host ?? '127.0.0.1', announce);

process.on('message', async (m) => {
  if (m.type === 'sample') {
    if (m.gc && typeof globalThis.gc === 'function') {
      for (let i = 0; i < 3; i++) {
        globalThis.gc();
        await new Promise((r) => setImmediate(r));
      }
    }
    const mem = process.memoryUsage();
    process.send({ type: 'sample', id: m.id, rss: mem.rss, heapUsed: mem.heapUsed, cpu: process.cpuUsage(), stats: server.getStats(), clientErrors, messages });
  } else if (m.type === 'close') {
    const t = setTimeout(() => process.exit(0), 5_000);
    t.unref();
    await server.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
