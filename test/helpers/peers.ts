/**
 * Real interop peers for the tests in test/interop: `openssl s_server` / `s_client` (-dtls1_2) and
 * `gnutls-serv` / `gnutls-cli` (-u), started on 127.0.0.1 with the certificates from test/helpers/certs.ts.
 *
 * Every peer is a child process with piped stdin/stdout/stderr. Output is collected; `waitFor` resolves when a
 * pattern shows up (or rejects on timeout / early exit with the output so far in the message); `kill` ends the
 * process (SIGTERM, then SIGKILL) and resolves once it has exited. Peers still alive when the test process exits
 * are SIGKILLed.
 *
 * The openssl and gnutls programs keep running while their stdin is open (they exit on EOF), so stdin stays open
 * until `endStdin()` or `kill()`.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import dgram from 'node:dgram';
import { join } from 'node:path';
import type { CertSet } from './certs.js';

const live = new Set<ChildProcessWithoutNullStreams>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) {
      try {
        p.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class PeerProcess {
  readonly proc: ChildProcessWithoutNullStreams;
  /** Everything written to stdout so far. */
  stdout = '';
  /** Everything written to stderr so far. */
  stderr = '';
  /** stdout and stderr interleaved in arrival order. */
  output = '';
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  exitStatus: ExitStatus | undefined;
  private waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: readonly string[],
    cwd?: string,
  ) {
    installExitHook();
    this.proc = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this.proc);
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.setEncoding('utf8');
    this.proc.stdout.on('data', (s: string) => {
      this.stdout += s;
      this.output += s;
      this.wake();
    });
    this.proc.stderr.on('data', (s: string) => {
      this.stderr += s;
      this.output += s;
      this.wake();
    });
    // Writing to a peer that already exited gives EPIPE; the test sees the exit through its assertions instead.
    this.proc.stdin.on('error', () => undefined);
    this.exited = new Promise<ExitStatus>((resolve) => {
      this.proc.on('error', (err) => {
        this.output += `\n[spawn error: ${err.message}]\n`;
        this.exitStatus ??= { code: -1, signal: null };
        live.delete(this.proc);
        this.wake();
        resolve(this.exitStatus);
      });
      this.proc.on('close', (code, signal) => {
        this.exitStatus ??= { code, signal };
        live.delete(this.proc);
        this.wake();
        resolve(this.exitStatus);
      });
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  get commandLine(): string {
    return [this.command, ...this.args].join(' ');
  }

  /** A description with the command line and all output so far, for assertion messages. */
  describe(): string {
    const status = this.exitStatus === undefined ? 'running' : `exited code=${this.exitStatus.code} signal=${this.exitStatus.signal}`;
    return `--- ${this.name} (${status}): ${this.commandLine}\n${this.output}\n--- end of ${this.name} output`;
  }

  /**
   * Resolves with the first match of `pattern` in the output (stdout and stderr, or only `stream`). Rejects after
   * `timeoutMs`, or when the process exits without the pattern having appeared.
   */
  waitFor(pattern: RegExp | string, timeoutMs = 10_000, stream: 'output' | 'stdout' | 'stderr' = 'output'): Promise<RegExpMatchArray> {
    const re = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
    return new Promise<RegExpMatchArray>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void): void => {
        this.waiters.delete(check);
        if (timer !== undefined) clearTimeout(timer);
        fn();
      };
      const check = (): void => {
        const m = this[stream].match(re);
        if (m !== null) return finish(() => resolve(m));
        if (this.exitStatus !== undefined) {
          finish(() => reject(new Error(`${this.name} exited before printing ${re}\n${this.describe()}`)));
        }
      };
      timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} from ${this.name}\n${this.describe()}`))), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Writes to the peer's stdin (kept open). */
  write(text: string): void {
    this.proc.stdin.write(text);
  }

  /** Closes the peer's stdin: openssl and gnutls tools then send close_notify and exit. */
  endStdin(): void {
    this.proc.stdin.end();
  }

  /** Waits for the process to exit on its own for up to `timeoutMs`; returns its status or undefined. */
  async waitExit(timeoutMs: number): Promise<ExitStatus | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
    try {
      return await Promise.race([this.exited, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Safe to call more than once. */
  async kill(graceMs = 1000): Promise<ExitStatus> {
    if (this.exitStatus !== undefined) return this.exitStatus;
    this.proc.stdin.destroy();
    this.proc.kill('SIGTERM');
    if ((await this.waitExit(graceMs)) === undefined) {
      this.proc.kill('SIGKILL');
    }
    return this.exited;
  }
}

/** Kills every peer given (ignoring undefined), in parallel. For finally blocks. */
export async function killAll(...peers: (PeerProcess | undefined)[]): Promise<void> {
  await Promise.all(peers.filter((p): p is PeerProcess => p !== undefined).map((p) => p.kill()));
}

/** A UDP port that was free on 127.0.0.1 a moment ago (for tools that cannot report the port they bound). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function files(certs: CertSet) {
  return {
    ca: join(certs.dir, 'ca-cert.pem'),
    serverCert: join(certs.dir, 'server-cert.pem'),
    serverKey: join(certs.dir, 'server-key.pem'),
    clientCert: join(certs.dir, 'client-cert.pem'),
    clientKey: join(certs.dir, 'client-key.pem'),
  };
}

// ---------------------------------------------------------------------------------------------------- OpenSSL

let opensslChecked: string | undefined;

/** `openssl version`, or undefined when the openssl command is missing. */
export function opensslVersion(): string | undefined {
  if (opensslChecked === undefined) {
    const r = spawnSync('openssl', ['version'], { encoding: 'utf8', timeout: 5000 });
    opensslChecked = r.status === 0 ? r.stdout.trim() : '';
  }
  return opensslChecked || undefined;
}

/** Throws a clear error when the openssl command is missing (the interop tests must not skip silently). */
export function requireOpenssl(): void {
  if (opensslVersion() === undefined) {
    throw new Error('openssl not found: the OpenSSL interop tests need the openssl command (Debian/Ubuntu package openssl).');
  }
}

/** IANA suite name → OpenSSL name (as s_server/s_client print and take them). */
export const OPENSSL_CIPHER_NAMES: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM: 'ECDHE-ECDSA-AES128-CCM',
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: 'ECDHE-ECDSA-AES128-CCM8',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
};

export function opensslCipherName(iana: string): string {
  const n = OPENSSL_CIPHER_NAMES[iana];
  if (n === undefined) throw new Error(`no OpenSSL name known for ${iana}`);
  return n;
}

/**
 * An OpenSSL cipher string selecting exactly these suites. Naming a suite is what makes OpenSSL 3 offer the CCM
 * and CCM_8 suites (its DEFAULT list leaves them out); that alone works with OpenSSL 3.0.19. `@SECLEVEL=0` is
 * added so that no security-level policy of another build (CCM_8 has a 64-bit tag) can drop the suite under test.
 */
export function opensslCipherString(ianaSuites: readonly string[]): string {
  return `${ianaSuites.map(opensslCipherName).join(':')}:@SECLEVEL=0`;
}

export interface OpensslServerOptions {
  certs: CertSet;
  /** Require a client certificate (-Verify 1) verified against the CA. Default true. */
  requireClientCert?: boolean;
  /** IANA suite names to allow (default: OpenSSL's defaults). */
  ciphers?: readonly string[];
  /** OpenSSL group names (X25519, P-256, P-384). */
  groups?: readonly string[];
  mtu?: number;
  extraArgs?: readonly string[];
}

/** `openssl s_server -dtls1_2` on 127.0.0.1, a random port, one connection (-naccept 1). */
export async function startOpensslServer(o: OpensslServerOptions): Promise<{ peer: PeerProcess; port: number }> {
  requireOpenssl();
  const f = files(o.certs);
  const args = ['s_server', '-dtls1_2', '-accept', '127.0.0.1:0', '-naccept', '1', '-cert', f.serverCert, '-key', f.serverKey, '-CAfile', f.ca];
  if (o.requireClientCert ?? true) args.push('-Verify', '1');
  if (o.ciphers !== undefined) args.push('-cipher', opensslCipherString(o.ciphers));
  if (o.groups !== undefined) args.push('-groups', o.groups.join(':'));
  if (o.mtu !== undefined) args.push('-mtu', String(o.mtu));
  args.push(...(o.extraArgs ?? []));
  const peer = new PeerProcess('openssl s_server', 'openssl', args, o.certs.dir);
  try {
    const m = await peer.waitFor(/^ACCEPT 127\.0\.0\.1:(\d+)$/m, 10_000);
    return { peer, port: Number(m[1]) };
  } catch (e) {
    await peer.kill();
    throw e;
  }
}

export interface OpensslClientOptions {
  certs: CertSet;
  port: number;
  /** Present the client certificate. Default true. */
  clientCert?: boolean;
  ciphers?: readonly string[];
  groups?: readonly string[];
  mtu?: number;
  extraArgs?: readonly string[];
}

/** `openssl s_client -dtls1_2` to 127.0.0.1:port with SNI localhost, verifying the server against the CA for that name. */
export function startOpensslClient(o: OpensslClientOptions): PeerProcess {
  requireOpenssl();
  const f = files(o.certs);
  const args = ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${o.port}`, '-servername', 'localhost', '-CAfile', f.ca, '-verify_hostname', 'localhost', '-verify_return_error'];
  if (o.clientCert ?? true) args.push('-cert', f.clientCert, '-key', f.clientKey);
  if (o.ciphers !== undefined) args.push('-cipher', opensslCipherString(o.ciphers));
  if (o.groups !== undefined) args.push('-groups', o.groups.join(':'));
  if (o.mtu !== undefined) args.push('-mtu', String(o.mtu));
  args.push(...(o.extraArgs ?? []));
  return new PeerProcess('openssl s_client', 'openssl', args, o.certs.dir);
}

