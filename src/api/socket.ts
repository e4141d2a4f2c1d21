/**
 * DtlsSocket: the Node-facing side of one DTLS connection (client or server side). It is the driver of a sans-IO
 * Connection: after every input it drains the connection's datagrams to the UDP transport, its events to
 * listeners, and re-arms one unref'd timer at the connection's next deadline.
 *
 * Events: 'secureConnect' (handshake done), 'message' (Buffer), 'error' (DtlsError), 'close', and 'keylog'
 * (an NSS key log line for Wireshark; also appended to $SSLKEYLOGFILE when set).
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Connection } from '../core/connection.js';
import type { ConnectionStats } from '../core/stats.js';
import { ApiMisuseError, DtlsError } from '../errors.js';
import type { HandshakeResult } from '../handshake/result.js';
import type { PeerCertificate } from '../pki/verifier.js';
import { closedChannel, debug, handshakeChannel, keyLogFile, keyLogLine, writeKeyLogFile } from './diagnostics.js';

/** Where the socket's datagrams go: a dgram socket (connected or not) or the server's shared socket. */
export interface DatagramTransport {
  send(datagram: Uint8Array, done: (error: Error | null) => void): void;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: string;
  localAddress(): { address: string; family: string; port: number };
}

export interface DetailedPeerCertificate {
  subject: string;
  issuer: string;
  subjectaltname: string | undefined;
  valid_from: string;
  valid_to: string;
  fingerprint256: string;
  serialNumber: string;
  raw: Buffer;
  /** The rest of the verified chain, leaf's issuer first. */
  issuerCertificates: Omit<DetailedPeerCertificate, 'issuerCertificates'>[];
}

export interface CipherInfo {
  name: string;
  standardName: string;
  version: string;
}

/** Messages queued by send() before the handshake completes (then sent in order). */
const MAX_EARLY_MESSAGES = 256;

export function monotonicNow(): number {
  return performance.now();
}

/**
 * A received datagram as a plain Uint8Array over the same memory, for the core, which takes views of it (record
 * fragment, ciphertext, tag) and copies what it keeps with slice(). On a Buffer (what dgram delivers, and what
 * callers of handleDatagram usually pass) a view is made by Buffer's own subarray, a JavaScript function that
 * builds another Buffer, three or four times per record; and Buffer's slice() makes a view, not the copy the
 * core means (a caller that reuses its receive buffer would see deferred records change).
 */
export function datagramView(msg: Uint8Array): Uint8Array {
  if (!(msg instanceof Uint8Array)) throw new ApiMisuseError('ERR_DTLS_INVALID_ARGUMENT', 'handleDatagram() takes a Buffer or Uint8Array');
  return new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
}

