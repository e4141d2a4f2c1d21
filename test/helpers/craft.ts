/**
 * Building blocks for hostile-peer tests (test/sim/strictness*.test.ts, test/fuzz): take genuine datagrams apart
 * into handshake messages, put edited messages back into records, seal records under a session's keys, and a
 * scripted DTLS 1.2 client that runs the handshake against a real server Endpoint step by step, so a test can send
 * any flight 5 it likes — properly encrypted where it must be.
 *
 * Everything here uses the stack's own codecs and key schedule; it is a test peer, not a second implementation.
 */
import assert from 'node:assert/strict';
import type { Connection } from '../../src/core/connection.js';
import { Endpoint, DEFAULT_ENDPOINT_LIMITS, type Remote } from '../../src/core/endpoint.js';
import type { ConnectionEvent } from '../../src/core/events.js';
import { NodeCryptoProvider } from '../../src/crypto/node-provider.js';
import { verifyData } from '../../src/crypto/prf12.js';
import { loadSigningKey } from '../../src/crypto/signing-key.js';
import { suiteById, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, type CipherSuite } from '../../src/crypto/suites.js';
import type { KeyShare } from '../../src/crypto/provider.js';
import { deriveMasterSecret, deriveProtections, type Protections12 } from '../../src/handshake/keys12.js';
import { Reassembler } from '../../src/handshake/reassembler.js';
import { Transcript } from '../../src/handshake/transcript.js';
import type { HandshakeResult } from '../../src/handshake/result.js';
import { decodeAlert, type Alert } from '../../src/msgs/alert.js';
import { encodeCertificate } from '../../src/msgs/certificate.js';
import { decodeCertificateRequest, type CertificateRequest } from '../../src/msgs/certificate-request.js';
import { encodeCertificateVerify } from '../../src/msgs/certificate-verify.js';
import { encodeClientHello, type ClientHello } from '../../src/msgs/client-hello.js';
import { ContentType, ExtensionType, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme } from '../../src/msgs/enums.js';
import {
  encodeEcPointFormats,
  encodeRenegotiationInfo,
  encodeSignatureAlgorithms,
  encodeSupportedGroups,
  type Extension,
} from '../../src/msgs/extensions.js';
import { encodeFinished } from '../../src/msgs/finished.js';
import { decodeHandshakeFragments, encodeHandshakeFragment } from '../../src/msgs/handshake.js';
import { decodeHelloVerifyRequest } from '../../src/msgs/hello-verify-request.js';
import { decodeServerKeyExchangeEcdhe, encodeClientKeyExchangeEcdhe } from '../../src/msgs/key-exchange.js';
import { decodeServerHello } from '../../src/msgs/server-hello.js';
import { parsePemCertificates } from '../../src/pki/credentials.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { sealPlaintextRecord, type RecordProtection12 } from '../../src/record/protection.js';
import type { CertSet } from './certs.js';
import { makeServerConfig, type ServerOptions } from './sim.js';

