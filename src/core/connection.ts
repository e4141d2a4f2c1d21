/**
 * The sans-IO DTLS 1.2 connection (DESIGN §2): datagrams and time go in through handle*(), datagrams, deadlines
 * and events come out through poll*(). It owns the record layer state (epochs, replay windows, deferred records),
 * the flight and its retransmission, and drives a handshake state machine (client12 / server12).
 *
 * Receive order per record (DESIGN §4, RFC 6347 §4.1.2.7): header → epoch → replay check → authenticate →
 * mark replay window → dispatch. Anything that fails before authentication is discarded silently and counted.
 */
import { exportKeyingMaterial as prfExport } from '../crypto/prf12.js';
import { AlertDescription, AlertLevel, ContentType, HandshakeType, ProtocolVersion, alertName } from '../msgs/enums.js';
import { decodeAlert, encodeAlert } from '../msgs/alert.js';
import { decodeHandshakeFragments, type HandshakeFragment } from '../msgs/handshake.js';
import { decodeClientHello, type ClientHello } from '../msgs/client-hello.js';
import { MAX_CIPHERTEXT_LENGTH, RECORD_HEADER_LENGTH, readSequenceNumber, type RawRecord } from '../record/header12.js';
import { splitDatagram } from '../record/deframer.js';
import { ReplayWindow } from '../record/replay.js';
import { sealPlaintextRecord, type RecordProtection12 } from '../record/protection.js';
import { Reassembler } from '../handshake/reassembler.js';
import { Transcript } from '../handshake/transcript.js';
import { Flight } from '../handshake/flight.js';
import type { HandshakeHost } from '../handshake/host.js';
import type { Handshake12, HandshakeMessage } from '../handshake/handshake12.js';
import type { HandshakeResult } from '../handshake/result.js';
import { ClientHandshake12 } from '../handshake/client12.js';
import { ServerHandshake12 } from '../handshake/server12.js';
import {
  AlertReceivedError,
  ApiMisuseError,
  DtlsError,
  HandshakeTimeoutError,
  PeerMisbehavedError,
  toDtlsError,
} from '../errors.js';
import type { ConnectionConfig } from './config.js';
import type { ConnectionEvent } from './events.js';
import { ConnectionStats } from './stats.js';

/** Largest plaintext in one record (RFC 6347 §4.1: 2^14). */
export const MAX_RECORD_PLAINTEXT = 16384;

interface ReadEpoch {
  readonly epoch: number;
  readonly protection: RecordProtection12 | undefined;
  readonly replay: ReplayWindow;
}

interface WriteEpoch {
  readonly epoch: number;
  readonly protection: RecordProtection12 | undefined;
  nextSeq: number;
}

function earlier(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined || a <= b ? a : b;
}

/** 2^48 - 1: the last record sequence number of an epoch (RFC 6347 §4.1). */
const MAX_SEQUENCE = 0xffff_ffff_ffff;

type Phase = 'idle' | 'handshaking' | 'connected' | 'closed';

export class Connection implements HandshakeHost {
  readonly config: ConnectionConfig;
  readonly stats = new ConnectionStats();
  readonly transcript = new Transcript();

  private phase: Phase = 'idle';
  private readonly handshake: Handshake12 & { start?: unknown };
  private result: HandshakeResult | undefined;
  private closeError: DtlsError | undefined;

  private read: ReadEpoch;
  private previousRead: ReadEpoch | undefined;
  private pendingRead: RecordProtection12 | undefined;
  private readonly writeEpochs: WriteEpoch[] = [];
  /** Epoch for alerts and application data: the newest we switched our writing to. */
  private writeEpoch = 0;
  /** Epoch the next handshake message of the flight being built is sent in. */
  private buildEpoch = 0;

  private readonly reassembler: Reassembler;
  private nextSendSeq = 0;
  private building = new Flight();
  private flight: Flight | undefined;
  private deferred: RawRecord[] = [];

  private readonly outbox: Uint8Array[] = [];
  private readonly events: ConnectionEvent[] = [];
  private eventHead = 0;

