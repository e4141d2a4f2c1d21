/**
 * DTLS 1.2 server handshake (RFC 6347 §4.2, RFC 5246 §7.3), one typed state per expected message. It starts from
 * a ClientHello whose cookie the endpoint already checked (the stateless HelloVerifyRequest exchange lives in
 * core/endpoint.ts, before any per-peer state exists):
 *
 *   ClientHello (with cookie)  -->
 *                              <--  ServerHello, Certificate, ServerKeyExchange, [CertificateRequest], ServerHelloDone
 *   [Certificate], ClientKeyExchange, [CertificateVerify], ChangeCipherSpec, Finished  -->
 *                              <--  ChangeCipherSpec, Finished
 */
import type { KeyShare } from '../crypto/provider.js';
import type { CipherSuite } from '../crypto/suites.js';
import { verifyData } from '../crypto/prf12.js';
import { chooseSignatureScheme } from '../crypto/signature.js';
import {
  AlertDescription,
  ClientCertificateType,
  ExtensionType,
  HandshakeType,
  NamedGroup,
  ProtocolVersion,
} from '../msgs/enums.js';
import {
  decodeAlpn,
  decodeRenegotiationInfo,
  decodeServerName,
  decodeSignatureAlgorithms,
  decodeSupportedGroups,
  encodeAlpn,
  encodeEcPointFormats,
  encodeRenegotiationInfo,
  findExtension,
  type Extension,
} from '../msgs/extensions.js';
import type { ClientHello } from '../msgs/client-hello.js';
import { encodeServerHello } from '../msgs/server-hello.js';
import { decodeCertificate, encodeCertificate } from '../msgs/certificate.js';
import {
  decodeClientKeyExchangeEcdhe,
  encodeServerEcdhParams,
  encodeServerKeyExchangeEcdhe,
} from '../msgs/key-exchange.js';
import { encodeCertificateRequest } from '../msgs/certificate-request.js';
import { decodeCertificateVerify } from '../msgs/certificate-verify.js';
import { decodeFinished, encodeFinished } from '../msgs/finished.js';
import { CertificateError, IncompatibleError, PeerMisbehavedError } from '../errors.js';
import type { VerifiedChain } from '../pki/verifier.js';
import type { HandshakeHost } from './host.js';
import type { HandshakeMessage, Handshake12 } from './handshake12.js';
import { concatBytes, constantTimeEqual, unexpectedMessage } from './util.js';
import { deriveMasterSecret, deriveProtections, type Protections12 } from './keys12.js';
import { chooseAlpn, chooseGroup, chooseSuite } from './negotiate.js';

/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3). */
const EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

interface Negotiated {
  readonly suite: CipherSuite;
  readonly clientRandom: Uint8Array;
  readonly serverRandom: Uint8Array;
  readonly ems: boolean;
  readonly alpn: string | undefined;
  readonly servername: string | undefined;
  readonly share: KeyShare;
}

interface Keys {
  readonly master: Uint8Array;
  readonly protections: Protections12;
}

type ServerState =
  | { readonly kind: 'ExpectClientHello' }
  | { readonly kind: 'ExpectCertificate'; readonly n: Negotiated }
  | { readonly kind: 'ExpectClientKeyExchange'; readonly n: Negotiated; readonly peer: VerifiedChain | undefined }
  | { readonly kind: 'ExpectCertificateVerify'; readonly n: Negotiated; readonly peer: VerifiedChain; readonly keys: Keys }
  | { readonly kind: 'ExpectChangeCipherSpec'; readonly n: Negotiated; readonly peer: VerifiedChain | undefined; readonly keys: Keys }
  | { readonly kind: 'ExpectFinished'; readonly n: Negotiated; readonly peer: VerifiedChain | undefined; readonly keys: Keys }
  | { readonly kind: 'Done' };

export class ServerHandshake12 implements Handshake12 {
  private state: ServerState = { kind: 'ExpectClientHello' };

  constructor(private readonly host: HandshakeHost) {}

  get stateName(): string {
    return this.state.kind;
  }

  get done(): boolean {
    return this.state.kind === 'Done';
  }

  canAcceptChangeCipherSpec(): boolean {
    return this.state.kind === 'ExpectChangeCipherSpec';
  }

