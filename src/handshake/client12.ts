/**
 * DTLS 1.2 client handshake (RFC 6347 §4.2, RFC 5246 §7.3), one typed state per expected message:
 *
 *   ClientHello            -->
 *                          <--  HelloVerifyRequest (optional, then ClientHello again with the cookie)
 *                          <--  ServerHello, Certificate, ServerKeyExchange, [CertificateRequest], ServerHelloDone
 *   [Certificate], ClientKeyExchange, [CertificateVerify], ChangeCipherSpec, Finished  -->
 *                          <--  ChangeCipherSpec, Finished
 */
import { isIP } from 'node:net';
import type { KeyShare } from '../crypto/provider.js';
import type { CipherSuite } from '../crypto/suites.js';
import { suiteById } from '../crypto/suites.js';
import { verifyData } from '../crypto/prf12.js';
import { chooseSignatureScheme } from '../crypto/signature.js';
import { AlertDescription, ExtensionType, HandshakeType, ProtocolVersion } from '../msgs/enums.js';
import type { Extension } from '../msgs/extensions.js';
import {
  decodeAlpn,
  decodeRenegotiationInfo,
  encodeAlpn,
  encodeEcPointFormats,
  encodeRenegotiationInfo,
  encodeServerName,
  encodeSignatureAlgorithms,
  encodeSupportedGroups,
} from '../msgs/extensions.js';
import { encodeClientHello, type ClientHello } from '../msgs/client-hello.js';
import { decodeHelloVerifyRequest } from '../msgs/hello-verify-request.js';
import { decodeServerHello } from '../msgs/server-hello.js';
import { decodeCertificate, encodeCertificate } from '../msgs/certificate.js';
import {
  decodeServerKeyExchangeEcdhe,
  encodeClientKeyExchangeEcdhe,
  encodeServerEcdhParams,
} from '../msgs/key-exchange.js';
import { decodeCertificateRequest, type CertificateRequest } from '../msgs/certificate-request.js';
import { decodeServerHelloDone } from '../msgs/server-hello-done.js';
import { encodeCertificateVerify } from '../msgs/certificate-verify.js';
import { decodeFinished, encodeFinished } from '../msgs/finished.js';
import { CertificateError, IncompatibleError, InvalidMessageError, PeerMisbehavedError } from '../errors.js';
import type { VerifiedChain } from '../pki/verifier.js';
import type { HandshakeHost } from './host.js';
import type { HandshakeMessage, Handshake12 } from './handshake12.js';
import { concatBytes, constantTimeEqual, unexpectedMessage } from './util.js';
import { deriveMasterSecret, deriveProtections } from './keys12.js';
import { suiteFitsKey } from './negotiate.js';

/** How many HelloVerifyRequests we follow before giving up (a server that keeps changing its cookie). */
const MAX_HELLO_VERIFY_REQUESTS = 4;

interface Negotiated {
  readonly suite: CipherSuite;
  readonly clientRandom: Uint8Array;
  readonly serverRandom: Uint8Array;
  readonly ems: boolean;
  readonly alpn: string | undefined;
}

interface Keys {
  readonly master: Uint8Array;
  readonly group: number;
}

type ClientState =
  | { readonly kind: 'Start' }
  | { readonly kind: 'ExpectServerHello'; readonly hello: ClientHello; readonly verifyRequests: number }
  | { readonly kind: 'ExpectCertificate'; readonly n: Negotiated }
  | { readonly kind: 'ExpectServerKeyExchange'; readonly n: Negotiated; readonly peer: VerifiedChain }
  | {
      readonly kind: 'ExpectCertificateRequestOrDone';
      readonly n: Negotiated;
      readonly peer: VerifiedChain;
      readonly share: KeyShare;
      readonly serverPublic: Uint8Array;
    }
  | {
      readonly kind: 'ExpectServerHelloDone';
      readonly n: Negotiated;
      readonly peer: VerifiedChain;
      readonly share: KeyShare;
      readonly serverPublic: Uint8Array;
      readonly request: CertificateRequest;
    }
  | { readonly kind: 'ExpectChangeCipherSpec'; readonly n: Negotiated; readonly peer: VerifiedChain; readonly keys: Keys }
  | { readonly kind: 'ExpectFinished'; readonly n: Negotiated; readonly peer: VerifiedChain; readonly keys: Keys }
  | { readonly kind: 'Done' };