  private now = 0;
  /** Idle timeout (config.idleTimeoutMs): when the last authenticated record arrived, and when to look again. */
  private lastReceivedAt = 0;
  private idleCheckAt: number | undefined;
  /**
   * Told of every phase change, after it happened. The server Endpoint keeps its handshaking and connection
   * counts with it (O(1) caps, slots freed the moment a connection closes).
   */
  onPhaseChange: ((phase: 'handshaking' | 'connected' | 'closed') => void) | undefined;
  private rto: number;
  private retransmitAt: number | undefined;
  private handshakeDeadline: number | undefined;
  /** When the final flight (kept only to answer a peer's retransmission) is released. */
  private finalFlightUntil: number | undefined;
  private lastResendAt = -Infinity;
  /** Server: random of the ClientHello being answered. */
  private helloRandom: Uint8Array | undefined;
  /** Server: set while a fragmented ClientHello is being reassembled (see acceptClientHelloFragment). */
  private helloCheck: ((hello: ClientHello) => boolean) | undefined;
  /** Application data sent since application data was last received (see prepareNextRecords). */
  private awaitingReply = false;

  constructor(config: ConnectionConfig) {
    this.config = config;
    this.rto = config.initialRetransmitMs;
    this.read = { epoch: 0, protection: undefined, replay: new ReplayWindow(config.replayWindow) };
    this.writeEpochs[0] = { epoch: 0, protection: undefined, nextSeq: 0 };
    this.reassembler = new Reassembler({
      // Epoch-0 fragments are not authenticated: a forged one must not block the genuine message (the newest wins).
      onConflict: 'replace',
      maxMessageLength: config.maxHandshakeMessageLength,
      ...(config.maxHandshakeBufferedBytes !== undefined ? { maxBufferedBytes: config.maxHandshakeBufferedBytes } : {}),
    });
    this.handshake = config.role === 'client' ? new ClientHandshake12(this) : new ServerHandshake12(this);
  }

  // ---------------------------------------------------------------- inputs

  /** Client: sends the first ClientHello. */
  connect(now: number): void {
    if (this.config.role !== 'client') throw new ApiMisuseError('ERR_DTLS_INVALID_STATE', 'connect() is for client connections');
    if (this.phase !== 'idle') return;
    this.now = now;
    this.setPhase('handshaking');
    this.handshakeDeadline = now + this.config.handshakeTimeoutMs;
    this.guard(() => (this.handshake as ClientHandshake12).start());
  }

  /**
   * Server: starts from a ClientHello the endpoint has validated (cookie checked). `recordSeq` is the record
   * sequence number it arrived with, `message` the reassembled handshake message.
   */
  acceptClientHello(now: number, message: HandshakeMessage, hello: ClientHello, recordSeq: number): void {
    if (!this.beginServer(now, recordSeq, 'acceptClientHello')) return;
    this.startServerHandshake(message, hello);
  }

  /** Common start of a server connection; false if it has started already. */
  private beginServer(now: number, recordSeq: number, method: string): boolean {
    if (this.config.role !== 'server') throw new ApiMisuseError('ERR_DTLS_INVALID_STATE', `${method}() is for server connections`);
    if (this.phase !== 'idle') return false;
    this.now = now;
    this.setPhase('handshaking');
    this.handshakeDeadline = now + this.config.handshakeTimeoutMs;
    this.read.replay.mark(recordSeq);
    this.writeEpochs[0]!.nextSeq = recordSeq;
    return true;
  }

  private startServerHandshake(message: HandshakeMessage, hello: ClientHello): void {
    this.helloRandom = hello.random.slice();
    this.nextSendSeq = message.messageSeq;
    this.reassembler.reset(message.messageSeq + 1);
    this.guard(() => (this.handshake as ServerHandshake12).start(message, hello));
  }

  /**
   * Server: starts from the first fragment of a ClientHello fragmented over several datagrams, whose cookie the
   * endpoint has checked (RFC 6347 §4.2.1 allows per-peer state once the cookie is valid). The rest of the hello
   * is reassembled here; `check` re-validates the complete hello (same cookie, same prefix) before the handshake
   * goes on — a hello that fails it ends the connection silently.
   */
  acceptClientHelloFragment(
    now: number,
    fragment: HandshakeFragment,
    random: Uint8Array,
    recordSeq: number,
    check: (hello: ClientHello) => boolean,
  ): void {
    if (!this.beginServer(now, recordSeq, 'acceptClientHelloFragment')) return;
    this.helloRandom = random.slice();
    this.helloCheck = check;
    this.reassembler.reset(fragment.messageSeq);
    this.reassembler.add(fragment);
    this.processMessages();
  }

