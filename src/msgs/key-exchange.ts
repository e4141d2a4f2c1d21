/** ECDHE ServerKeyExchange and ClientKeyExchange (RFC 8422 §5.4 and §5.7, TLS 1.2 signatures per RFC 5246). */
import { PeerMisbehavedError, InvalidMessageError } from '../errors.js';
import { AlertDescription, ECCurveType } from './enums.js';
import { checkUint } from './extensions.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

/**
 * ```
 * enum {
 *     deprecated (1..2),
 *     named_curve (3),
 *     reserved(248..255)
 * } ECCurveType;
 *
 * struct {
 *     ECCurveType    curve_type;
 *     select (curve_type) {
 *         case named_curve:
 *             NamedCurve namedcurve;
 *     };
 * } ECParameters;
 *
 * struct {
 *     opaque point <1..2^8-1>;
 * } ECPoint;
 *
 * struct {
 *     ECParameters    curve_params;
 *     ECPoint         public;
 * } ServerECDHParams;
 * ```
 */
export interface ServerEcdhParams {
  namedGroup: number;
  /** The encoded point (or X25519/X448 public key), a view into the decoded body. */
  publicKey: Uint8Array;
}

/**
 * ```
 * select (KeyExchangeAlgorithm) {
 *     case ec_diffie_hellman:
 *         ServerECDHParams    params;
 *         Signature           signed_params;
 * } ServerKeyExchange;
 *
 * // TLS 1.2 (RFC 5246 §4.7): a digitally-signed element is
 * struct {
 *     SignatureAndHashAlgorithm algorithm;
 *     opaque signature<0..2^16-1>;
 * } DigitallySigned;
 * ```
 * signed over ClientHello.random + ServerHello.random + ServerECDHParams.
 */
export interface ServerKeyExchangeEcdhe {
  params: ServerEcdhParams;
  signatureScheme: number;
  signature: Uint8Array;
}

/** ServerECDHParams: exactly the bytes that are signed (after the two randoms). */
export function encodeServerEcdhParams(p: ServerEcdhParams): Uint8Array {
  const w = new Writer(4 + p.publicKey.length);
  writeServerEcdhParams(w, p);
  return w.finish();
}

function writeServerEcdhParams(w: Writer, p: ServerEcdhParams): void {
  checkUint(p.namedGroup, 0xffff, 'ECParameters.namedcurve');
  if (p.publicKey.length === 0) throw new InvalidMessageError('ServerECDHParams.public is empty');
  w.u8(ECCurveType.named_curve).u16(p.namedGroup).vec8(p.publicKey);
}

function readEcPoint(r: Reader, field: string): Uint8Array {
  const point = r.vec8(field);
  if (point.length === 0) throw new InvalidMessageError(`${field} is empty`);
  return point;
}

export function decodeServerKeyExchangeEcdhe(body: Uint8Array): ServerKeyExchangeEcdhe {
  const r = new Reader(body);
  const curveType = r.u8('ECParameters.curve_type');
  if (curveType !== ECCurveType.named_curve) {
    throw new PeerMisbehavedError(
      'ERR_DTLS_UNSUPPORTED_CURVE_TYPE',
      `ServerKeyExchange curve_type ${curveType} is not named_curve(3)`,
      AlertDescription.illegal_parameter,
    );
  }
  const namedGroup = r.u16('ECParameters.namedcurve');
  const publicKey = readEcPoint(r, 'ServerECDHParams.public');
  const signatureScheme = r.u16('ServerKeyExchange.signed_params.algorithm');
  const signature = r.vec16('ServerKeyExchange.signed_params.signature');
  r.expectEnd('ServerKeyExchange');
  return { params: { namedGroup, publicKey }, signatureScheme, signature };
}

export function encodeServerKeyExchangeEcdhe(m: ServerKeyExchangeEcdhe): Uint8Array {
  checkUint(m.signatureScheme, 0xffff, 'ServerKeyExchange.signed_params.algorithm');
  const w = new Writer(8 + m.params.publicKey.length + m.signature.length);
  writeServerEcdhParams(w, m.params);
  w.u16(m.signatureScheme).vec16(m.signature);
  return w.finish();
}

/**
 * ```
 * struct {
 *     select (PublicValueEncoding) {
 *         case implicit: struct { };
 *         case explicit: ECPoint ecdh_Yc;
 *     } ecdh_public;
 * } ClientECDiffieHellmanPublic;
 *
 * struct {
 *     select (KeyExchangeAlgorithm) {
 *         case ec_diffie_hellman: ClientECDiffieHellmanPublic;
 *     } exchange_keys;
 * } ClientKeyExchange;
 * ```
 * Only the explicit encoding exists for ECDHE (the implicit one was for fixed-ECDH client certificates).
 */
export interface ClientKeyExchangeEcdhe {
  /** ecdh_Yc, non-empty; a view into the decoded body. */
  publicKey: Uint8Array;
}

export function decodeClientKeyExchangeEcdhe(body: Uint8Array): ClientKeyExchangeEcdhe {
  const r = new Reader(body);
  const publicKey = readEcPoint(r, 'ClientKeyExchange.ecdh_Yc');
  r.expectEnd('ClientKeyExchange');
  return { publicKey };
}

export function encodeClientKeyExchangeEcdhe(m: ClientKeyExchangeEcdhe): Uint8Array {
  if (m.publicKey.length === 0) throw new InvalidMessageError('ClientKeyExchange.ecdh_Yc is empty');
  return new Writer(1 + m.publicKey.length).vec8(m.publicKey).finish();
}