export class ClientHandshake12 implements Handshake12 {
  private state: ClientState = { kind: 'Start' };

  constructor(private readonly host: HandshakeHost) {}

  get stateName(): string {
    return this.state.kind;
  }

  get done(): boolean {
    return this.state.kind === 'Done';
  }

  /** Flight 1: the first ClientHello (no cookie). */
  start(): void {
    if (this.state.kind !== 'Start') return;
    const { config } = this.host;
    const hello: ClientHello = {
      clientVersion: ProtocolVersion.DTLS1_2,
      random: config.crypto.randomBytes(32),
      sessionId: new Uint8Array(0),
      cookie: new Uint8Array(0),
      cipherSuites: config.cipherSuites.map((s) => s.id),
      compressionMethods: [0],
      extensions: this.helloExtensions(),
    };
    this.sendHello(hello);
    this.state = { kind: 'ExpectServerHello', hello, verifyRequests: 0 };
  }

  private helloExtensions(): Extension[] {
    const { config } = this.host;
    const exts: Extension[] = [];
    const sni = config.servername;
    if (sni !== undefined && sni.length > 0 && isIP(sni.replace(/^\[|\]$/g, '')) === 0) {
      exts.push({ type: ExtensionType.server_name, data: encodeServerName(sni) });
    }
    exts.push({ type: ExtensionType.supported_groups, data: encodeSupportedGroups(config.groups) });
    exts.push({ type: ExtensionType.ec_point_formats, data: encodeEcPointFormats([0]) });
    exts.push({ type: ExtensionType.signature_algorithms, data: encodeSignatureAlgorithms(config.signatureSchemes) });
    if (config.alpnProtocols.length > 0) {
      exts.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(config.alpnProtocols) });
    }
    exts.push({ type: ExtensionType.extended_master_secret, data: new Uint8Array(0) });
    exts.push({ type: ExtensionType.renegotiation_info, data: encodeRenegotiationInfo(new Uint8Array(0)) });
    return exts;
  }

  private sendHello(hello: ClientHello): void {
    const body = encodeClientHello(hello);
    // The ClientHello is hashed only once it is known to be the one the server answers (RFC 6347 §4.2.1).
    this.pendingHelloSeq = this.host.sendHandshake(HandshakeType.client_hello, body, { transcript: false });
    this.pendingHelloBody = body;
    this.host.flushFlight(true);
  }

  private pendingHelloBody: Uint8Array | undefined;
  private pendingHelloSeq = 0;

  canAcceptChangeCipherSpec(): boolean {
    return this.state.kind === 'ExpectChangeCipherSpec';
  }

  handleChangeCipherSpec(): void {
    const s = this.state;
    if (s.kind !== 'ExpectChangeCipherSpec') throw unexpectedMessage('ChangeCipherSpec', s.kind);
    this.state = { kind: 'ExpectFinished', n: s.n, peer: s.peer, keys: s.keys };
  }

  handleMessage(msg: HandshakeMessage): void {
    const s = this.state;
    // RFC 5246 §7.4.1.1: a HelloRequest "will be ignored by the client if the client is currently negotiating a
    // session"; it is not part of the transcript. (OpenSSL's DTLS client does the same.)
    if (msg.msgType === HandshakeType.hello_request && s.kind !== 'Start' && s.kind !== 'Done') {
      if (msg.body.length !== 0) throw new InvalidMessageError(`HelloRequest has ${msg.body.length} bytes, expected none`);
      return;
    }
    switch (s.kind) {
      case 'ExpectServerHello':
        if (msg.msgType === HandshakeType.hello_verify_request) return this.onHelloVerifyRequest(s, msg);
        if (msg.msgType === HandshakeType.server_hello) return this.onServerHello(s, msg);
        break;
      case 'ExpectCertificate':
        if (msg.msgType === HandshakeType.certificate) return this.onCertificate(s, msg);
        break;
      case 'ExpectServerKeyExchange':
        if (msg.msgType === HandshakeType.server_key_exchange) return this.onServerKeyExchange(s, msg);
        break;
      case 'ExpectCertificateRequestOrDone':
        if (msg.msgType === HandshakeType.certificate_request) return this.onCertificateRequest(s, msg);
        if (msg.msgType === HandshakeType.server_hello_done) return this.onServerHelloDone(s, undefined, msg);
        break;
      case 'ExpectServerHelloDone':
        if (msg.msgType === HandshakeType.server_hello_done) return this.onServerHelloDone(s, s.request, msg);
        break;
      case 'ExpectFinished':
        if (msg.msgType === HandshakeType.finished) return this.onFinished(s, msg);
        break;
      case 'Start':
      case 'ExpectChangeCipherSpec':
      case 'Done':
        break;
    }
    throw unexpectedMessage(msg.msgType, s.kind);
  }

  /** RFC 6347 §4.2.1: resend the ClientHello with the cookie; neither hello so far enters the transcript. */
  private onHelloVerifyRequest(s: Extract<ClientState, { kind: 'ExpectServerHello' }>, msg: HandshakeMessage): void {
    const hvr = decodeHelloVerifyRequest(msg.body);
    if (hvr.serverVersion !== ProtocolVersion.DTLS1_0 && hvr.serverVersion !== ProtocolVersion.DTLS1_2) {
      throw new IncompatibleError(`HelloVerifyRequest with version 0x${hvr.serverVersion.toString(16)}`, AlertDescription.protocol_version);
    }
    if (s.verifyRequests >= MAX_HELLO_VERIFY_REQUESTS) {
      throw new PeerMisbehavedError('ERR_DTLS_TOO_MANY_HELLO_VERIFY_REQUESTS', 'server sent too many HelloVerifyRequests');
    }
    const hello: ClientHello = { ...s.hello, cookie: hvr.cookie };
    this.sendHello(hello);
    this.state = { kind: 'ExpectServerHello', hello, verifyRequests: s.verifyRequests + 1 };
  }

  private onServerHello(s: Extract<ClientState, { kind: 'ExpectServerHello' }>, msg: HandshakeMessage): void {
    const { config, transcript } = this.host;
    const sh = decodeServerHello(msg.body);
    if (sh.serverVersion !== ProtocolVersion.DTLS1_2) {
      throw new IncompatibleError(`server chose version 0x${sh.serverVersion.toString(16)}`, AlertDescription.protocol_version);
    }
    const suite = suiteById(sh.cipherSuite);
    if (suite === undefined || !config.cipherSuites.includes(suite)) {
      throw new PeerMisbehavedError('ERR_DTLS_ILLEGAL_PARAMETER', 'server chose a cipher suite we did not offer', AlertDescription.illegal_parameter);
    }
    if (sh.compressionMethod !== 0) {
      throw new PeerMisbehavedError('ERR_DTLS_ILLEGAL_PARAMETER', 'server chose compression', AlertDescription.illegal_parameter);
    }
    const offered = new Set(s.hello.extensions.map((e) => e.type));
    let ems = false;
    let alpn: string | undefined;
    for (const e of sh.extensions) {
      if (!offered.has(e.type)) {
        throw new PeerMisbehavedError('ERR_DTLS_UNSUPPORTED_EXTENSION', `server sent extension ${e.type} we did not offer`, AlertDescription.unsupported_extension);
      }
      if (e.type === ExtensionType.extended_master_secret) {
        if (e.data.length !== 0) throw new PeerMisbehavedError('ERR_DTLS_ILLEGAL_PARAMETER', 'non-empty extended_master_secret', AlertDescription.decode_error);
        ems = true;
      } else if (e.type === ExtensionType.renegotiation_info) {
        if (decodeRenegotiationInfo(e.data).length !== 0) {
          throw new PeerMisbehavedError('ERR_DTLS_RENEGOTIATION', 'non-empty renegotiation_info in an initial handshake', AlertDescription.handshake_failure);
        }
      } else if (e.type === ExtensionType.application_layer_protocol_negotiation) {
        const list = decodeAlpn(e.data);
        if (list.length !== 1 || !config.alpnProtocols.includes(list[0]!)) {
          throw new PeerMisbehavedError('ERR_DTLS_ILLEGAL_PARAMETER', 'server selected an ALPN protocol we did not offer', AlertDescription.illegal_parameter);
        }
        alpn = list[0];
      }
    }
    if (!ems && config.requireExtendedMasterSecret) {
      throw new IncompatibleError('server does not support the extended master secret (RFC 7627)');
    }
    // This hello is the one answered: it and the ServerHello start the transcript.
    transcript.reset();
    transcript.add(HandshakeType.client_hello, this.pendingHelloSeq, this.pendingHelloBody ?? encodeClientHello(s.hello));
    this.pendingHelloBody = undefined; // in the transcript now; not kept for the connection's lifetime
    transcript.add(msg.msgType, msg.messageSeq, msg.body);
    this.state = {
      kind: 'ExpectCertificate',
      // serverRandom copied: the result keeps it for the connection's lifetime (exporters), and a view would keep
      // the whole ServerHello with it.
      n: { suite, clientRandom: s.hello.random, serverRandom: sh.random.slice(), ems, alpn },
    };
  }

  private onCertificate(s: Extract<ClientState, { kind: 'ExpectCertificate' }>, msg: HandshakeMessage): void {
    const { config, transcript } = this.host;
    const cert = decodeCertificate(msg.body);
    if (cert.certificates.length === 0) {
      throw new CertificateError('ERR_DTLS_NO_CERTIFICATE', 'server sent no certificate', AlertDescription.handshake_failure);
    }
    const verify = config.verifyPeer;
    if (verify === undefined) throw new CertificateError('ERR_DTLS_NO_VERIFIER', 'no certificate verifier configured');
    const peer = verify(cert.certificates, 'server', config.servername);
    if (!suiteFitsKey(s.n.suite, peer.leaf.keyType)) {
      throw new CertificateError('ERR_DTLS_CERT_KEY_MISMATCH', `server certificate key (${peer.leaf.keyType}) does not fit ${s.n.suite.name}`, AlertDescription.unsupported_certificate);
    }
    transcript.add(msg.msgType, msg.messageSeq, msg.body);
    this.state = { kind: 'ExpectServerKeyExchange', n: s.n, peer };
  }

  /** RFC 8422 §5.4: check the group and the signature over client_random ‖ server_random ‖ ServerECDHParams. */
  private onServerKeyExchange(s: Extract<ClientState, { kind: 'ExpectServerKeyExchange' }>, msg: HandshakeMessage): void {
    const { config, transcript } = this.host;
    const ske = decodeServerKeyExchangeEcdhe(msg.body);
    if (!config.groups.includes(ske.params.namedGroup)) {
      throw new PeerMisbehavedError('ERR_DTLS_ILLEGAL_PARAMETER', `server chose group ${ske.params.namedGroup} we did not offer`, AlertDescription.illegal_parameter);
    }
    if (!config.signatureSchemes.includes(ske.signatureScheme)) {
      throw new PeerMisbehavedError('ERR_DTLS_ILLEGAL_PARAMETER', `server signed with scheme 0x${ske.signatureScheme.toString(16)} we did not offer`, AlertDescription.illegal_parameter);
    }
    const signed = concatBytes(s.n.clientRandom, s.n.serverRandom, encodeServerEcdhParams(ske.params));
    if (!config.crypto.verify(ske.signatureScheme, s.peer.leaf.publicKeySpki, signed, ske.signature)) {
      throw new PeerMisbehavedError('ERR_DTLS_BAD_SIGNATURE', 'ServerKeyExchange signature does not verify', AlertDescription.decrypt_error);
    }
    const share = config.crypto.generateKeyShare(ske.params.namedGroup);
    transcript.add(msg.msgType, msg.messageSeq, msg.body);
    this.state = { kind: 'ExpectCertificateRequestOrDone', n: s.n, peer: s.peer, share, serverPublic: ske.params.publicKey };
  }

  private onCertificateRequest(s: Extract<ClientState, { kind: 'ExpectCertificateRequestOrDone' }>, msg: HandshakeMessage): void {
    const request = decodeCertificateRequest(msg.body);
    this.host.transcript.add(msg.msgType, msg.messageSeq, msg.body);
    this.state = { ...s, kind: 'ExpectServerHelloDone', request };
  }

  /** Flight 5: [Certificate], ClientKeyExchange, [CertificateVerify], ChangeCipherSpec, Finished. */
  private onServerHelloDone(
    s: Extract<ClientState, { kind: 'ExpectCertificateRequestOrDone' | 'ExpectServerHelloDone' }>,
    request: CertificateRequest | undefined,
    msg: HandshakeMessage,
  ): void {
    const host = this.host;
    const { config, transcript } = host;
    const { crypto } = config;
    decodeServerHelloDone(msg.body);
    transcript.add(msg.msgType, msg.messageSeq, msg.body);

    const preMaster = s.share.deriveSecret(s.serverPublic);
    let signScheme: number | undefined;
    if (request !== undefined) {
      const creds = config.credentials;
      if (creds !== undefined) {
        const certType = creds.key.keyType === 'rsa' ? 1 : 64;
        // Only a scheme both the server asked for and our own configuration allows.
        const scheme = chooseSignatureScheme(creds.key, request.signatureSchemes.filter((x) => config.signatureSchemes.includes(x)));
        if (request.certificateTypes.includes(certType) && scheme !== undefined) signScheme = scheme;
      }
      host.sendHandshake(HandshakeType.certificate, encodeCertificate({ certificates: signScheme !== undefined ? [...creds!.chain] : [] }));
    }
    host.sendHandshake(HandshakeType.client_key_exchange, encodeClientKeyExchangeEcdhe({ publicKey: s.share.publicKey }));
    const { suite, clientRandom, serverRandom, ems } = s.n;
    const master = deriveMasterSecret(crypto, suite, preMaster, ems, clientRandom, serverRandom, () => transcript.hash(crypto, suite.hash));
    if (signScheme !== undefined) {
      const signature = config.credentials!.key.sign(signScheme, transcript.bytes());
      host.sendHandshake(HandshakeType.certificate_verify, encodeCertificateVerify({ signatureScheme: signScheme, signature }));
    }
    const keys = deriveProtections(crypto, suite, master, clientRandom, serverRandom);
    host.setPendingReadProtection(keys.server);
    host.sendChangeCipherSpec(keys.client);
    const finished = verifyData(crypto, suite.hash, master, 'client finished', transcript.hash(crypto, suite.hash));
    host.sendHandshake(HandshakeType.finished, encodeFinished(finished));
    host.flushFlight(true);
    this.state = { kind: 'ExpectChangeCipherSpec', n: s.n, peer: s.peer, keys: { master, group: s.share.group } };
  }

  private onFinished(s: Extract<ClientState, { kind: 'ExpectFinished' }>, msg: HandshakeMessage): void {
    const { config, transcript } = this.host;
    const { crypto } = config;
    const received = decodeFinished(msg.body);
    const expected = verifyData(crypto, s.n.suite.hash, s.keys.master, 'server finished', transcript.hash(crypto, s.n.suite.hash));
    if (!constantTimeEqual(received, expected)) {
      throw new PeerMisbehavedError('ERR_DTLS_BAD_FINISHED', 'server Finished does not verify', AlertDescription.decrypt_error);
    }
    transcript.add(msg.msgType, msg.messageSeq, msg.body);
    this.state = { kind: 'Done' };
    this.host.complete({
      protocol: 'DTLSv1.2',
      suite: s.n.suite,
      group: s.keys.group,
      extendedMasterSecret: s.n.ems,
      peer: s.peer,
      alpnProtocol: s.n.alpn,
      servername: config.servername,
      masterSecret: s.keys.master,
      clientRandom: s.n.clientRandom,
      serverRandom: s.n.serverRandom,
    });
  }
}