// ---------------------------------------------------------------------------------------------------- GnuTLS

let gnutlsChecked: string | undefined;

/** The version line of gnutls-serv, or undefined when gnutls-serv / gnutls-cli are not installed. */
export function gnutlsVersion(): string | undefined {
  if (gnutlsChecked !== undefined) return gnutlsChecked || undefined;
  const serv = spawnSync('gnutls-serv', ['--version'], { encoding: 'utf8', timeout: 5000 });
  const cli = spawnSync('gnutls-cli', ['--version'], { encoding: 'utf8', timeout: 5000 });
  gnutlsChecked = serv.status === 0 && cli.status === 0 ? (serv.stdout.split('\n')[0] ?? 'gnutls') : '';
  return gnutlsChecked || undefined;
}

export function gnutlsAvailable(): boolean {
  return gnutlsVersion() !== undefined;
}

/** Throws a clear error when GnuTLS's tools are missing (the interop tests must not skip silently). */
export function requireGnutls(): void {
  if (!gnutlsAvailable()) {
    throw new Error(
      'gnutls-serv / gnutls-cli not found: the GnuTLS interop tests need them. Install the Debian/Ubuntu package gnutls-bin ' +
        '(apt-get install -y gnutls-bin).',
    );
  }
}

/** IANA suite name → the GnuTLS priority items (cipher, key exchange) selecting it. */
export const GNUTLS_SUITES: Readonly<Record<string, { cipher: string; kx: string }>> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: { cipher: 'AES-128-GCM', kx: 'ECDHE-ECDSA' },
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: { cipher: 'AES-256-GCM', kx: 'ECDHE-ECDSA' },
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: { cipher: 'CHACHA20-POLY1305', kx: 'ECDHE-ECDSA' },
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM: { cipher: 'AES-128-CCM', kx: 'ECDHE-ECDSA' },
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: { cipher: 'AES-128-CCM-8', kx: 'ECDHE-ECDSA' },
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: { cipher: 'AES-128-GCM', kx: 'ECDHE-RSA' },
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: { cipher: 'AES-256-GCM', kx: 'ECDHE-RSA' },
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: { cipher: 'CHACHA20-POLY1305', kx: 'ECDHE-RSA' },
};