/** A whole handshake message. */
export interface Msg {
  readonly type: number;
  readonly seq: number;
  readonly body: Uint8Array;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** The unfragmented epoch-0 handshake messages of a datagram, in order (fragments are left out). */
export function plainMessages(datagram: Uint8Array): Msg[] {
  const out: Msg[] = [];
  for (const r of splitDatagram(datagram).records) {
    if (r.header.contentType !== ContentType.handshake || r.header.epoch !== 0) continue;
    for (const f of decodeHandshakeFragments(r.fragment)) {
      if (f.fragmentLength === f.length) out.push({ type: f.msgType, seq: f.messageSeq, body: f.body.slice() });
    }
  }
  return out;
}

/** Sequence number of the first record of a datagram. */
export function firstRecordSeq(datagram: Uint8Array): number {
  return splitDatagram(datagram).records[0]!.header.sequenceNumber;
}

/** One epoch-0 handshake record per message, record sequence numbers from `recordSeq` on, in one datagram. */
export function plainFlight(recordSeq: number, msgs: readonly Msg[], version: number = ProtocolVersion.DTLS1_2): Uint8Array {
  return concat(
    msgs.map((m, i) =>
      sealPlaintextRecord(ContentType.handshake, version, 0, recordSeq + i, encodeHandshakeFragment(m.type, m.body.length, m.seq, 0, m.body)),
    ),
  );
}

/** Gives `msgs` consecutive message_seq from `first`. */
export function renumber(msgs: readonly Msg[], first: number): Msg[] {
  return msgs.map((m, i) => ({ ...m, seq: first + i }));
}

/**
 * Replaces the epoch-0 handshake messages of a datagram by `edit(messages)` (records re-sealed with the original
 * first record sequence number on). Records of other types or epochs are dropped.
 */
export function rewriteFlight(datagram: Uint8Array, edit: (msgs: Msg[]) => Msg[]): Uint8Array {
  return plainFlight(firstRecordSeq(datagram), edit(plainMessages(datagram)));
}

/** A handshake fragment header + body, for hand-made fragments. */
export function fragment(type: number, length: number, seq: number, offset: number, body: Uint8Array): Uint8Array {
  // encodeHandshakeFragment refuses fragments beyond the length; hostile tests need those too.
  const out = new Uint8Array(12 + body.length);
  out[0] = type;
  out[1] = length >>> 16;
  out[2] = length >>> 8;
  out[3] = length;
  out[4] = seq >>> 8;
  out[5] = seq;
  out[6] = offset >>> 16;
  out[7] = offset >>> 8;
  out[8] = offset;
  out[9] = body.length >>> 16;
  out[10] = body.length >>> 8;
  out[11] = body.length;
  out.set(body, 12);
  return out;
}

export function plainRecord(type: number, seq: number, payload: Uint8Array, epoch = 0): Uint8Array {
  return sealPlaintextRecord(type, ProtocolVersion.DTLS1_2, epoch, seq, payload);
}

/** The record protections of an established session, recomputed from what the handshake exported. */
export function sessionKeys(result: HandshakeResult, crypto = new NodeCryptoProvider()): Protections12 {
  return deriveProtections(crypto, result.suite, result.masterSecret, result.clientRandom, result.serverRandom);
}

export function sealed(p: RecordProtection12, type: number, epoch: number, seq: number, payload: Uint8Array): Uint8Array {
  return p.seal(type, ProtocolVersion.DTLS1_2, epoch, seq, payload);
}

/** Highest record sequence number seen in `epoch` among `datagrams`, or -1. */
export function highestSeq(datagrams: readonly Uint8Array[], epoch: number): number {
  let hi = -1;
  for (const d of datagrams) {
    for (const r of splitDatagram(d).records) if (r.header.epoch === epoch) hi = Math.max(hi, r.header.sequenceNumber);
  }
  return hi;
}

/** Alerts in `datagrams`: plaintext ones as they are, protected ones opened with `read` (skipped without it). */
export function alertsIn(datagrams: readonly Uint8Array[], read?: RecordProtection12): Alert[] {
  const out: Alert[] = [];
  for (const d of datagrams) {
    for (const r of splitDatagram(d).records) {
      if (r.header.contentType !== ContentType.alert) continue;
      if (r.header.epoch === 0) out.push(decodeAlert(r.fragment));
      else if (read !== undefined) {
        const p = read.open(r.header, r.fragment);
        if (p !== undefined) out.push(decodeAlert(p));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------- scripted client

/** One thing the scripted client puts into its flight 5 (or later). */
export type Step =
  /** Any message, verbatim (epoch: 0 before our ChangeCipherSpec, 1 after, unless given). */
  | { readonly kind: 'message'; readonly type: number; readonly body: Uint8Array; readonly epoch?: 0 | 1; readonly transcript?: boolean }
  /** Our certificate chain (or an empty list). */
  | { readonly kind: 'certificate'; readonly empty?: boolean }
  /** ClientKeyExchange; derives the master secret and the keys. */
  | { readonly kind: 'client_key_exchange' }
  /** CertificateVerify over the transcript so far. */
  | { readonly kind: 'certificate_verify' }
  | { readonly kind: 'change_cipher_spec' }
  /** Finished over the transcript so far (`tamper` flips a bit of verify_data). */
  | { readonly kind: 'finished'; readonly epoch?: 0 | 1; readonly tamper?: boolean };

export const STEP = {
  cert: { kind: 'certificate' } as Step,
  emptyCert: { kind: 'certificate', empty: true } as Step,
  cke: { kind: 'client_key_exchange' } as Step,
  cv: { kind: 'certificate_verify' } as Step,
  ccs: { kind: 'change_cipher_spec' } as Step,
  fin: { kind: 'finished' } as Step,
  msg: (type: number, body: Uint8Array = new Uint8Array(0), epoch?: 0 | 1): Step => ({ kind: 'message', type, body, ...(epoch !== undefined ? { epoch } : {}) }),
};

export interface ScriptedClientOptions {
  certs: CertSet;
  server?: ServerOptions;
  suite?: CipherSuite;
  remote?: Remote;
}

/**
 * A DTLS 1.2 client written out step by step (RFC 6347 §4.2, RFC 5246 §7.3) against a real server Endpoint, with
 * everything synchronous: `hello()` does flights 1-4, `send(steps)` builds a flight from steps (assigning
 * message_seq and record sequence numbers, keeping the transcript, deriving keys at ClientKeyExchange) and
 * delivers it as one datagram. Every datagram the server sends is kept in `received`.
 */
export class ScriptedClient {
  readonly crypto = new NodeCryptoProvider();
  readonly endpoint: Endpoint;
  readonly remote: Remote;
  readonly suite: CipherSuite;
  readonly transcript = new Transcript();
  readonly received: Uint8Array[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  server: Connection | undefined;
  now = 0;
  /** Next record sequence number per epoch. */
  readonly recordSeq = [0, 0];
  msgSeq = 0;
  readonly random = this.crypto.randomBytes(32);
  serverRandom: Uint8Array | undefined;
  certificateRequest: CertificateRequest | undefined;
  keys: Protections12 | undefined;
  master: Uint8Array | undefined;
  private share: KeyShare | undefined;
  private serverPublic: Uint8Array | undefined;
  private afterCcs = false;
  private readonly chain: Uint8Array[];
  private readonly key: ReturnType<typeof loadSigningKey>;

  constructor(readonly opts: ScriptedClientOptions) {
    this.suite = opts.suite ?? TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
    this.remote = opts.remote ?? { address: '10.9.9.9', port: 5555 };
    const cfg = makeServerConfig({ ca: opts.certs.ca, cert: opts.certs.serverCert, key: opts.certs.serverKey, ...opts.server });
    this.endpoint = new Endpoint(() => cfg, cfg.crypto, DEFAULT_ENDPOINT_LIMITS);
    this.chain = parsePemCertificates(opts.certs.clientCert, 'client cert');
    this.key = loadSigningKey(opts.certs.clientKey);
  }

  /** Hands a datagram to the endpoint and collects what the server sends back and reports. */
  deliver(datagram: Uint8Array): void {
    const r = this.endpoint.handleDatagram(this.now, datagram, this.remote);
    if (r.kind === 'reply') this.received.push(r.datagram);
    else if (r.kind === 'connection') this.server = r.connection;
    this.drain();
  }

  drain(): void {
    const s = this.server;
    if (s === undefined) return;
    for (let d = s.pollTransmit(); d !== undefined; d = s.pollTransmit()) this.received.push(d);
    for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) this.serverEvents.push(e);
  }

  /** Advances the clock and runs the server's timers. */
  advance(ms: number): void {
    this.now += ms;
    const s = this.server;
    const t = s?.pollTimeout();
    if (s !== undefined && t !== undefined && t <= this.now) s.handleTimeout(this.now);
    this.drain();
  }

  private helloMessage(cookie: Uint8Array): ClientHello {
    const exts: Extension[] = [
      { type: ExtensionType.supported_groups, data: encodeSupportedGroups([NamedGroup.x25519, NamedGroup.secp256r1]) },
      { type: ExtensionType.ec_point_formats, data: encodeEcPointFormats([0]) },
      {
        type: ExtensionType.signature_algorithms,
        data: encodeSignatureAlgorithms([SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pkcs1_sha256]),
      },
      { type: ExtensionType.extended_master_secret, data: new Uint8Array(0) },
      { type: ExtensionType.renegotiation_info, data: encodeRenegotiationInfo(new Uint8Array(0)) },
    ];
    return {
      clientVersion: ProtocolVersion.DTLS1_2,
      random: this.random,
      sessionId: new Uint8Array(0),
      cookie,
      cipherSuites: [this.suite.id],
      compressionMethods: [0],
      extensions: exts,
    };
  }

  /** The next plaintext record sequence number (epoch 0). */
  nextPlainSeq(): number {
    return this.recordSeq[0]!++;
  }

  /** Flights 1-4: ClientHello, HelloVerifyRequest, ClientHello with cookie, and the server's flight 4 (parsed). */
  hello(): Msg[] {
    const ch1 = encodeClientHello(this.helloMessage(new Uint8Array(0)));
    this.deliver(plainFlight(this.nextPlainSeq(), [{ type: HandshakeType.client_hello, seq: this.msgSeq++, body: ch1 }]));
    const hvr = plainMessages(this.received.at(-1)!)[0]!;
    assert.equal(hvr.type, HandshakeType.hello_verify_request);
    const cookie = decodeHelloVerifyRequest(hvr.body).cookie;
    const ch2: Msg = { type: HandshakeType.client_hello, seq: this.msgSeq++, body: encodeClientHello(this.helloMessage(cookie)) };
    const before = this.received.length;
    this.deliver(plainFlight(this.nextPlainSeq(), [ch2]));
    assert.ok(this.server !== undefined, 'the server accepted the cookie');
    this.transcript.add(ch2.type, ch2.seq, ch2.body);
    // Flight 4, reassembled.
    const r = new Reassembler({}, 1);
    const msgs: Msg[] = [];
    for (const d of this.received.slice(before)) {
      for (const rec of splitDatagram(d).records) {
        if (rec.header.contentType !== ContentType.handshake) continue;
        for (const f of decodeHandshakeFragments(rec.fragment)) r.add(f);
      }
      for (let m = r.poll(); m !== undefined; m = r.poll()) msgs.push({ type: m.msgType, seq: m.messageSeq, body: m.body });
    }
    for (const m of msgs) {
      this.transcript.add(m.type, m.seq, m.body);
      if (m.type === HandshakeType.server_hello) {
        const sh = decodeServerHello(m.body);
        assert.equal(suiteById(sh.cipherSuite), this.suite);
        this.serverRandom = sh.random;
      } else if (m.type === HandshakeType.server_key_exchange) {
        const ske = decodeServerKeyExchangeEcdhe(m.body);
        this.share = this.crypto.generateKeyShare(ske.params.namedGroup as NamedGroup);
        this.serverPublic = ske.params.publicKey;
      } else if (m.type === HandshakeType.certificate_request) {
        this.certificateRequest = decodeCertificateRequest(m.body);
      }
    }
    assert.equal(msgs.at(-1)?.type, HandshakeType.server_hello_done, 'flight 4 complete');
    return msgs;
  }

  /** Builds the records for `steps` (message_seq and record numbers assigned, transcript kept). */
  build(steps: readonly Step[]): Uint8Array[] {
    const records: Uint8Array[] = [];
    const handshake = (type: number, body: Uint8Array, epoch: 0 | 1, transcript = true): void => {
      const seq = this.msgSeq++;
      if (transcript) this.transcript.add(type, seq, body);
      records.push(this.record(ContentType.handshake, epoch, encodeHandshakeFragment(type, body.length, seq, 0, body)));
    };
    for (const s of steps) {
      const epoch: 0 | 1 = this.afterCcs ? 1 : 0;
      switch (s.kind) {
        case 'message':
          handshake(s.type, s.body, s.epoch ?? epoch, s.transcript ?? true);
          break;
        case 'certificate':
          handshake(HandshakeType.certificate, encodeCertificate({ certificates: s.empty ? [] : this.chain }), epoch);
          break;
        case 'client_key_exchange': {
          assert.ok(this.share && this.serverPublic && this.serverRandom, 'flight 4 was received');
          handshake(HandshakeType.client_key_exchange, encodeClientKeyExchangeEcdhe({ publicKey: this.share.publicKey }), epoch);
          const pre = this.share.deriveSecret(this.serverPublic);
          this.master = deriveMasterSecret(this.crypto, this.suite, pre, true, this.random, this.serverRandom, () => this.transcript.hash(this.crypto, this.suite.hash));
          this.keys = deriveProtections(this.crypto, this.suite, this.master, this.random, this.serverRandom);
          break;
        }
        case 'certificate_verify': {
          const scheme = SignatureScheme.ecdsa_secp256r1_sha256;
          const signature = this.key.sign(scheme, this.transcript.bytes());
          handshake(HandshakeType.certificate_verify, encodeCertificateVerify({ signatureScheme: scheme, signature }), epoch);
          break;
        }
        case 'change_cipher_spec':
          records.push(this.record(ContentType.change_cipher_spec, 0, Uint8Array.of(1)));
          this.afterCcs = true;
          break;
        case 'finished': {
          assert.ok(this.master, 'ClientKeyExchange came first');
          const v = verifyData(this.crypto, this.suite.hash, this.master, 'client finished', this.transcript.hash(this.crypto, this.suite.hash));
          if (s.tamper) v[0]! ^= 1;
          handshake(HandshakeType.finished, encodeFinished(v), s.epoch ?? (this.afterCcs ? 1 : 0));
          break;
        }
      }
    }
    return records;
  }

  /** One record in `epoch` (sealed under our keys for epoch 1). */
  record(type: number, epoch: 0 | 1, payload: Uint8Array): Uint8Array {
    const seq = this.recordSeq[epoch]!++;
    if (epoch === 0) return plainRecord(type, seq, payload);
    assert.ok(this.keys, 'keys derived');
    return sealed(this.keys.client, type, 1, seq, payload);
  }

  /** Builds `steps` and delivers them as one datagram; returns what the server sent in answer. */
  send(steps: readonly Step[]): Uint8Array[] {
    const before = this.received.length;
    this.deliver(concat(this.build(steps)));
    return this.received.slice(before);
  }

  /** Alerts the server sent (protected ones opened with the server's keys once we have them). */
  alerts(): Alert[] {
    return alertsIn(this.received, this.keys?.server);
  }

  get serverConnected(): boolean {
    return this.serverEvents.some((e) => e.type === 'connected');
  }
}

// ---------------------------------------------------------------------------------------------------- memory

/** What a Connection holds on behalf of its peer (read from its private fields, for bounds checks in tests). */
export interface ConnectionMemory {
  /** Claimed bytes of the handshake messages being reassembled. */
  reassemblyBytes: number;
  reassemblyMessages: number;
  deferredRecords: number;
  /** Records queued for sending and not yet polled. */
  outboxRecords: number;
  /** Events not yet polled. */
  pendingEvents: number;
}

export function connectionMemory(c: Connection): ConnectionMemory {
  const x = c as unknown as {
    reassembler: { bufferedBytes: number; pendingMessages: number };
    deferred: unknown[];
    outbox: unknown[];
    events: unknown[];
    eventHead: number;
  };
  const m = {
    reassemblyBytes: x.reassembler.bufferedBytes,
    reassemblyMessages: x.reassembler.pendingMessages,
    deferredRecords: x.deferred.length,
    outboxRecords: x.outbox.length,
    pendingEvents: x.events.length - x.eventHead,
  };
  for (const [k, v] of Object.entries(m)) assert.ok(Number.isInteger(v) && v >= 0, `Connection internals changed: ${k} is ${String(v)}`);
  return m;
}

/** Default bounds (src/core/config.ts DEFAULTS, src/handshake/reassembler.ts DEFAULT_REASSEMBLER_LIMITS). */
export const MEMORY_BOUNDS = {
  reassemblyBytes: 131_072,
  reassemblyMessages: 9,
  deferredRecords: 32,
};

export function assertMemoryBounded(c: Connection, what = ''): ConnectionMemory {
  const m = connectionMemory(c);
  assert.ok(m.reassemblyBytes <= MEMORY_BOUNDS.reassemblyBytes, `${what}: reassembly holds ${m.reassemblyBytes} bytes`);
  assert.ok(m.reassemblyMessages <= MEMORY_BOUNDS.reassemblyMessages, `${what}: reassembly holds ${m.reassemblyMessages} messages`);
  assert.ok(m.deferredRecords <= MEMORY_BOUNDS.deferredRecords, `${what}: ${m.deferredRecords} deferred records`);
  return m;
}

/** Where a Connection's receive side stands (private fields): the next message_seq and the epoch it reads. */
export function receiveState(c: Connection): { nextSeq: number; readEpoch: number } {
  const x = c as unknown as { reassembler: { nextSeq: number }; read: { epoch: number } };
  const v = { nextSeq: x.reassembler.nextSeq, readEpoch: x.read.epoch };
  assert.ok(Number.isInteger(v.nextSeq) && Number.isInteger(v.readEpoch), 'Connection internals changed');
  return v;
}
