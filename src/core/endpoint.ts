/**
 * The sans-IO server endpoint (DESIGN §2): one per server socket. It routes each datagram to the connection of
 * its peer (address:port), answers cookie-less ClientHellos with a stateless HelloVerifyRequest, and creates a
 * connection only for a ClientHello whose cookie checks out (RFC 6347 §4.2.1). No per-peer state exists before
 * that. Connections are capped in total and per address; a capped peer gets silence.
 */
import { ContentType, HandshakeType, ProtocolVersion } from '../msgs/enums.js';
import { decodeHandshakeFragments, type HandshakeFragment } from '../msgs/handshake.js';
import { decodeClientHello, decodeClientHelloPrefix, type ClientHello, type ClientHelloPrefix } from '../msgs/client-hello.js';
import { encodeHelloVerifyRequest } from '../msgs/hello-verify-request.js';
import { encodeHandshakeFragment } from '../msgs/handshake.js';
import { splitDatagram } from '../record/deframer.js';
import { sealPlaintextRecord } from '../record/protection.js';
import { CookieJar } from '../handshake/cookie.js';
import type { ConnectionConfig } from './config.js';
import { Connection } from './connection.js';
import { DtlsError } from '../errors.js';

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export interface EndpointLimits {
  /** Established and handshaking connections in total. */
  readonly maxConnections: number;
  /** Connections from one IP address (any port). */
  readonly maxConnectionsPerAddress: number;
  /** Connections still handshaking. */
  readonly maxHandshaking: number;
  readonly cookieLifetimeMs: number;
  /** Whether to require the cookie exchange (RFC 6347 §4.2.1). Turning it off exposes the server to spoofing. */
  readonly cookies: boolean;
}

export const DEFAULT_ENDPOINT_LIMITS: EndpointLimits = Object.freeze({
  maxConnections: 100_000,
  maxConnectionsPerAddress: 1_000,
  maxHandshaking: 10_000,
  cookieLifetimeMs: 60_000,
  cookies: true,
});

export interface Remote {
  readonly address: string;
  readonly port: number;
}

export type EndpointResult =
  /** The datagram went to this connection (new: created by it). Poll the connection now. */
  | { readonly kind: 'connection'; readonly connection: Connection; readonly isNew: boolean; readonly replaced?: Connection }
  /** Send this datagram back to the remote; nothing was kept. */
  | { readonly kind: 'reply'; readonly datagram: Uint8Array }
  | { readonly kind: 'dropped'; readonly reason: EndpointDropReason };

export type EndpointDropReason = 'not_client_hello' | 'malformed' | 'fragmented_client_hello' | 'bad_cookie' | 'capacity';

export class EndpointStats {
  datagramsReceived = 0;
  helloVerifyRequestsSent = 0;
  connectionsAccepted = 0;
  readonly dropped: Record<EndpointDropReason, number> = {
    not_client_hello: 0,
    malformed: 0,
    fragmented_client_hello: 0,
    bad_cookie: 0,
    capacity: 0,
  };
}

export function remoteKey(r: Remote): string {
  return `${r.address}|${r.port}`;
}

export class Endpoint {
  readonly stats = new EndpointStats();
  private readonly connections = new Map<string, Connection>();
  private readonly perAddress = new Map<string, number>();
  private readonly cookies: CookieJar;

  constructor(
    private readonly makeConfig: (remote: Remote) => ConnectionConfig,
    crypto: ConnectionConfig['crypto'],
    readonly limits: EndpointLimits = DEFAULT_ENDPOINT_LIMITS,
  ) {
    this.cookies = new CookieJar(crypto, limits.cookieLifetimeMs);
  }

  get size(): number {
    return this.connections.size;
  }

  get(remote: Remote): Connection | undefined {
    return this.connections.get(remoteKey(remote));
  }

  handleDatagram(now: number, datagram: Uint8Array, remote: Remote): EndpointResult {
    this.stats.datagramsReceived++;
    const key = remoteKey(remote);
    const existing = this.connections.get(key);
    if (existing !== undefined && !existing.isClosed) {
      // A fresh ClientHello (epoch 0) with another client random is a client that restarted on the same port
      // (RFC 6347 §4.2.8), during or after a handshake: it gets a cookie exchange and, once that checks out, a
      // new connection. Anything else belongs to the existing connection.
      if (!this.looksLikeNewClientHello(existing, datagram)) {
        existing.handleDatagram(now, datagram);
        return { kind: 'connection', connection: existing, isNew: false };
      }
    }
    return this.handleNewPeer(now, datagram, remote, key);
  }

  /**
   * Content type handshake, epoch 0, handshake type client_hello, first fragment, and a client random other than
   * the one `existing` answers. Not message_seq: the restarted client's hello with the cookie has message_seq 1,
   * and a late copy of the old connection's own hello (same random) must not replace it.
   */
  private looksLikeNewClientHello(existing: Connection, d: Uint8Array): boolean {
    const RANDOM_AT = 13 + 12 + 2; // record header, handshake header, client_version
    if (!(d.length >= RANDOM_AT + 32 && d[0] === ContentType.handshake && d[3] === 0 && d[4] === 0 && d[13] === HandshakeType.client_hello)) return false;
    if (d[19] !== 0 || d[20] !== 0 || d[21] !== 0) return false; // fragment_offset 0
    const old = existing.clientHelloRandom;
    if (old === undefined) return true;
    for (let i = 0; i < 32; i++) if (d[RANDOM_AT + i] !== old[i]) return true;
    return false;
  }

