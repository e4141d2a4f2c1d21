/**
 * The `dtls` command as a user runs it: certs, server and client as child processes on loopback, with the
 * classic OpenSSL DTLS example's behaviour (seed: server loads certs/server-*.pem, checks key and certificate,
 * cookie exchange, requires a client certificate, acknowledges every message; client sends stdin lines and
 * prints the acknowledgements).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, copyFileSync, mkdirSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let work: string;
const children: ChildProcess[] = [];

function run(args: string[], input = '', cwd = work, timeout = 15_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, input, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface RunningServer {
  port: number;
  proc: ChildProcess;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

async function startServer(args: string[], cwd = work): Promise<RunningServer> {
  const proc = spawn(process.execPath, [CLI, 'server', '--host', '127.0.0.1', '--port', '0', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 10_000);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
  return {
    port,
    proc,
    stderr: () => err,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill('SIGINT');
      }),
  };
}

function runClient(args: string[], input: string, cwd = work): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, 'client', ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    proc.stdin!.end(input);
  });
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'dtls-cli-'));
  const r = run(['certs']);
  assert.equal(r.code, 0, r.stderr);
});

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

test('dtls certs writes the classic file names, keys private, and refuses to overwrite', () => {
  for (const f of ['ca-cert.pem', 'ca-key.pem', 'server-cert.pem', 'server-key.pem', 'client-cert.pem', 'client-key.pem']) {
    assert.ok(existsSync(join(work, 'certs', f)), f);
  }
  assert.equal(statSync(join(work, 'certs', 'server-key.pem')).mode & 0o077, 0);
  const again = run(['certs']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already exists/);
  assert.equal(again.stderr.trim().split('\n').length, 1, 'one clear line');
  const verify = spawnSync('openssl', ['verify', '-CAfile', 'certs/ca-cert.pem', 'certs/server-cert.pem', 'certs/client-cert.pem'], { cwd: work, encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stderr);
});

test('server + client: every line is acknowledged unchanged, stdout carries only the acknowledgements', async () => {
  const server = await startServer([]);
  try {
    const lines = ['hello', 'world', '', 'ünïcødé ✓', 'x'.repeat(1000)];
    const r = await runClient(['127.0.0.1', '--port', String(server.port)], `${lines.join('\n')}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${lines.join('\n')}\n`);
    assert.match(r.stderr, /DTLSv1\.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256/);
    await new Promise((res) => setTimeout(res, 100));
    assert.match(server.stderr(), /handshake with 127\.0\.0\.1:\d+: DTLSv1\.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 client certificate CN=dtls-client/);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('server serves several clients concurrently (cookie exchange each time)', async () => {
  const server = await startServer([]);
  try {
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) => runClient(['localhost', '--port', String(server.port)], `client ${i} line 1\nclient ${i} line 2\n`)),
    );
    results.forEach((r, i) => {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `client ${i} line 1\nclient ${i} line 2\n`);
    });
  } finally {
    await server.stop();
  }
});

test('--cipher and --mtu: a chosen suite at a small MTU (fragmented certificates)', async () => {
  const server = await startServer(['--cipher', 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', '--mtu', '256']);
  try {
    const r = await runClient(['127.0.0.1', '--port', String(server.port), '--mtu', '256'], 'small mtu\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'small mtu\n');
    assert.match(r.stderr, /TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8/);
  } finally {
    await server.stop();
  }
});

test('RSA certificates (dtls certs --rsa) and IPv6 loopback', async () => {
  const rsaDir = join(work, 'rsa');
  assert.equal(run(['certs', rsaDir, '--rsa']).code, 0);
  const server = await startServer(['--certs', rsaDir, '--host', '::1']);
  try {
    const r = await runClient(['::1', '--port', String(server.port), '--certs', rsaDir], 'over ipv6\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'over ipv6\n');
    assert.match(r.stderr, /TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256/);
  } finally {
    await server.stop();
  }
});

test('a client certificate from an unknown CA is refused by the server (client certificate verified)', async () => {
  const server = await startServer([]);
  try {
    // A client certificate from another CA: the server must reject it.
    const other = join(work, 'other');
    assert.equal(run(['certs', other]).code, 0);
    const r = await runClient(['127.0.0.1', '--port', String(server.port), '--cert', join(other, 'client-cert.pem'), '--key', join(other, 'client-key.pem'), '--ca', 'certs/ca-cert.pem'], 'nope\n');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /handshake failed: ERR_DTLS_ALERT_RECEIVED: .*unknown_ca/);
    await new Promise((res) => setTimeout(res, 100));
    assert.match(server.stderr(), /failed: ERR_DTLS_UNKNOWN_CA/);
  } finally {
    await server.stop();
  }
});

test('the client verifies the server: wrong name or unknown CA fail with exit code 1 and a reason', async () => {
  const server = await startServer([]);
  try {
    const wrongName = await runClient(['127.0.0.1', '--port', String(server.port), '--servername', 'example.com'], 'x\n');
    assert.equal(wrongName.code, 1);
    assert.match(wrongName.stderr, /ERR_DTLS_HOSTNAME_MISMATCH/);
    const other = join(work, 'other2');
    assert.equal(run(['certs', other]).code, 0);
    const wrongCa = await runClient(['127.0.0.1', '--port', String(server.port), '--cert', 'certs/client-cert.pem', '--key', 'certs/client-key.pem', '--ca', join(other, 'ca-cert.pem')], 'x\n');
    assert.equal(wrongCa.code, 1);
    assert.match(wrongCa.stderr, /ERR_DTLS_UNKNOWN_CA/);
  } finally {
    await server.stop();
  }
});

test('missing files and a key that does not match give one clear line naming the file, non-zero exit', () => {
  const empty = mkdtempSync(join(tmpdir(), 'dtls-empty-'));
  try {
    const r = run(['server'], '', empty);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /certs\/server-cert\.pem/);
    mkdirSync(join(empty, 'certs'));
    copyFileSync(join(work, 'certs', 'server-cert.pem'), join(empty, 'certs', 'server-cert.pem'));
    copyFileSync(join(work, 'certs', 'client-key.pem'), join(empty, 'certs', 'server-key.pem'));
    copyFileSync(join(work, 'certs', 'ca-cert.pem'), join(empty, 'certs', 'ca-cert.pem'));
    const mismatch = run(['server'], '', empty);
    assert.equal(mismatch.code, 1);
    assert.equal(mismatch.stderr.trim().split('\n').length, 1);
    assert.match(mismatch.stderr, /certs\/server-key\.pem does not match the certificate in certs\/server-cert\.pem/);
    const client = run(['client', '127.0.0.1'], '', empty);
    assert.equal(client.code, 1);
    assert.match(client.stderr, /certs\/client-cert\.pem/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('nothing listening: the client fails fast with a reason', async () => {
  const r = await runClient(['127.0.0.1', '--port', '9'], 'x\n');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ERR_DTLS_UNREACHABLE|ERR_DTLS_HANDSHAKE_TIMEOUT/);
});

test('--help on every command; bad arguments are usage errors (exit 2)', () => {
  for (const args of [['--help'], ['certs', '--help'], ['server', '--help'], ['client', '--help']]) {
    const r = run(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Usage: dtls/);
  }
  assert.equal(run(['server', '--port', 'abc']).code, 2);
  assert.equal(run(['client']).code, 2);
  assert.equal(run(['server', '--bogus']).code, 2);
  assert.equal(run(['frobnicate']).code, 2);
  const badCipher = run(['server', '--cipher', 'TLS_RSA_WITH_RC4_128_MD5']);
  assert.equal(badCipher.code, 2);
  assert.match(badCipher.stderr, /unknown suite/);
});
