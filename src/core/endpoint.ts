/**
 * The sans-IO server endpoint (DESIGN §2): one per server socket. It routes each datagram to the connection of
 * its peer (address:port), answers cookie-less ClientHellos with a stateless HelloVerifyRequest, and creates a
 * connection only for a ClientHello whose cookie checks out (RFC 6347 §4.2.1). No per-peer state exists before
 * that. Connections, and half-open (handshaking) connections, are capped in total and per source address; a
 * capped peer gets silence while existing connections keep working, and each refusal is counted by cap. The
 * counts are kept exact in O(1) by each connection's phase hook: a connection that completes its handshake stops
 * counting as handshaking, and one that closes (handshake deadline, idle timeout, alert ...) frees its place at
 * once.
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
  /** Connections (handshaking or established) in total. */
  readonly maxConnections: number;
  /** Connections (handshaking or established) from one IP address, any port. */
  readonly maxConnectionsPerAddress: number;
  /** Connections still handshaking (half-open: cookie checked, handshake not finished), in total. */
  readonly maxHandshaking: number;
  /** Connections still handshaking from one IP address, any port. */
  readonly maxHandshakingPerAddress: number;
  /** Lifetime of a cookie and rotation period of the cookie secret (the previous secret is accepted one period more). */
  readonly cookieLifetimeMs: number;
  /** Whether to require the cookie exchange (RFC 6347 §4.2.1). Turning it off exposes the server to spoofing. */
  readonly cookies: boolean;
}