  /** Server: the client random of the ClientHello this connection answers (to tell a restarted client apart). */
  get clientHelloRandom(): Uint8Array | undefined {
    return this.helloRandom;
  }

  /** Ends the connection without telling the peer (it restarted, or the endpoint is shutting it out). */
  abandon(error: DtlsError): void {
    this.finish(error);
  }

  handleDatagram(now: number, datagram: Uint8Array): void {
    this.now = now;
    this.stats.datagramsReceived++;
    this.stats.bytesReceived += datagram.length;
    if (this.phase === 'closed') {
      this.stats.discard('after_close');
      return;
    }
    if (this.phase === 'connected' && this.receiveApplicationRecord(datagram)) return;
    const { records, malformed } = splitDatagram(datagram);
    if (malformed) this.stats.discard('malformed');
    let peerRetransmitted = false;
    for (const rec of records) {
      if (this.isClosed) break;
      peerRetransmitted = this.handleRecord(rec, true) || peerRetransmitted;
    }
    if (peerRetransmitted) this.resendFlightOnPeerRetransmission();
  }

  handleTimeout(now: number): void {
    this.now = now;
    if (this.phase === 'closed') return;
    if (this.handshakeDeadline !== undefined && now >= this.handshakeDeadline && this.phase === 'handshaking') {
      this.fail(new HandshakeTimeoutError(`handshake did not complete within ${this.config.handshakeTimeoutMs} ms (state ${this.handshake.stateName})`));
      return;
    }
    if (this.retransmitAt !== undefined && now >= this.retransmitAt) {
      // RFC 6347 §4.2.4.1: double the timer up to the cap and resend the whole flight.
      this.rto = Math.min(this.rto * 2, this.config.maxRetransmitMs);
      this.retransmitAt = now + this.rto;
      // A resend we just made in answer to the peer's retransmission stands for this one (the backoff still applies).
      if (now - this.lastResendAt >= this.config.initialRetransmitMs / 4) {
        this.lastResendAt = now;
        this.stats.retransmissions++;
        this.transmitFlight();
      }
    }
    if (this.finalFlightUntil !== undefined && now >= this.finalFlightUntil) this.releaseFinalFlight();
    if (this.idleCheckAt !== undefined && now >= this.idleCheckAt && this.phase === 'connected') {
      // The deadline moves lazily (checked when it falls due), so traffic does not re-arm the driver's timer.
      const idle = this.config.idleTimeoutMs ?? 0;
      if (now - this.lastReceivedAt >= idle) {
        // close_notify tells a peer that is still there to reconnect rather than send into the void.
        this.sendAlert(AlertLevel.warning, AlertDescription.close_notify);
        this.finish(new DtlsError('ERR_DTLS_IDLE_TIMEOUT', `nothing received from the peer for ${idle} ms`));
        return;
      }
      this.idleCheckAt = this.lastReceivedAt + idle;
    }
  }

  // ---------------------------------------------------------------- application commands

  /** Queues one application message as one record. */
  send(data: Uint8Array): void {
    if (this.phase !== 'connected') {
      throw new ApiMisuseError('ERR_DTLS_NOT_CONNECTED', this.phase === 'closed' ? 'connection is closed' : 'handshake has not completed');
    }
    if (data.length > MAX_RECORD_PLAINTEXT) {
      throw new ApiMisuseError('ERR_DTLS_MESSAGE_TOO_LARGE', `message of ${data.length} bytes exceeds the record limit of ${MAX_RECORD_PLAINTEXT}`);
    }
    this.queueRecord(ContentType.application_data, this.writeEpoch, data);
    this.awaitingReply = true;
  }

  /** Orderly close: sends close_notify (RFC 5246 §7.2.1) and reports `closed`. Idempotent. */
  close(): void {
    if (this.phase === 'closed') return;
    if (this.phase !== 'idle') this.sendAlert(AlertLevel.warning, AlertDescription.close_notify);
    this.finish(undefined);
  }

  /** RFC 5705 keying material exporter (DTLS 1.2). */
  exportKeyingMaterial(label: string, length: number, context?: Uint8Array): Uint8Array {
    const r = this.result;
    if (r === undefined) throw new ApiMisuseError('ERR_DTLS_NOT_CONNECTED', 'keying material is available only after the handshake');
    return prfExport(this.config.crypto, r.suite.hash, r.masterSecret, label, r.clientRandom, r.serverRandom, context, length);
  }