  handleChangeCipherSpec(): void {
    const s = this.state;
    if (s.kind !== 'ExpectChangeCipherSpec') throw unexpectedMessage('ChangeCipherSpec', s.kind);
    this.state = { kind: 'ExpectFinished', n: s.n, peer: s.peer, keys: s.keys };
  }

  /** Flight 4, in answer to the ClientHello (already decoded and cookie-checked by the endpoint). */
  start(msg: HandshakeMessage, hello: ClientHello): void {
    if (this.state.kind !== 'ExpectClientHello') throw unexpectedMessage(msg.msgType, this.state.kind);
    const host = this.host;
    const { config, transcript } = host;
    const { crypto } = config;
    const creds = config.credentials;
    if (creds === undefined) throw new IncompatibleError('server has no certificate');

    // DTLS versions count down: 0xfefd is 1.2, 0xfeff is 1.0 (RFC 6347 §4.1).
    if (hello.clientVersion > ProtocolVersion.DTLS1_2) {
      throw new IncompatibleError(`client offers only DTLS version 0x${hello.clientVersion.toString(16)}`, AlertDescription.protocol_version);
    }
    if (!hello.compressionMethods.includes(0)) {
      throw new PeerMisbehavedError('ERR_DTLS_ILLEGAL_PARAMETER', 'client does not offer null compression', AlertDescription.illegal_parameter);
    }
    const ext = (t: number): Uint8Array | undefined => findExtension(hello.extensions, t);
    const suite = chooseSuite(config.cipherSuites, hello.cipherSuites, creds.key.keyType);
    const groupsData = ext(ExtensionType.supported_groups);
    const clientGroups = groupsData === undefined ? undefined : decodeSupportedGroups(groupsData);
    const group = chooseGroup(config.groups, clientGroups);
    // RFC 8422 §5.1.1: in (D)TLS 1.2 supported_groups also names the curves the client can verify ECDSA
    // signatures on, so our certificate's curve must be among them.
    const certCurve = creds.key.keyType === 'ec-p256' ? NamedGroup.secp256r1 : creds.key.keyType === 'ec-p384' ? NamedGroup.secp384r1 : undefined;
    if (certCurve !== undefined && clientGroups !== undefined && !clientGroups.includes(certCurve)) {
      throw new IncompatibleError(`client does not support the curve of our certificate (${creds.key.keyType})`);
    }
    const sigData = ext(ExtensionType.signature_algorithms);
    const clientSchemes = sigData === undefined ? [] : decodeSignatureAlgorithms(sigData);
    const scheme = chooseSignatureScheme(creds.key, clientSchemes.filter((x) => config.signatureSchemes.includes(x)));
    if (scheme === undefined) throw new IncompatibleError('no signature scheme in common with the client');
    const emsData = ext(ExtensionType.extended_master_secret);
    if (emsData !== undefined && emsData.length !== 0) {
      throw new PeerMisbehavedError('ERR_DTLS_ILLEGAL_PARAMETER', 'non-empty extended_master_secret', AlertDescription.decode_error);
    }
    const ems = emsData !== undefined;
    if (!ems && config.requireExtendedMasterSecret) {
      throw new IncompatibleError('client does not support the extended master secret (RFC 7627)');
    }
    const riData = ext(ExtensionType.renegotiation_info);
    if (riData !== undefined && decodeRenegotiationInfo(riData).length !== 0) {
      throw new PeerMisbehavedError('ERR_DTLS_RENEGOTIATION', 'non-empty renegotiation_info in an initial handshake', AlertDescription.handshake_failure);
    }
    const offersRenegotiationInfo = riData !== undefined || hello.cipherSuites.includes(EMPTY_RENEGOTIATION_INFO_SCSV);
    const alpnData = ext(ExtensionType.application_layer_protocol_negotiation);
    const alpn = chooseAlpn(config.alpnProtocols, alpnData === undefined ? undefined : decodeAlpn(alpnData));
    const sniData = ext(ExtensionType.server_name);
    const servername = sniData === undefined ? undefined : decodeServerName(sniData);

    transcript.reset();
    transcript.add(msg.msgType, msg.messageSeq, msg.body);

    const serverRandom = crypto.randomBytes(32);
    const extensions: Extension[] = [];
    if (offersRenegotiationInfo) {
      extensions.push({ type: ExtensionType.renegotiation_info, data: encodeRenegotiationInfo(new Uint8Array(0)) });
    }
    if (ems) extensions.push({ type: ExtensionType.extended_master_secret, data: new Uint8Array(0) });
    if (ext(ExtensionType.ec_point_formats) !== undefined) {
      extensions.push({ type: ExtensionType.ec_point_formats, data: encodeEcPointFormats([0]) });
    }
    if (alpn !== undefined) {
      extensions.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn([alpn]) });
    }
    host.sendHandshake(
      HandshakeType.server_hello,
      encodeServerHello({
        serverVersion: ProtocolVersion.DTLS1_2,
        random: serverRandom,
        sessionId: new Uint8Array(0),
        cipherSuite: suite.id,
        compressionMethod: 0,
        extensions,
      }),
    );
    host.sendHandshake(HandshakeType.certificate, encodeCertificate({ certificates: [...creds.chain] }));

    const share = crypto.generateKeyShare(group);
    const params = { namedGroup: group, publicKey: share.publicKey };
    const signed = concatBytes(hello.random, serverRandom, encodeServerEcdhParams(params));
    host.sendHandshake(
      HandshakeType.server_key_exchange,
      encodeServerKeyExchangeEcdhe({ params, signatureScheme: scheme, signature: creds.key.sign(scheme, signed) }),
    );
    if (config.requestClientCertificate) {
      host.sendHandshake(
        HandshakeType.certificate_request,
        encodeCertificateRequest({
          certificateTypes: [ClientCertificateType.ecdsa_sign, ClientCertificateType.rsa_sign],
          signatureSchemes: [...config.signatureSchemes],
          certificateAuthorities: [],
        }),
      );
    }
    host.sendHandshake(HandshakeType.server_hello_done, new Uint8Array(0));
    host.flushFlight(true);

    // The random is copied: the result keeps it for the connection's lifetime (exporters, RFC 5705), and a view
    // would keep the whole ClientHello with it.
    const n: Negotiated = { suite, clientRandom: hello.random.slice(), serverRandom, ems, alpn, servername, share };
    this.state = config.requestClientCertificate ? { kind: 'ExpectCertificate', n } : { kind: 'ExpectClientKeyExchange', n, peer: undefined };
  }

  handleMessage(msg: HandshakeMessage): void {
    const s = this.state;
    switch (s.kind) {
      case 'ExpectCertificate':
        if (msg.msgType === HandshakeType.certificate) return this.onCertificate(s, msg);
        break;
      case 'ExpectClientKeyExchange':
        if (msg.msgType === HandshakeType.client_key_exchange) return this.onClientKeyExchange(s, msg);
        break;
      case 'ExpectCertificateVerify':
        if (msg.msgType === HandshakeType.certificate_verify) return this.onCertificateVerify(s, msg);
        break;
      case 'ExpectFinished':
        if (msg.msgType === HandshakeType.finished) return this.onFinished(s, msg);
        break;
      case 'ExpectClientHello':
      case 'ExpectChangeCipherSpec':
      case 'Done':
        break;
    }
    throw unexpectedMessage(msg.msgType, s.kind);
  }

  /** RFC 5246 §7.4.6: the client's Certificate, possibly empty. */
  private onCertificate(s: Extract<ServerState, { kind: 'ExpectCertificate' }>, msg: HandshakeMessage): void {
    const { config, transcript } = this.host;
    const cert = decodeCertificate(msg.body);
    let peer: VerifiedChain | undefined;
    if (cert.certificates.length === 0) {
      if (config.requireClientCertificate) {
        throw new CertificateError('ERR_DTLS_CLIENT_CERTIFICATE_REQUIRED', 'client sent no certificate but one is required', AlertDescription.handshake_failure);
      }
    } else {
      const verify = config.verifyPeer;
      if (verify === undefined) throw new CertificateError('ERR_DTLS_NO_VERIFIER', 'no certificate verifier configured');
      peer = verify(cert.certificates, 'client', undefined);
      if (peer.leaf.keyType === 'other') {
        throw new CertificateError('ERR_DTLS_UNSUPPORTED_CERTIFICATE', 'client certificate has an unsupported key type', AlertDescription.unsupported_certificate);
      }
    }
    transcript.add(msg.msgType, msg.messageSeq, msg.body);
    this.state = { kind: 'ExpectClientKeyExchange', n: s.n, peer };
  }

  private onClientKeyExchange(s: Extract<ServerState, { kind: 'ExpectClientKeyExchange' }>, msg: HandshakeMessage): void {
    const host = this.host;
    const { config, transcript } = host;
    const { crypto } = config;
    const cke = decodeClientKeyExchangeEcdhe(msg.body);
    const preMaster = s.n.share.deriveSecret(cke.publicKey);
    transcript.add(msg.msgType, msg.messageSeq, msg.body);
    const { suite, clientRandom, serverRandom, ems } = s.n;
    const master = deriveMasterSecret(crypto, suite, preMaster, ems, clientRandom, serverRandom, () => transcript.hash(crypto, suite.hash));
    const protections = deriveProtections(crypto, suite, master, clientRandom, serverRandom);
    host.setPendingReadProtection(protections.client);
    const keys: Keys = { master, protections };
    // A client that sent a certificate must prove it holds the key (RFC 5246 §7.4.8; pion CVE-2022-29222).
    this.state = s.peer !== undefined
      ? { kind: 'ExpectCertificateVerify', n: s.n, peer: s.peer, keys }
      : { kind: 'ExpectChangeCipherSpec', n: s.n, peer: undefined, keys };
  }

  private onCertificateVerify(s: Extract<ServerState, { kind: 'ExpectCertificateVerify' }>, msg: HandshakeMessage): void {
    const { config, transcript } = this.host;
    const cv = decodeCertificateVerify(msg.body);
    if (!config.signatureSchemes.includes(cv.signatureScheme)) {
      throw new PeerMisbehavedError('ERR_DTLS_ILLEGAL_PARAMETER', `client signed with scheme 0x${cv.signatureScheme.toString(16)} we did not offer`, AlertDescription.illegal_parameter);
    }
    if (!config.crypto.verify(cv.signatureScheme, s.peer.leaf.publicKeySpki, transcript.bytes(), cv.signature)) {
      throw new PeerMisbehavedError('ERR_DTLS_BAD_SIGNATURE', 'client CertificateVerify does not verify', AlertDescription.decrypt_error);
    }
    transcript.add(msg.msgType, msg.messageSeq, msg.body);
    this.state = { kind: 'ExpectChangeCipherSpec', n: s.n, peer: s.peer, keys: s.keys };
  }

  /** Check the client's Finished, then flight 6: ChangeCipherSpec, Finished. */
  private onFinished(s: Extract<ServerState, { kind: 'ExpectFinished' }>, msg: HandshakeMessage): void {
    const host = this.host;
    const { config, transcript } = host;
    const { crypto } = config;
    const { suite } = s.n;
    const received = decodeFinished(msg.body);
    const expected = verifyData(crypto, suite.hash, s.keys.master, 'client finished', transcript.hash(crypto, suite.hash));
    if (!constantTimeEqual(received, expected)) {
      throw new PeerMisbehavedError('ERR_DTLS_BAD_FINISHED', 'client Finished does not verify', AlertDescription.decrypt_error);
    }
    transcript.add(msg.msgType, msg.messageSeq, msg.body);
    host.sendChangeCipherSpec(s.keys.protections.server);
    const finished = verifyData(crypto, suite.hash, s.keys.master, 'server finished', transcript.hash(crypto, suite.hash));
    host.sendHandshake(HandshakeType.finished, encodeFinished(finished));
    host.flushFlight(false);
    this.state = { kind: 'Done' };
    host.complete({
      protocol: 'DTLSv1.2',
      suite,
      group: s.n.share.group,
      extendedMasterSecret: s.n.ems,
      peer: s.peer,
      alpnProtocol: s.n.alpn,
      servername: s.n.servername,
      masterSecret: s.keys.master,
      clientRandom: s.n.clientRandom,
      serverRandom: s.n.serverRandom,
    });
  }
}
