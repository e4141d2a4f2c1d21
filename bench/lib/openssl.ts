/**
 * OpenSSL as a peer: `openssl s_server -dtls1_2` (the CLI; its CPU read from /proc/<pid>/schedstat), and
 * OpenSSL's client as bench/openssl/dtls-hs-client.c (libssl in a loop, compiled here with `cc`), because
 * repeated `openssl s_client` runs measure process start-up more than the handshake, and `s_client -reconnect`
 * resumes sessions instead of doing full handshakes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Group } from './peers.js';
import { processCpuUs, sleep } from './util.js';

export interface CertFiles {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export function opensslVersion(): string | undefined {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Compiles the C client into `binDir`; returns its path, or an explanation when it cannot. */
export function buildOpensslClient(repoRoot: string, binDir: string): { path?: string; error?: string } {
  const src = join(repoRoot, 'bench', 'openssl', 'dtls-hs-client.c');
  const out = join(binDir, 'dtls-hs-client');
  try {
    mkdirSync(binDir, { recursive: true });
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return { path: out };
  } catch (e) {
    return { error: String(e) };
  }
  const r = spawnSync('cc', ['-O2', '-o', out, src, '-lssl', '-lcrypto'], { encoding: 'utf8' });
  if (r.error !== undefined) return { error: `cc: ${r.error.message}` };
  if (r.status !== 0) return { error: `cc failed (needs libssl-dev): ${r.stderr.trim().slice(0, 400)}` };
  return { path: out };
}

export const OPENSSL_GROUP: Record<Group, string> = { x25519: 'X25519', 'P-256': 'P-256' };
/**
 * The groups a client offers for a case. OpenSSL (TLS 1.2 rules) accepts an ECDSA certificate only when the
 * client lists the certificate's curve, P-256, in supported_groups; so for X25519 every client offers
 * X25519 first and P-256 second, and servers allow only the group under test.
 */
export function clientGroups(g: Group): Group[] {
  return g === 'x25519' ? ['x25519', 'P-256'] : ['P-256'];
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function udpPortBound(port: number): boolean {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return readFileSync('/proc/net/udp', 'utf8').includes(hex);
  } catch {
    return true;
  }
}

export interface OpensslServer {
  port: number;
  pid: number;
  cpuUs(): number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * `openssl s_server -dtls1_2 -quiet`, one group, the ECDHE-ECDSA-AES128-GCM suite, no tickets, and with
 * `clientCert` a verified client certificate required (-Verify 1). s_server does the cookie exchange for DTLS
 * and serves one client at a time. Its stdin stays open (it exits on EOF).
 */
export async function startOpensslServer(certs: CertFiles, group: Group, clientCert: boolean): Promise<OpensslServer> {
  const port = await freeUdpPort();
  const args = [
    's_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`, '-quiet', '-no_ticket',
    '-cert', certs.serverCert, '-key', certs.serverKey, '-CAfile', certs.ca,
    // P-256 stays in s_server's list for X25519: OpenSSL accepts an ECDSA client certificate only on a curve in
    // its own group list. The key exchange still uses X25519, the client's first choice (no -serverpref).
    '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256', '-groups', group === 'x25519' ? 'X25519:P-256' : 'P-256',
    ...(clientCert ? ['-Verify', '1'] : []),
  ];
  const proc: ChildProcess = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-4000);
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-4000);
  });
  proc.stdin?.on('error', () => undefined);
  let exited = false;
  const done = new Promise<void>((r) => proc.on('exit', () => {
    exited = true;
    r();
  }));
  const t0 = Date.now();
  while (!udpPortBound(port)) {
    if (exited || Date.now() - t0 > 5000) {
      proc.kill('SIGKILL');
      throw new Error(`openssl s_server did not start: ${out.trim().slice(0, 400)}`);
    }
    await sleep(20);
  }
  const pid = proc.pid!;
  return {
    port,
    pid,
    cpuUs: () => processCpuUs(pid),
    output: () => out,
    stop: async () => {
      if (!exited) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 2000);
      await done;
      clearTimeout(t);
    },
  };
}

export interface CClientRun {
  count: number;
  errors: number;
  wallMs: number;
  cpuUs: number;
  stderr: string;
}

/** Runs the C client for `durationMs` (sequential full handshakes). */
export function runOpensslClient(bin: string, certs: CertFiles, port: number, group: Group, clientCert: boolean, durationMs: number): Promise<CClientRun> {
  const groups = clientGroups(group).map((g) => OPENSSL_GROUP[g]).join(':');
  const args = ['127.0.0.1', String(port), String(Math.round(durationMs)), certs.ca, groups, ...(clientCert ? [certs.clientCert, certs.clientKey] : [])];
  return new Promise<CClientRun>((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const timer = setTimeout(() => p.kill('SIGKILL'), durationMs + 15_000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      try {
        const j = JSON.parse(out.trim()) as Omit<CClientRun, 'stderr'>;
        resolve({ ...j, stderr: err });
      } catch {
        reject(new Error(`dtls-hs-client exited ${code}: ${err.trim().slice(0, 400)}`));
      }
    });
  });
}