  /**
   * Idle-time work for the next application records (optional, results never depend on it): the write epoch
   * prepares the seal of its next sequence number, the read epoch (while a reply is awaited) the open of the
   * record after the newest one received — with node:crypto, creating their cipher objects now rather than on
   * the next record's path. The driver calls it after a datagram went out and after data was delivered.
   */
  prepareNextRecords(): void {
    if (this.phase !== 'connected') return;
    const w = this.writeEpochs[this.writeEpoch];
    if (w?.protection !== undefined) w.protection.prepareSeal(w.epoch, w.nextSeq);
    // The open only while a reply is awaited (we sent data since we last received some): a one-way receiver that
    // loses datagrams would otherwise prepare for a sequence number that never comes, and pay twice per gap.
    const r = this.read;
    if (this.awaitingReply && r.protection !== undefined) r.protection.prepareOpen(r.epoch, (r.replay.highest ?? -1) + 1);
  }

  // ---------------------------------------------------------------- outputs

  /** The next datagram to send: queued records coalesced up to the MTU. */
  pollTransmit(): Uint8Array | undefined {
    const box = this.outbox;
    if (box.length === 0) return undefined;
    const first = box.shift()!;
    let size = first.length;
    let count = 1;
    while (count - 1 < box.length && size + box[count - 1]!.length <= this.config.mtu) {
      size += box[count - 1]!.length;
      count++;
    }
    let datagram = first;
    if (count > 1) {
      datagram = new Uint8Array(size);
      datagram.set(first, 0);
      let at = first.length;
      for (const r of box.splice(0, count - 1)) {
        datagram.set(r, at);
        at += r.length;
      }
    }
    this.stats.datagramsSent++;
    this.stats.bytesSent += datagram.length;
    return datagram;
  }

  pollEvent(): ConnectionEvent | undefined {
    if (this.eventHead >= this.events.length) {
      if (this.eventHead > 0) {
        this.events.length = 0;
        this.eventHead = 0;
      }
      return undefined;
    }
    return this.events[this.eventHead++];
  }

  /** Earliest deadline at which handleTimeout must be called, or undefined. */
  pollTimeout(): number | undefined {
    // Called after every input by the driver: no allocation.
    let t = earlier(this.retransmitAt, this.phase === 'handshaking' ? this.handshakeDeadline : undefined);
    t = earlier(t, this.finalFlightUntil);
    return earlier(t, this.idleCheckAt);
  }

  // ---------------------------------------------------------------- state for the API

