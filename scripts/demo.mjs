#!/usr/bin/env node
// The main job, end to end: development certificates in certs/ (made if missing), a `dtls server` on a free
// loopback port, and a `dtls client` that sends a few lines and prints the server's acknowledgements.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';

const cli = new URL('../dist/src/cli/main.js', import.meta.url).pathname;
const node = process.execPath;

if (!existsSync('certs/server-cert.pem')) {
  const r = spawnSync(node, [cli, 'certs', 'certs'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const server = spawn(node, [cli, 'server', '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
let port;
let buffered = '';
server.stdout.setEncoding('utf8');
const ready = new Promise((resolve, reject) => {
  server.stdout.on('data', (chunk) => {
    buffered += chunk;
    process.stdout.write(`server: ${chunk}`);
    const m = /port (\d+)/.exec(buffered);
    if (m && port === undefined) {
      port = Number(m[1]);
      resolve();
    }
  });
  server.once('exit', (code) => reject(new Error(`server exited with code ${code}`)));
});
const timer = setTimeout(() => {
  console.error('demo: server did not start within 10 s');
  server.kill();
  process.exit(1);
}, 10_000);
await ready;
clearTimeout(timer);

const lines = ['hello, DTLS', 'a second message', 'goodbye'];
const client = spawn(node, [cli, 'client', '127.0.0.1', '--port', String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
client.stdout.setEncoding('utf8');
client.stdout.on('data', (chunk) => {
  for (const line of chunk.split('\n').filter(Boolean)) console.log(`client got acknowledgement: ${line}`);
});
for (const l of lines) console.log(`client sends: ${l}`);
client.stdin.end(`${lines.join('\n')}\n`);
const [code] = await once(client, 'exit');
server.kill('SIGINT');
await once(server, 'exit');
console.log(code === 0 ? 'demo: OK' : `demo: client exited with code ${code}`);
process.exit(code ?? 1);