  private handleNewPeer(now: number, datagram: Uint8Array, remote: Remote, key: string): EndpointResult {
    const { records } = splitDatagram(datagram);
    const rec = records[0];
    if (rec === undefined) return this.drop('malformed');
    const h = rec.header;
    if (h.contentType !== ContentType.handshake || h.epoch !== 0 || h.version >> 8 !== 0xfe) return this.drop('not_client_hello');
    let fragment: HandshakeFragment;
    let prefix: ClientHelloPrefix;
    let hello: ClientHello | undefined;
    try {
      const f = decodeHandshakeFragments(rec.fragment)[0];
      if (f === undefined || f.msgType !== HandshakeType.client_hello) return this.drop('not_client_hello');
      // Later fragments of a hello we hold no state for: the client resends the whole hello on its timer.
      if (f.fragmentOffset !== 0) return this.drop('fragmented_client_hello');
      fragment = f;
      if (f.fragmentLength === f.length) {
        hello = decodeClientHello(f.body);
        prefix = hello;
      } else {
        // A ClientHello fragmented over several datagrams (large hellos, small MTU): its first fragment carries
        // the cookie, so it is checked statelessly like a whole one.
        prefix = decodeClientHelloPrefix(f.body);
      }
    } catch {
      return this.drop('malformed');
    }
    const peer = `${remote.address}:${remote.port}`;
    if (this.limits.cookies && !this.cookies.verify(now, peer, prefix)) {
      if (prefix.cookie.length > 0) this.stats.dropped.bad_cookie++;
      const cookie = this.cookies.create(now, peer, prefix);
      // RFC 6347 §4.2.1: HelloVerifyRequest with version DTLS 1.0 (any client accepts it), the ClientHello's
      // message_seq and record sequence number. Never larger than what caused it (no amplification).
      const hvr = encodeHelloVerifyRequest({ serverVersion: ProtocolVersion.DTLS1_0, cookie });
      const reply = sealPlaintextRecord(
        ContentType.handshake,
        ProtocolVersion.DTLS1_0,
        0,
        h.sequenceNumber,
        encodeHandshakeFragment(HandshakeType.hello_verify_request, hvr.length, fragment.messageSeq, 0, hvr),
      );
      if (reply.length > datagram.length) return this.drop('malformed');
      this.stats.helloVerifyRequestsSent++;
      return { kind: 'reply', datagram: reply };
    }
    // Capacity: silence for new peers, existing connections keep working.
    const handshaking = this.countHandshaking();
    const fromAddress = this.perAddress.get(remote.address) ?? 0;
    const replacing = this.connections.get(key);
    if (
      (replacing === undefined && this.connections.size >= this.limits.maxConnections) ||
      handshaking >= this.limits.maxHandshaking ||
      (replacing === undefined && fromAddress >= this.limits.maxConnectionsPerAddress)
    ) {
      return this.drop('capacity');
    }
    if (replacing !== undefined) {
      this.remove(remote);
      if (!replacing.isClosed) {
        replacing.abandon(new DtlsError('ERR_DTLS_PEER_RESTARTED', `${peer} started a new handshake; this connection is replaced`));
      }
    }
    const connection = new Connection(this.makeConfig(remote));
    this.connections.set(key, connection);
    this.handshaking.add(connection);
    this.perAddress.set(remote.address, (this.perAddress.get(remote.address) ?? 0) + 1);
    this.stats.connectionsAccepted++;
    if (hello !== undefined) {
      const message = { msgType: HandshakeType.client_hello, messageSeq: fragment.messageSeq, body: fragment.body.slice() };
      connection.acceptClientHello(now, message, hello, h.sequenceNumber);
    } else {
      const first = { ...fragment, body: fragment.body.slice() };
      const cookies = this.limits.cookies;
      const random = prefix.random.slice();
      const cookie = prefix.cookie.slice();
      // The complete hello must be the one whose first fragment was checked: same random and cookie, valid cookie.
      const check = (whole: ClientHello): boolean =>
        bytesEqual(whole.random, random) && bytesEqual(whole.cookie, cookie) && (!cookies || this.cookies.verify(now, peer, whole));
      connection.acceptClientHelloFragment(now, first, random, h.sequenceNumber, check);
    }
    return { kind: 'connection', connection, isNew: true, ...(replacing !== undefined ? { replaced: replacing } : {}) };
  }

  /** Connections created and maybe still handshaking; swept lazily, so the count costs O(1) amortised. */
  private readonly handshaking = new Set<Connection>();

  private countHandshaking(): number {
    for (const c of this.handshaking) if (!c.isHandshaking) this.handshaking.delete(c);
    return this.handshaking.size;
  }

  /** Forgets a peer's connection (after it closed). */
  remove(remote: Remote): void {
    const key = remoteKey(remote);
    if (!this.connections.delete(key)) return;
    const n = (this.perAddress.get(remote.address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(remote.address);
    else this.perAddress.set(remote.address, n);
  }

  connectionsList(): IterableIterator<[string, Connection]> {
    return this.connections.entries();
  }

  private drop(reason: EndpointDropReason): EndpointResult {
    this.stats.dropped[reason]++;
    return { kind: 'dropped', reason };
  }
}