  get isConnected(): boolean {
    return this.phase === 'connected';
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  get isHandshaking(): boolean {
    return this.phase === 'handshaking';
  }

  get handshakeResult(): HandshakeResult | undefined {
    return this.result;
  }

  get handshakeState(): string {
    return this.handshake.stateName;
  }

  /** Largest application message that fits one datagram at the configured MTU. */
  get maxDatagramPayload(): number {
    const w = this.writeEpochs[this.writeEpoch]!;
    return this.config.mtu - RECORD_HEADER_LENGTH - (w.protection?.overhead ?? 0);
  }

  // ---------------------------------------------------------------- HandshakeHost

  sendHandshake(msgType: number, body: Uint8Array, options?: { transcript?: boolean }): number {
    const seq = this.nextSendSeq++;
    this.building.addHandshake(msgType, seq, body, this.buildEpoch);
    if (options?.transcript !== false) this.transcript.add(msgType, seq, body);
    return seq;
  }

  sendChangeCipherSpec(write: RecordProtection12): void {
    this.building.addChangeCipherSpec(this.buildEpoch);
    const epoch = this.buildEpoch + 1;
    this.writeEpochs[epoch] = { epoch, protection: write, nextSeq: 0 };
    this.buildEpoch = epoch;
    this.writeEpoch = epoch;
  }

  setPendingReadProtection(read: RecordProtection12): void {
    this.pendingRead = read;
  }

  flushFlight(expectsReply: boolean): void {
    const flight = this.building;
    flight.expectsReply = expectsReply;
    this.building = new Flight();
    this.flight = flight;
    this.stats.flightsSent++;
    this.transmitFlight();
    // A peer retransmission already on its way when we sent this flight is answered by this flight.
    this.lastResendAt = this.now;
    if (expectsReply) {
      this.retransmitAt = this.now + this.rto;
      this.finalFlightUntil = undefined;
    } else {
      this.retransmitAt = undefined;
      // Keep the final flight to answer a retransmitted peer flight (RFC 6347 §4.2.4), but not forever.
      this.finalFlightUntil = this.now + this.config.handshakeTimeoutMs;
    }
  }

  complete(result: HandshakeResult): void {
    this.result = result;
    this.setPhase('connected');
    const idle = this.config.idleTimeoutMs ?? 0;
    if (idle > 0) {
      this.lastReceivedAt = this.now;
      this.idleCheckAt = this.now + idle;
    }
    this.handshakeDeadline = undefined;
    this.rto = this.config.initialRetransmitMs;
    if (this.flight?.expectsReply) {
      // Our last flight was answered by the peer's final flight: nothing left to retransmit, and nothing of the
      // peer's old epoch left to read (its unauthenticated records are then discarded as unknown_epoch).
      this.retransmitAt = undefined;
      this.flight = undefined;
      this.previousRead = undefined;
    }
    this.transcript.reset();
    this.events.push({ type: 'connected', result });
  }

  // ---------------------------------------------------------------- receive path

  /**
   * The common case once connected, without the framing objects of the general path: a datagram that is exactly
   * one application_data record (RFC 6347 §4.1) of the current read epoch. Returns false, having done and counted
   * nothing, for anything else, which then takes the general path (splitDatagram, handleRecord); for this kind
   * of record both do the same checks in the same order: version, replay window (§4.1.2.6), authentication.
   */
  private receiveApplicationRecord(d: Uint8Array): boolean {
    const end = d.length;
    if (end < RECORD_HEADER_LENGTH || d[0] !== ContentType.application_data || d[1] !== 0xfe) return false;
    const length = (d[11]! << 8) | d[12]!;
    if (RECORD_HEADER_LENGTH + length !== end || length > MAX_CIPHERTEXT_LENGTH) return false;
    const state = this.read;
    const protection = state.protection;
    if (protection === undefined || ((d[3]! << 8) | d[4]!) !== state.epoch) return false;
    this.stats.recordsReceived++;
    const seq = readSequenceNumber(d, 0);
    if (!state.replay.check(seq)) {
      this.stats.discard('replay');
      return true;
    }
    const plaintext = protection.openFragment(ContentType.application_data, (d[1]! << 8) | d[2]!, state.epoch, seq, d.subarray(RECORD_HEADER_LENGTH));
    if (plaintext === undefined) {
      this.onBadRecord();
      return true;
    }
    state.replay.mark(seq);
    this.lastReceivedAt = this.now;
    this.onApplicationData(plaintext);
    return true;
  }

  /** A record failed authentication: discarded and counted, and past maxBadRecords the connection fails. */
  private onBadRecord(): void {
    this.stats.discard('bad_mac');
    const maxBad = this.config.maxBadRecords ?? 0;
    if (maxBad > 0 && this.stats.discarded.bad_mac >= maxBad) {
      this.fail(
        new PeerMisbehavedError('ERR_DTLS_TOO_MANY_BAD_RECORDS', `${this.stats.discarded.bad_mac} records failed authentication (maxBadRecords ${maxBad})`, AlertDescription.bad_record_mac),
      );
    }
  }

  /** Returns true when the record shows the peer retransmitting its previous flight. */
  private handleRecord(rec: RawRecord, fresh: boolean): boolean {
    const h = rec.header;
    this.stats.recordsReceived++;
    if (h.version >> 8 !== 0xfe) {
      this.stats.discard('bad_version');
      return false;
    }
    // RFC 6347 §4.1: never accept application data without protection (wolfSSL CVE-2020-24585). Checked before the
    // epoch lookup so it is counted as such whether or not epoch 0 is still readable.
    if (h.contentType === ContentType.application_data && h.epoch === 0) {
      this.stats.discard('plaintext_application_data');
      return false;
    }
    let state: ReadEpoch;
    if (h.epoch === this.read.epoch) state = this.read;
    else if (h.epoch === this.read.epoch + 1 && this.phase === 'handshaking') {
      this.defer(rec, fresh);
      return false;
    } else if (this.previousRead !== undefined && h.epoch === this.previousRead.epoch) state = this.previousRead;
    else {
      this.stats.discard('unknown_epoch');
      return false;
    }
    // Epoch 0 is unprotected: anyone can number a record there, so its window would be the attacker's to move (one
    // forged record numbered 2^48-1 would shut the genuine handshake out). Only authenticated epochs have one;
    // repeated epoch-0 handshake fragments are recognised by the reassembler instead.
    if (state.protection !== undefined && !state.replay.check(h.sequenceNumber)) {
      this.stats.discard('replay');
      return false;
    }
    // ChangeCipherSpec is only acted on in the right state; an early one waits (unauthenticated, epoch 0).
    if (h.contentType === ContentType.change_cipher_spec && state === this.read && !this.handshake.canAcceptChangeCipherSpec()) {
      if (this.phase === 'handshaking') this.defer(rec, fresh);
      else this.stats.discard('unexpected_change_cipher_spec');
      return false;
    }
    // Application data before the handshake is complete waits for it (e.g. data racing the server's Finished).
    if (h.contentType === ContentType.application_data && this.phase === 'handshaking' && state.epoch > 0) {
      this.defer(rec, fresh);
      return false;
    }
    let plaintext: Uint8Array | undefined = rec.fragment;
    if (state.protection !== undefined) {
      plaintext = state.protection.open(h, rec.fragment);
      if (plaintext === undefined) {
        this.onBadRecord();
        return false;
      }
    }
    if (state.protection !== undefined) {
      state.replay.mark(h.sequenceNumber);
      // Only authenticated records count as activity for the idle timeout (anyone can forge an epoch-0 one).
      this.lastReceivedAt = this.now;
    }
    const current = state === this.read;
    switch (h.contentType) {
      case ContentType.handshake:
        return this.onHandshakeRecord(plaintext, current);
      case ContentType.change_cipher_spec:
        if (!current) return false; // a retransmitted CCS from the previous epoch
        this.onChangeCipherSpec(plaintext);
        return false;
      case ContentType.alert:
        this.onAlert(plaintext, state.epoch, current);
        return false;
      case ContentType.application_data:
        if (state.epoch === 0) {
          // RFC 6347 §4.1: never accept application data without protection (wolfSSL CVE-2020-24585).
          this.stats.discard('plaintext_application_data');
          return false;
        }
        if (!current) return false;
        this.onApplicationData(plaintext);
        return false;
      default:
        this.stats.discard('malformed');
        return false;
    }
  }

  private defer(rec: RawRecord, fresh: boolean): void {
    if (this.deferred.length >= this.config.maxDeferredRecords) {
      this.stats.discard('deferred_overflow');
      return;
    }
    // The record is a view into the driver's datagram buffer: keep a copy.
    const raw = fresh ? rec.raw.slice() : rec.raw;
    const offset = rec.fragment.byteOffset - rec.raw.byteOffset;
    this.deferred.push({ header: rec.header, raw, fragment: raw.subarray(offset, offset + rec.fragment.length) });
  }

  /** Processes deferred records again after an epoch or phase change. */
  private replayDeferred(): void {
    if (this.deferred.length === 0) return;
    const pending = this.deferred;
    this.deferred = [];
    let peerRetransmitted = false;
    for (const rec of pending) {
      if (this.phase === 'closed') return;
      this.stats.recordsReceived--; // counted already when it first arrived
      peerRetransmitted = this.handleRecord(rec, false) || peerRetransmitted;
    }
    if (peerRetransmitted) this.resendFlightOnPeerRetransmission();
  }

  private onHandshakeRecord(payload: Uint8Array, current: boolean): boolean {
    let fragments;
    try {
      fragments = decodeHandshakeFragments(payload);
    } catch {
      this.stats.discard('malformed');
      return false;
    }
    let retransmitted = false;
    for (const f of fragments) {
      if (!current) {
        // A record of the previous epoch can only be a retransmission of the peer's previous flight; anything
        // else there (e.g. a plaintext Finished after the key change) is never read, only counted.
        if (f.messageSeq < this.reassembler.nextSeq) retransmitted = true;
        else this.stats.discard('handshake_fragment');
        continue;
      }
      if (
        this.phase === 'connected' &&
        (f.msgType === HandshakeType.client_hello || f.msgType === HandshakeType.hello_request) &&
        f.messageSeq < this.reassembler.nextSeq
      ) {
        // A new handshake starts again at message_seq 0 (RFC 6347 §4.2.2): a renegotiation attempt, not a
        // retransmission (no hello is ever sent under the keys of the handshake it starts).
        if (f.fragmentOffset === 0) this.onPostHandshakeMessage({ msgType: f.msgType, messageSeq: f.messageSeq, body: f.body });
        continue;
      }
      const r = this.reassembler.add(f);
      if (r.kind === 'retransmission') retransmitted = true;
      else if (r.kind === 'dropped') this.stats.discard('handshake_fragment');
      else if (r.replaced !== undefined) this.stats.discard('handshake_fragment'); // what was held is gone
    }
    if (current) this.processMessages();
    return retransmitted;
  }

  private processMessages(): void {
    for (;;) {
      if (this.phase === 'closed') return;
      const msg = this.reassembler.poll();
      if (msg === undefined) return;
      if (this.phase === 'connected') {
        this.onPostHandshakeMessage(msg);
        continue;
      }
      if (this.helloCheck !== undefined) {
        this.onReassembledClientHello(msg, this.helloCheck);
        continue;
      }
      const flight = this.flight;
      const state = this.handshake.stateName;
      const ok = this.guard(() => this.handshake.handleMessage(msg));
      if (!ok) return;
      if (this.phase === 'handshaking' && this.flight === flight && flight?.expectsReply && this.handshake.stateName !== state) {
        // The peer's next flight is arriving: ours got there, stop retransmitting it (RFC 6347 §4.2.4). Only a
        // message the handshake took counts — a lone fragment could be anyone's, and must not stop the timer.
        this.retransmitAt = undefined;
        this.rto = this.config.initialRetransmitMs;
      }
      if (msg.msgType === HandshakeType.hello_verify_request && this.flight !== flight) {
        // We answered a HelloVerifyRequest with a new hello: what is buffered past it answered an earlier hello
        // (e.g. a server restarted by a hello spoofed from our address), the answer to this one cannot be here yet.
        this.reassembler.reset(this.reassembler.nextSeq);
      }
      // Records that waited for the handshake (data racing the peer's Finished) can be read now.
      if (this.isConnected) this.replayDeferred();
    }
  }

  /** A fragmented ClientHello is complete: check it like the endpoint checks an unfragmented one, then go on. */
  private onReassembledClientHello(msg: HandshakeMessage, check: (hello: ClientHello) => boolean): void {
    this.helloCheck = undefined;
    let hello: ClientHello;
    try {
      if (msg.msgType !== HandshakeType.client_hello) throw new Error('not a ClientHello');
      hello = decodeClientHello(msg.body);
      if (!check(hello)) throw new Error('cookie or hello prefix changed between fragments');
    } catch (e) {
      this.finish(new PeerMisbehavedError('ERR_DTLS_BAD_CLIENT_HELLO', `fragmented ClientHello rejected: ${(e as Error).message}`));
      return;
    }
    this.startServerHandshake(msg, hello);
  }

  /** RFC 5746 / RFC 6347 §4.2.8: we never renegotiate; a new handshake on a live connection is refused. */
  private onPostHandshakeMessage(msg: HandshakeMessage): void {
    this.stats.discard('renegotiation');
    if (msg.msgType === HandshakeType.client_hello || msg.msgType === HandshakeType.hello_request) {
      this.sendAlert(AlertLevel.warning, AlertDescription.no_renegotiation);
    }
  }

  private onChangeCipherSpec(payload: Uint8Array): void {
    if (payload.length !== 1 || payload[0] !== 1) {
      this.stats.discard('malformed');
      return;
    }
    const next = this.pendingRead;
    if (next === undefined) {
      this.stats.discard('unexpected_change_cipher_spec');
      return;
    }
    const ok = this.guard(() => this.handshake.handleChangeCipherSpec());
    if (!ok) return;
    this.previousRead = this.read;
    this.read = { epoch: this.read.epoch + 1, protection: next, replay: new ReplayWindow(this.config.replayWindow) };
    this.pendingRead = undefined;
    // A handshake message must not span a key change (wolfSSL CVE-2023-6937): drop partial fragments.
    this.reassembler.reset(this.reassembler.nextSeq);
    this.replayDeferred();
  }

  private onAlert(payload: Uint8Array, epoch: number, current: boolean): void {
    let alert;
    try {
      alert = decodeAlert(payload);
    } catch {
      this.stats.discard('malformed');
      return;
    }
    if (!current || (epoch === 0 && this.read.epoch > 0)) {
      // An unprotected alert once keys are in use could come from anyone: ignore it.
      this.stats.discard('unauthenticated_alert');
      return;
    }
    if (alert.description === AlertDescription.close_notify) {
      if (this.phase === 'connected' || this.phase === 'handshaking') {
        this.sendAlert(AlertLevel.warning, AlertDescription.close_notify);
      }
      this.finish(this.phase === 'connected' ? undefined : new AlertReceivedError(alert.description, alertName(alert.description)));
      return;
    }
    if (alert.level === AlertLevel.fatal) {
      this.finish(new AlertReceivedError(alert.description, alertName(alert.description)));
    }
    // Other warning alerts (no_renegotiation, user_canceled ...) change nothing.
  }

  private onApplicationData(data: Uint8Array): void {
    if (this.phase !== 'connected') {
      this.stats.discard('plaintext_application_data');
      return;
    }
    // The peer is sending data under the new keys: it has our final flight.
    if (this.finalFlightUntil !== undefined) this.releaseFinalFlight();
    this.stats.messagesDelivered++;
    this.awaitingReply = false;
    this.events.push({ type: 'data', data });
  }

  // ---------------------------------------------------------------- send path

  private queueRecord(contentType: ContentType, epoch: number, payload: Uint8Array): void {
    const w = this.writeEpochs[epoch];
    if (w === undefined) throw new DtlsError('ERR_DTLS_INTERNAL', `no write state for epoch ${epoch}`);
    if (w.nextSeq > MAX_SEQUENCE) {
      throw new DtlsError('ERR_DTLS_SEQUENCE_EXHAUSTED', 'record sequence numbers of this epoch are used up');
    }
    const seq = w.nextSeq++;
    const record =
      w.protection === undefined
        ? sealPlaintextRecord(contentType, ProtocolVersion.DTLS1_2, epoch, seq, payload)
        : w.protection.seal(contentType, ProtocolVersion.DTLS1_2, epoch, seq, payload);
    this.outbox.push(record);
    this.stats.recordsSent++;
  }

  private transmitFlight(): void {
    const flight = this.flight;
    if (flight === undefined) return;
    const records = flight.toRecords(this.config.mtu, (epoch) => RECORD_HEADER_LENGTH + (this.writeEpochs[epoch]?.protection?.overhead ?? 0));
    for (const r of records) this.queueRecord(r.contentType, r.epoch, r.payload);
  }

  private resendFlightOnPeerRetransmission(): void {
    if (this.flight === undefined || this.phase === 'closed') return;
    // A retransmitted flight spans several records and datagrams: answer it once, not once per record.
    if (this.now - this.lastResendAt < this.config.initialRetransmitMs / 4) return;
    this.lastResendAt = this.now;
    this.stats.retransmissions++;
    this.transmitFlight();
  }

  private releaseFinalFlight(): void {
    this.finalFlightUntil = undefined;
    if (this.flight !== undefined && !this.flight.expectsReply) this.flight = undefined;
    this.previousRead = undefined;
  }

  private sendAlert(level: AlertLevel, description: AlertDescription): void {
    try {
      this.queueRecord(ContentType.alert, this.writeEpoch, encodeAlert({ level, description }));
    } catch {
      // Sequence space exhausted: nothing more can be sent on this epoch.
    }
  }

  // ---------------------------------------------------------------- failure and close

  /** Runs a handshake step; a thrown error fails the connection. Returns false if it failed. */
  private guard(step: () => void): boolean {
    try {
      step();
      return true;
    } catch (error) {
      this.fail(toDtlsError(error));
      return false;
    }
  }

  private fail(error: DtlsError): void {
    if (this.phase === 'closed') return;
    if (error.alert !== undefined) this.sendAlert(AlertLevel.fatal, error.alert);
    this.finish(error);
  }

  private finish(error: DtlsError | undefined): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.closeError = error;
    this.retransmitAt = undefined;
    this.handshakeDeadline = undefined;
    this.finalFlightUntil = undefined;
    this.flight = undefined;
    this.deferred = [];
    this.pendingRead = undefined;
    this.idleCheckAt = undefined;
    this.events.push({ type: 'closed', error });
    this.onPhaseChange?.('closed');
  }

  private setPhase(phase: 'handshaking' | 'connected'): void {
    this.phase = phase;
    this.onPhaseChange?.(phase);
  }

  get error(): DtlsError | undefined {
    return this.closeError;
  }
}