/** GnuTLS group names for our group names. */
export const GNUTLS_GROUPS: Readonly<Record<string, string>> = { x25519: 'GROUP-X25519', 'P-256': 'GROUP-SECP256R1', 'P-384': 'GROUP-SECP384R1' };

/** A priority string allowing only DTLS 1.2, the given suite and (optionally) the given group. */
export function gnutlsPriority(ianaSuite?: string, group?: string, role: 'server' | 'client' = 'server'): string {
  let p = 'NORMAL:-VERS-ALL:+VERS-DTLS1.2';
  if (ianaSuite !== undefined) {
    const s = GNUTLS_SUITES[ianaSuite];
    if (s === undefined) throw new Error(`no GnuTLS priority known for ${ianaSuite}`);
    p += `:-CIPHER-ALL:+${s.cipher}:-KX-ALL:+${s.kx}`;
    // GnuTLS's NORMAL leaves out the CCM-8 suites (64-bit tag); asking for the cipher is enough to enable them.
  }
  if (group !== undefined) {
    const g = GNUTLS_GROUPS[group];
    if (g === undefined) throw new Error(`no GnuTLS group known for ${group}`);
    // Our certificates are P-256: RFC 8422 §5.1.1 has a (D)TLS 1.2 server refuse ECDSA when the client's groups
    // lack its certificate's curve, so a client keeps P-256 allowed after the group under test.
    p += `:-GROUP-ALL:+${g}${role === 'client' && g !== 'GROUP-SECP256R1' ? ':+GROUP-SECP256R1' : ''}`;
  }
  return p;
}

export interface GnutlsServerOptions {
  certs: CertSet;
  /** --require-client-cert --verify-client-cert (against the CA). Default true. */
  requireClientCert?: boolean;
  /** IANA suite name to allow (default: GnuTLS's NORMAL for DTLS 1.2). */
  suite?: string;
  group?: string;
  mtu?: number;
  /** A whole --priority string instead of the one built from suite and group. */
  priority?: string;
  extraArgs?: readonly string[];
}