export class DtlsSocket extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | undefined;
  private early: { data: Uint8Array; cb: ((err: Error | null) => void) | undefined }[] = [];
  private closedEmitted = false;
  private closeWaiters: (() => void)[] = [];
  private inflight = 0;
  private pumping = false;
  /** Called once when the connection is over (the server forgets the peer, the client closes its dgram socket). */
  onFinished: (() => void) | undefined;
  /** Where errors go when nobody listens for 'error' (the server's 'clientError'), instead of throwing. */
  onUnhandledError: ((error: DtlsError) => void) | undefined;

  constructor(
    readonly connection: Connection,
    private readonly transport: DatagramTransport,
  ) {
    super();
  }

  // ------------------------------------------------------------------ driver

  /** Feeds one datagram from the peer. */
  handleDatagram(datagram: Uint8Array): void {
    this.connection.handleDatagram(monotonicNow(), datagramView(datagram));
    this.pump();
  }

  /** Drains datagrams and events and re-arms the timer. Safe to call re-entrantly. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const conn = this.connection;
      for (;;) {
        let progressed = false;
        for (let d = conn.pollTransmit(); d !== undefined; d = conn.pollTransmit()) {
          progressed = true;
          this.inflight++;
          this.transport.send(d, (err) => {
            this.inflight--;
            if (err) this.emit('warning', err);
            if (this.inflight === 0 && this.closeWaiters.length > 0 && conn.isClosed) this.flushCloseWaiters();
          });
        }
        for (let e = conn.pollEvent(); e !== undefined; e = conn.pollEvent()) {
          progressed = true;
          if (e.type === 'connected') this.onConnected(e.result);
          else if (e.type === 'data') this.emit('message', Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
          else this.onClosed(e.error);
        }
        if (!progressed) break;
      }
      this.armTimer();
      // Everything is out: make the next records' cipher objects now, off their path (see prepareNextRecords).
      if (conn.isConnected) conn.prepareNextRecords();
    } finally {
      this.pumping = false;
    }
  }

  private armTimer(): void {
    const at = this.connection.isClosed ? undefined : this.connection.pollTimeout();
    if (at === this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === undefined) return;
    const delay = Math.max(0, Math.ceil(at - monotonicNow()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.connection.handleTimeout(monotonicNow());
      this.pump();
    }, delay);
    this.timer.unref();
  }

  private onConnected(result: HandshakeResult): void {
    // The key log line holds the master secret in hex: built only when someone asked for it.
    const file = keyLogFile();
    const listening = this.listenerCount('keylog') > 0;
    if (file !== undefined || listening) {
      const line = keyLogLine(result);
      if (file !== undefined) writeKeyLogFile(file, line);
      if (listening) this.emit('keylog', line);
    }
    if (debug.enabled) debug('%s:%d handshake complete: %s %s', this.remoteAddress, this.remotePort, result.protocol, result.suite.name);
    if (handshakeChannel.hasSubscribers) handshakeChannel.publish({ socket: this, result });
    this.emit('secureConnect', result);
    const early = this.early;
    this.early = [];
    for (const m of early) this.send(m.data, m.cb);
  }

  private onClosed(error: DtlsError | undefined): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
    const early = this.early;
    this.early = [];
    if (early.length > 0) {
      // Built only when someone waits for it: an Error's stack capture costs tens of µs on every close.
      const notSent = error ?? new ApiMisuseError('ERR_DTLS_NOT_CONNECTED', 'connection closed before the message was sent');
      for (const m of early) m.cb?.(notSent);
    }
    if (debug.enabled) debug('%s:%d closed%s', this.remoteAddress, this.remotePort, error === undefined ? '' : `: ${error.code} ${error.message}`);
    if (closedChannel.hasSubscribers) closedChannel.publish({ socket: this, error });
    if (error !== undefined) this.emitError(error);
    if (this.inflight === 0) this.flushCloseWaiters();
    if (!this.closedEmitted) {
      this.closedEmitted = true;
      this.onFinished?.();
      this.emit('close', error !== undefined);
    }
  }

  private flushCloseWaiters(): void {
    const w = this.closeWaiters;
    this.closeWaiters = [];
    for (const f of w) f();
  }

  // ------------------------------------------------------------------ public API

  /**
   * Sends one message as one DTLS record. Before the handshake completes, messages are queued and sent once it
   * does. `cb` runs when the datagram has been handed to the operating system (or with the error).
   */
  send(data: string | Uint8Array, cb?: (err: Error | null) => void): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (!(bytes instanceof Uint8Array)) throw new ApiMisuseError('ERR_DTLS_INVALID_ARGUMENT', 'send() takes a string, Buffer or Uint8Array');
    const conn = this.connection;
    if (conn.isClosed) throw new ApiMisuseError('ERR_DTLS_NOT_CONNECTED', 'connection is closed');
    if (!conn.isConnected) {
      if (this.early.length >= MAX_EARLY_MESSAGES) {
        throw new ApiMisuseError('ERR_DTLS_QUEUE_FULL', `more than ${MAX_EARLY_MESSAGES} messages queued before the handshake completed`);
      }
      this.early.push({ data: bytes, cb });
      return;
    }
    conn.send(bytes);
    const d = conn.pollTransmit();
    if (d !== undefined) {
      this.inflight++;
      this.transport.send(d, (err) => {
        this.inflight--;
        cb?.(err);
      });
    } else cb?.(null);
    this.pump();
  }

  /** Sends close_notify and closes. Idempotent; returns a Promise when no callback is given. */
  close(cb?: () => void): Promise<void> | undefined {
    const p = new Promise<void>((resolve) => {
      if (this.closedEmitted && this.inflight === 0) {
        resolve();
        return;
      }
      this.closeWaiters.push(resolve);
      this.connection.close();
      this.pump();
    });
    if (cb !== undefined) {
      void p.then(cb);
      return undefined;
    }
    return p;
  }

  /** Closes with an error (abort). */
  destroy(error?: DtlsError): void {
    if (this.connection.isClosed) return;
    this.connection.close();
    this.pump();
    if (error !== undefined) this.emitError(error);
  }

  private emitError(error: DtlsError): void {
    if (this.listenerCount('error') === 0 && this.onUnhandledError !== undefined) this.onUnhandledError(error);
    else this.emit('error', error);
  }

  get connected(): boolean {
    return this.connection.isConnected;
  }

  getProtocol(): string | null {
    return this.connection.handshakeResult?.protocol ?? null;
  }

  getCipher(): CipherInfo | undefined {
    const r = this.connection.handshakeResult;
    if (r === undefined) return undefined;
    return { name: r.suite.name, standardName: r.suite.name, version: r.protocol };
  }

  /** The ALPN protocol agreed on, or false. */
  get alpnProtocol(): string | false {
    return this.connection.handshakeResult?.alpnProtocol ?? false;
  }

  /** Whether the peer's certificate was verified against the trusted CAs. */
  get authorized(): boolean {
    return this.connection.handshakeResult?.peer?.authorized ?? false;
  }

  get authorizationError(): Error | undefined {
    return this.connection.handshakeResult?.peer?.authorizationError;
  }

  /** The peer's certificate as node:tls describes it; an empty object when the peer sent none. */
  getPeerCertificate(): DetailedPeerCertificate | Record<string, never> {
    const peer = this.connection.handshakeResult?.peer;
    if (peer === undefined) return {};
    const describe = (c: PeerCertificate): Omit<DetailedPeerCertificate, 'issuerCertificates'> => ({
      subject: c.subject,
      issuer: c.issuer,
      subjectaltname: c.subjectAltName,
      valid_from: c.validFrom,
      valid_to: c.validTo,
      fingerprint256: c.fingerprint256,
      serialNumber: c.serialNumber,
      raw: Buffer.from(c.raw),
    });
    return { ...describe(peer.leaf), issuerCertificates: peer.chain.slice(1).map(describe) };
  }

  /** RFC 5705 exporter, with node:tls's argument order. */
  exportKeyingMaterial(length: number, label: string, context?: Uint8Array): Buffer {
    const out = this.connection.exportKeyingMaterial(label, length, context);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }

  getStats(): ConnectionStats {
    return this.connection.stats;
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }

  get remotePort(): number {
    return this.transport.remotePort;
  }

  get remoteFamily(): string {
    return this.transport.remoteFamily;
  }

  address(): { address: string; family: string; port: number } {
    return this.transport.localAddress();
  }

  /** Iterates over received messages until the connection closes. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const queue: Buffer[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: unknown;
    const onMessage = (m: Buffer): void => {
      queue.push(m);
      wake?.();
    };
    const onClose = (): void => {
      done = true;
      wake?.();
    };
    const onError = (e: unknown): void => {
      failure = e;
    };
    this.on('message', onMessage);
    this.on('close', onClose);
    this.on('error', onError);
    try {
      for (;;) {
        const m = queue.shift();
        if (m !== undefined) {
          yield m;
          continue;
        }
        if (done || this.connection.isClosed) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      if (failure !== undefined) throw failure;
    } finally {
      this.off('message', onMessage);
      this.off('close', onClose);
      this.off('error', onError);
    }
  }
}