export const DEFAULT_ENDPOINT_LIMITS: EndpointLimits = Object.freeze({
  maxConnections: 100_000,
  maxConnectionsPerAddress: 1_000,
  maxHandshaking: 10_000,
  maxHandshakingPerAddress: 100,
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
  | { readonly kind: 'dropped'; readonly reason: EndpointDropReason; readonly refusal?: RefusalReason };

/**
 * Why a datagram from a peer without a connection was dropped. `capacity`: its cookie was valid but a cap was
 * reached (the cap is named in `refused`).
 */
export type EndpointDropReason = 'not_client_hello' | 'malformed' | 'fragmented_client_hello' | 'bad_cookie' | 'capacity';

/** Which cap refused a peer whose cookie was valid. The first that applies, in this order. */
export type RefusalReason = 'max_handshaking_per_address' | 'max_connections_per_address' | 'max_handshaking' | 'max_connections';

export class EndpointStats {
  datagramsReceived = 0;
  helloVerifyRequestsSent = 0;
  connectionsAccepted = 0;
  handshakesCompleted = 0;
  connectionsClosed = 0;
  /** Connections that ended with an error, by error code (ERR_DTLS_HANDSHAKE_TIMEOUT, ERR_DTLS_IDLE_TIMEOUT ...). */
  readonly closedWithError: Record<string, number> = {};
  readonly dropped: Record<EndpointDropReason, number> = {
    not_client_hello: 0,
    malformed: 0,
    fragmented_client_hello: 0,
    bad_cookie: 0,
    capacity: 0,
  };
  /** Peers with a valid cookie refused because a cap was reached, by cap. Their sum is `dropped.capacity`. */
  readonly refused: Record<RefusalReason, number> = {
    max_handshaking_per_address: 0,
    max_connections_per_address: 0,
    max_handshaking: 0,
    max_connections: 0,
  };
}

/** A point-in-time copy of the endpoint's counters and occupancy (plain data, JSON-friendly). */
export interface EndpointStatsSnapshot {
  /** Connections now (handshaking + established). */
  readonly connections: number;
  readonly handshaking: number;
  readonly established: number;
  /** Distinct peer IP addresses with at least one connection. */
  readonly addresses: number;
  readonly datagramsReceived: number;
  readonly helloVerifyRequestsSent: number;
  readonly connectionsAccepted: number;
  readonly handshakesCompleted: number;
  readonly connectionsClosed: number;
  readonly closedWithError: Readonly<Record<string, number>>;
  readonly dropped: Readonly<Record<EndpointDropReason, number>>;
  readonly refused: Readonly<Record<RefusalReason, number>>;
}

export function remoteKey(r: Remote): string {
  return `${r.address}|${r.port}`;
}

/** The endpoint's record of one connection: where it counts. */
interface Slot {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly connection: Connection;
  /** Counted in the handshaking totals. */
  handshaking: boolean;
  /** No longer counted at all (closed, replaced or removed). */
  released: boolean;
  /** message_seq of the ClientHello the connection was created for. */
  readonly helloSeq: number;
  /** We sent this address:port a HelloVerifyRequest after the connection was made (a restarted or spoofed hello). */
  verifyRequestSince: boolean;
}

interface AddressCounts {
  connections: number;
  handshaking: number;
}

export class Endpoint {
  readonly stats = new EndpointStats();
  readonly limits: EndpointLimits;
  private readonly slots = new Map<string, Slot>();
  /**
   * The slot the last datagram went to. Peers send in bursts, and finding a slot by address:port means building
   * and hashing a key string per datagram: the last one is compared field by field first. Forgotten whenever a
   * slot is added or released, so it is always one of `slots`.
   */
  private lastSlot: Slot | undefined;
  private readonly perAddress = new Map<string, AddressCounts>();
  /** Connections in the handshaking phase; kept exact by each connection's phase hook, so reading it is O(1). */
  private handshakingCount = 0;
  private readonly cookies: CookieJar;

  constructor(
    private readonly makeConfig: (remote: Remote) => ConnectionConfig,
    crypto: ConnectionConfig['crypto'],
    limits: Partial<EndpointLimits> = DEFAULT_ENDPOINT_LIMITS,
  ) {
    this.limits = Object.freeze({ ...DEFAULT_ENDPOINT_LIMITS, ...limits });
    this.cookies = new CookieJar(crypto, this.limits.cookieLifetimeMs);
  }

  /** Connections now, handshaking or established. */
  get size(): number {
    return this.slots.size;
  }

  /** Connections now in the handshaking phase (half-open). */
  get handshaking(): number {
    return this.handshakingCount;
  }

  /** Connections (and of them, handshaking) from one IP address. */
  countsFor(address: string): { connections: number; handshaking: number } {
    const a = this.perAddress.get(address);
    return { connections: a?.connections ?? 0, handshaking: a?.handshaking ?? 0 };
  }

  get(remote: Remote): Connection | undefined {
    return this.slots.get(remoteKey(remote))?.connection;
  }

  getStats(): EndpointStatsSnapshot {
    const s = this.stats;
    return {
      connections: this.slots.size,
      handshaking: this.handshakingCount,
      established: this.slots.size - this.handshakingCount,
      addresses: this.perAddress.size,
      datagramsReceived: s.datagramsReceived,
      helloVerifyRequestsSent: s.helloVerifyRequestsSent,
      connectionsAccepted: s.connectionsAccepted,
      handshakesCompleted: s.handshakesCompleted,
      connectionsClosed: s.connectionsClosed,
      closedWithError: { ...s.closedWithError },
      dropped: { ...s.dropped },
      refused: { ...s.refused },
    };
  }

  handleDatagram(now: number, datagram: Uint8Array, remote: Remote): EndpointResult {
    this.stats.datagramsReceived++;
    let slot = this.lastSlot;
    if (slot === undefined || slot.port !== remote.port || slot.address !== remote.address) {
      slot = this.slots.get(remoteKey(remote));
      this.lastSlot = slot;
    }
    const existing = slot?.connection;
    if (slot !== undefined && existing !== undefined && !existing.isClosed) {
      // A fresh ClientHello (epoch 0) with another client random is a client that restarted on the same port
      // (RFC 6347 §4.2.8), during or after a handshake: it gets a cookie exchange and, once that checks out, a
      // new connection. So is, during the handshake, the client's own hello at a later message_seq once we have
      // sent this address:port another HelloVerifyRequest: the client followed it (it was provoked by a hello
      // spoofed from the client's address, say) and would otherwise meet a connection that expects its next
      // flight. Anything else belongs to the existing connection (which refuses a ClientHello out of turn).
      const followsVerifyRequest = slot.verifyRequestSince && existing.isHandshaking && this.isLaterClientHello(slot, datagram);
      if (!followsVerifyRequest && !this.looksLikeNewClientHello(existing, datagram)) {
        existing.handleDatagram(now, datagram);
        return { kind: 'connection', connection: existing, isNew: false };
      }
    }
    return this.handleNewPeer(now, datagram, remote, slot?.key ?? remoteKey(remote));
  }

  /** An epoch-0 ClientHello (first fragment) with a message_seq above the one the connection was made for. */
  private isLaterClientHello(slot: Slot, d: Uint8Array): boolean {
    if (!(d.length >= 25 && d[0] === ContentType.handshake && d[3] === 0 && d[4] === 0 && d[13] === HandshakeType.client_hello)) return false;
    if (d[19] !== 0 || d[20] !== 0 || d[21] !== 0) return false; // fragment_offset 0
    return ((d[17]! << 8) | d[18]!) > slot.helloSeq;
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
    let helloBody: Uint8Array | undefined;
    try {
      const f = decodeHandshakeFragments(rec.fragment)[0];
      if (f === undefined || f.msgType !== HandshakeType.client_hello) return this.drop('not_client_hello');
      // Later fragments of a hello we hold no state for: the client resends the whole hello on its timer.
      if (f.fragmentOffset !== 0) return this.drop('fragmented_client_hello');
      fragment = f;
      if (f.fragmentLength === f.length) {
        // Decoded from a copy: a connection made for it keeps the hello (random, session id, extensions) and its
        // bytes, and the datagram is the driver's, which may reuse it once this call returns.
        helloBody = f.body.slice();
        hello = decodeClientHello(helloBody);
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
      const slot = this.slots.get(key);
      if (slot !== undefined) slot.verifyRequestSince = true;
      return { kind: 'reply', datagram: reply };
    }
    // Capacity: silence for new peers, existing connections keep working. A client restarting on its own
    // address:port replaces its old connection, so that one's place is not counted.
    const replacing = this.slots.get(key);
    const refusal = this.refusal(remote.address, replacing);
    if (refusal !== undefined) {
      this.stats.refused[refusal]++;
      this.stats.dropped.capacity++;
      return { kind: 'dropped', reason: 'capacity', refusal };
    }
    if (replacing !== undefined) {
      this.release(replacing);
      if (!replacing.connection.isClosed) {
        replacing.connection.abandon(new DtlsError('ERR_DTLS_PEER_RESTARTED', `${peer} started a new handshake; this connection is replaced`));
      }
    }
    const connection = new Connection(this.makeConfig(remote));
    const slot: Slot = {
      key,
      address: remote.address,
      port: remote.port,
      connection,
      handshaking: true,
      released: false,
      helloSeq: fragment.messageSeq,
      verifyRequestSince: false,
    };
    this.slots.set(key, slot);
    this.lastSlot = undefined;
    const counts = this.perAddress.get(remote.address) ?? { connections: 0, handshaking: 0 };
    counts.connections++;
    counts.handshaking++;
    this.perAddress.set(remote.address, counts);
    this.handshakingCount++;
    connection.onPhaseChange = (phase) => this.onPhase(slot, phase);
    this.stats.connectionsAccepted++;
    if (hello !== undefined && helloBody !== undefined) {
      const message = { msgType: HandshakeType.client_hello, messageSeq: fragment.messageSeq, body: helloBody };
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
    const replaced = replacing?.connection;
    return { kind: 'connection', connection, isNew: true, ...(replaced !== undefined ? { replaced } : {}) };
  }

  /** The cap a new connection from `address` would exceed, not counting `replacing` (a restart), or undefined. */
  private refusal(address: string, replacing: Slot | undefined): RefusalReason | undefined {
    const l = this.limits;
    const a = this.perAddress.get(address);
    const same = replacing !== undefined && !replacing.released ? 1 : 0;
    const sameHandshaking = same === 1 && replacing!.handshaking ? 1 : 0;
    if ((a?.handshaking ?? 0) - sameHandshaking >= l.maxHandshakingPerAddress) return 'max_handshaking_per_address';
    if ((a?.connections ?? 0) - same >= l.maxConnectionsPerAddress) return 'max_connections_per_address';
    if (this.handshakingCount - sameHandshaking >= l.maxHandshaking) return 'max_handshaking';
    if (this.slots.size - same >= l.maxConnections) return 'max_connections';
    return undefined;
  }

  /** A connection's phase changed: keep the counts exact, free its place the moment it closes. */
  private onPhase(slot: Slot, phase: 'handshaking' | 'connected' | 'closed'): void {
    if (phase === 'handshaking') return;
    this.endHandshaking(slot);
    if (phase === 'connected') {
      this.stats.handshakesCompleted++;
      return;
    }
    this.stats.connectionsClosed++;
    const code = slot.connection.error?.code;
    if (code !== undefined) this.stats.closedWithError[code] = (this.stats.closedWithError[code] ?? 0) + 1;
    this.release(slot);
  }

  private endHandshaking(slot: Slot): void {
    if (!slot.handshaking) return;
    slot.handshaking = false;
    if (slot.released) return;
    this.handshakingCount--;
    const a = this.perAddress.get(slot.address);
    if (a !== undefined) a.handshaking--;
  }

  /** Stops counting a connection and forgets it (if it is still the one for its address:port). */
  private release(slot: Slot): void {
    if (slot.released) return;
    this.endHandshaking(slot);
    slot.released = true;
    if (this.lastSlot === slot) this.lastSlot = undefined;
    if (this.slots.get(slot.key) === slot) this.slots.delete(slot.key);
    const a = this.perAddress.get(slot.address);
    if (a !== undefined) {
      a.connections--;
      if (a.connections <= 0) this.perAddress.delete(slot.address);
    }
  }

  /**
   * Forgets a peer's connection. Closed connections are forgotten by the endpoint itself; this is for a driver
   * that gives up on one without closing it.
   */
  remove(remote: Remote): void {
    const slot = this.slots.get(remoteKey(remote));
    if (slot !== undefined) this.release(slot);
  }

  *connectionsList(): IterableIterator<[string, Connection]> {
    for (const [key, slot] of this.slots) yield [key, slot.connection];
  }

  private drop(reason: EndpointDropReason): EndpointResult {
    this.stats.dropped[reason]++;
    return { kind: 'dropped', reason };
  }
}