/** `gnutls-serv -u --echo` on a free port (it binds 0.0.0.0 and ::). */
export async function startGnutlsServer(o: GnutlsServerOptions): Promise<{ peer: PeerProcess; port: number }> {
  requireGnutls();
  const f = files(o.certs);
  // gnutls-serv cannot report the port it bound, so pick a free one; retry if someone took it meanwhile.
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort();
    const args = ['-u', '--echo', '-p', String(port), '--x509cafile', f.ca, '--x509certfile', f.serverCert, '--x509keyfile', f.serverKey];
    // --require-client-cert alone does not verify the certificate (gnutls-serv 3.7); --verify-client-cert does.
    if (o.requireClientCert ?? true) args.push('--require-client-cert', '--verify-client-cert');
    else args.push('--disable-client-cert');
    args.push('--priority', o.priority ?? gnutlsPriority(o.suite, o.group));
    if (o.mtu !== undefined) args.push('--mtu', String(o.mtu));
    args.push(...(o.extraArgs ?? []));
    const peer = new PeerProcess('gnutls-serv', 'gnutls-serv', args, o.certs.dir);
    let m: RegExpMatchArray;
    try {
      // "...done" once bound; on a taken port it prints "...bind() failed: Address already in use" and goes on.
      m = await peer.waitFor(/listening on IPv4 0\.0\.0\.0 port \d+\.\.\.(done|[^\n]*failed)/, 10_000);
    } catch (e) {
      await peer.kill();
      throw e;
    }
    if (m[1] === 'done') return { peer, port };
    await peer.kill();
    if (attempt >= 4) throw new Error(`gnutls-serv could not bind a free port\n${peer.describe()}`);
  }
}

export interface GnutlsClientOptions {
  certs: CertSet;
  port: number;
  /** Present the client certificate. Default true. */
  clientCert?: boolean;
  suite?: string;
  group?: string;
  mtu?: number;
  /** A whole --priority string instead of the one built from suite and group. */
  priority?: string;
  extraArgs?: readonly string[];
}

/** `gnutls-cli -u` to localhost:port (server certificate verified against the CA for the name localhost). */
export function startGnutlsClient(o: GnutlsClientOptions): PeerProcess {
  requireGnutls();
  const f = files(o.certs);
  const args = ['-u', '-p', String(o.port), '--x509cafile', f.ca, '--priority', o.priority ?? gnutlsPriority(o.suite, o.group, 'client')];
  if (o.clientCert ?? true) args.push('--x509certfile', f.clientCert, '--x509keyfile', f.clientKey);
  if (o.mtu !== undefined) args.push('--mtu', String(o.mtu));
  args.push(...(o.extraArgs ?? []));
  // 127.0.0.1 to connect; the certificate check uses the name localhost (the server certificate's SAN).
  args.push('--verify-hostname', 'localhost', '127.0.0.1');
  return new PeerProcess('gnutls-cli', 'gnutls-cli', args, o.certs.dir);
}

// ---------------------------------------------------------------------------------------------------- UDP proxy

/**
 * A UDP relay on 127.0.0.1 between one client (the first address that sends to it) and `targetPort`, recording
 * the size of every datagram in each direction, so tests can check what really went over the wire (e.g. the MTU).
 */
export class UdpRecorder {
  readonly toServer: number[] = [];
  readonly toClient: number[] = [];
  private readonly front = dgram.createSocket('udp4');
  private readonly back = dgram.createSocket('udp4');
  private client: { address: string; port: number } | undefined;

  private constructor(private readonly targetPort: number) {
    this.front.on('message', (msg, rinfo) => {
      this.client ??= { address: rinfo.address, port: rinfo.port };
      if (rinfo.address !== this.client.address || rinfo.port !== this.client.port) return;
      this.toServer.push(msg.length);
      this.back.send(msg, this.targetPort, '127.0.0.1');
    });
    this.back.on('message', (msg, rinfo) => {
      if (rinfo.port !== this.targetPort || this.client === undefined) return;
      this.toClient.push(msg.length);
      this.front.send(msg, this.client.port, this.client.address);
    });
    this.front.on('error', () => undefined);
    this.back.on('error', () => undefined);
  }

  static async start(targetPort: number): Promise<UdpRecorder> {
    const r = new UdpRecorder(targetPort);
    await new Promise<void>((res) => r.front.bind(0, '127.0.0.1', () => res()));
    await new Promise<void>((res) => r.back.bind(0, '127.0.0.1', () => res()));
    return r;
  }

  get port(): number {
    return this.front.address().port;
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.front, this.back].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}
