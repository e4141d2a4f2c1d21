/**
 * Hello extensions (RFC 5246 §7.4.1.4) and the codecs for the extension bodies this stack understands.
 *
 * Unknown extensions are kept raw (type + data) so they round-trip; a repeated extension type is rejected
 * (RFC 5246 §7.4.1.4: "There MUST NOT be more than one extension of the same type").
 *
 * Strings (server name, ALPN protocol names) are byte strings: one character per byte (latin1), the way Node's
 * tls module reports `alpnProtocol`. Encoders refuse characters above U+00FF rather than silently mangling them.
 */
import { InvalidMessageError, PeerMisbehavedError } from '../errors.js';
import { AlertDescription } from './enums.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

/**
 * ```
 * struct {
 *     ExtensionType extension_type;
 *     opaque extension_data<0..2^16-1>;
 * } Extension;
 * ```
 */
export interface Extension {
  type: number;
  /** The raw extension_data (a view into the decoded message). */
  data: Uint8Array;
}

/**
 * Reads the optional extensions block that ends a ClientHello or ServerHello:
 *
 * ```
 * select (extensions_present) {
 *     case false: struct {};
 *     case true:  Extension extensions<0..2^16-1>;
 * };
 * ```
 *
 * Returns [] when `r` has no bytes left. A present but empty block also yields [] (it re-encodes as an absent
 * block, which means the same). Does not call `r.expectEnd`; the message decoder does.
 */
export function decodeExtensions(r: Reader): Extension[] {
  if (r.atEnd()) return [];
  const block = r.sub(2, 'extensions');
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (!block.atEnd()) {
    const type = block.u16('Extension.extension_type');
    const data = block.vec16('Extension.extension_data');
    if (seen.has(type)) {
      throw new PeerMisbehavedError(
        'ERR_DTLS_DUPLICATE_EXTENSION',
        `extension ${type} appears more than once`,
        AlertDescription.illegal_parameter,
      );
    }
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

/** Writes the u16-prefixed extensions block; writes nothing at all when `exts` is empty. */
export function encodeExtensions(w: Writer, exts: readonly Extension[]): void {
  if (exts.length === 0) return;
  w.lengthPrefixed(2, (b) => {
    for (const e of exts) {
      checkUint(e.type, 0xffff, 'Extension.extension_type');
      b.u16(e.type).vec16(e.data);
    }
  });
}

export function findExtension(exts: readonly Extension[], type: number): Uint8Array | undefined {
  for (const e of exts) if (e.type === type) return e.data;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Shared helpers for the message codecs.

/** Throws InvalidMessageError unless v is an integer in [0, max]. Used by encoders. */
export function checkUint(v: number, max: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new InvalidMessageError(`${field} out of range: ${v}`);
}

/** Reads a vector of uint16 values with a `width`-byte length prefix; the byte length must be even. */
export function readU16List(r: Reader, width: 1 | 2, field: string, nonEmpty: boolean): number[] {
  const v = r.sub(width, field);
  if (v.remaining % 2 !== 0) throw new InvalidMessageError(`${field} has odd length ${v.remaining}`);
  if (nonEmpty && v.remaining === 0) throw new InvalidMessageError(`${field} is empty`);
  const out = new Array<number>(v.remaining / 2);
  for (let i = 0; i < out.length; i++) out[i] = v.u16(field);
  return out;
}

/** Writes a vector of uint16 values with a `width`-byte length prefix. */
export function writeU16List(w: Writer, width: 1 | 2, values: readonly number[], field: string, nonEmpty: boolean): void {
  if (nonEmpty && values.length === 0) throw new InvalidMessageError(`${field} is empty`);
  w.lengthPrefixed(width, (b) => {
    for (const v of values) {
      checkUint(v, 0xffff, field);
      b.u16(v);
    }
  });
}

/** Reads a vector of uint8 values with a `width`-byte length prefix. */
export function readU8List(r: Reader, width: 1 | 2, field: string, nonEmpty: boolean): number[] {
  const v = r.sub(width, field);
  if (nonEmpty && v.remaining === 0) throw new InvalidMessageError(`${field} is empty`);
  const bytes = v.rest();
  // A plain loop: Array.from on a typed array goes through the iterator protocol.
  const out = new Array<number>(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]!;
  return out;
}

export function writeU8List(w: Writer, width: 1 | 2, values: readonly number[], field: string, nonEmpty: boolean): void {
  if (nonEmpty && values.length === 0) throw new InvalidMessageError(`${field} is empty`);
  w.lengthPrefixed(width, (b) => {
    for (const v of values) {
      checkUint(v, 0xff, field);
      b.u8(v);
    }
  });
}

function bytesToLatin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function latin1ToBytes(s: string, field: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new InvalidMessageError(`${field} contains a character above U+00FF`);
    out[i] = c;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// server_name, RFC 6066 §3
//
//   struct {
//       NameType name_type;
//       select (name_type) {
//           case host_name: HostName;
//       } name;
//   } ServerName;
//
//   enum {
//       host_name(0), (255)
//   } NameType;
//
//   opaque HostName<1..2^16-1>;
//
//   struct {
//       ServerName server_name_list<1..2^16-1>
//   } ServerNameList;
//
// Like OpenSSL, exactly one entry of type host_name is accepted: other name types were never defined, the
// list "MUST NOT contain more than one name of the same name_type", and the structure of unknown types cannot
// be skipped safely under RFC 4366. The host name must be printable ASCII (RFC 6066: "represented as a byte
// string using ASCII encoding without a trailing dot"); policy about trailing dots and IP literals is left to
// the caller.

const NAME_TYPE_HOST_NAME = 0;

export function encodeServerName(host: string): Uint8Array {
  const name = latin1ToBytes(host, 'server_name.host_name');
  checkHostName(name);
  const w = new Writer(name.length + 5);
  w.lengthPrefixed(2, (b) => b.u8(NAME_TYPE_HOST_NAME).vec16(name));
  return w.finish();
}

/** The requested host name; undefined for the empty extension a server sends to acknowledge SNI. */
export function decodeServerName(data: Uint8Array): string | undefined {
  if (data.length === 0) return undefined;
  const r = new Reader(data);
  const list = r.sub(2, 'server_name.server_name_list');
  r.expectEnd('server_name');
  if (list.atEnd()) throw new InvalidMessageError('server_name.server_name_list is empty');
  const type = list.u8('ServerName.name_type');
  if (type !== NAME_TYPE_HOST_NAME) throw new InvalidMessageError(`server_name: unsupported name_type ${type}`);
  const name = list.vec16('ServerName.host_name');
  list.expectEnd('server_name.server_name_list (only one host_name allowed)');
  checkHostName(name);
  return bytesToLatin1(name);
}

function checkHostName(name: Uint8Array): void {
  if (name.length === 0) throw new InvalidMessageError('server_name.host_name is empty');
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c < 0x21 || c > 0x7e) throw new InvalidMessageError('server_name.host_name is not printable ASCII');
  }
}

// ---------------------------------------------------------------------------------------------------------
// supported_groups (formerly elliptic_curves), RFC 8422 §5.1.1
//
//   enum { ..., (0xFFFF) } NamedCurve;
//   struct {
//       NamedCurve named_curve_list<2..2^16-1>
//   } NamedCurveList;

export function encodeSupportedGroups(groups: readonly number[]): Uint8Array {
  const w = new Writer(2 + 2 * groups.length);
  writeU16List(w, 2, groups, 'supported_groups.named_curve_list', true);
  return w.finish();
}

export function decodeSupportedGroups(data: Uint8Array): number[] {
  const r = new Reader(data);
  const out = readU16List(r, 2, 'supported_groups.named_curve_list', true);
  r.expectEnd('supported_groups');
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// ec_point_formats, RFC 8422 §5.1.2
//
//   enum {
//       uncompressed (0),
//       deprecated (1..2),
//       reserved (248..255)
//   } ECPointFormat;
//   struct {
//       ECPointFormat ec_point_format_list<1..2^8-1>
//   } ECPointFormatList;

export function encodeEcPointFormats(formats: readonly number[]): Uint8Array {
  const w = new Writer(1 + formats.length);
  writeU8List(w, 1, formats, 'ec_point_formats.ec_point_format_list', true);
  return w.finish();
}

export function decodeEcPointFormats(data: Uint8Array): number[] {
  const r = new Reader(data);
  const out = readU8List(r, 1, 'ec_point_formats.ec_point_format_list', true);
  r.expectEnd('ec_point_formats');
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// signature_algorithms, RFC 5246 §7.4.1.4.1 (values read as RFC 8446 SignatureScheme code points)
//
//   struct {
//         HashAlgorithm hash;
//         SignatureAlgorithm signature;
//   } SignatureAndHashAlgorithm;
//
//   SignatureAndHashAlgorithm
//     supported_signature_algorithms<2..2^16-2>;

export function encodeSignatureAlgorithms(schemes: readonly number[]): Uint8Array {
  const w = new Writer(2 + 2 * schemes.length);
  writeU16List(w, 2, schemes, 'signature_algorithms.supported_signature_algorithms', true);
  return w.finish();
}

export function decodeSignatureAlgorithms(data: Uint8Array): number[] {
  const r = new Reader(data);
  const out = readU16List(r, 2, 'signature_algorithms.supported_signature_algorithms', true);
  r.expectEnd('signature_algorithms');
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// application_layer_protocol_negotiation, RFC 7301 §3.1
//
//   opaque ProtocolName<1..2^8-1>;
//
//   struct {
//       ProtocolName protocol_name_list<2..2^16-1>
//   } ProtocolNameList;
//
// The server's reply uses the same structure with exactly one name; checking that is the caller's job.

export function encodeAlpn(protocols: readonly string[]): Uint8Array {
  if (protocols.length === 0) throw new InvalidMessageError('alpn.protocol_name_list is empty');
  const w = new Writer();
  w.lengthPrefixed(2, (b) => {
    for (const p of protocols) {
      const name = latin1ToBytes(p, 'alpn.ProtocolName');
      if (name.length === 0) throw new InvalidMessageError('alpn.ProtocolName is empty');
      b.vec8(name);
    }
  });
  return w.finish();
}

export function decodeAlpn(data: Uint8Array): string[] {
  const r = new Reader(data);
  const list = r.sub(2, 'alpn.protocol_name_list');
  r.expectEnd('alpn');
  if (list.atEnd()) throw new InvalidMessageError('alpn.protocol_name_list is empty');
  const out: string[] = [];
  while (!list.atEnd()) {
    const name = list.vec8('alpn.ProtocolName');
    if (name.length === 0) throw new InvalidMessageError('alpn.ProtocolName is empty');
    out.push(bytesToLatin1(name));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// renegotiation_info, RFC 5746 §3.2
//
//   struct {
//       opaque renegotiated_connection<0..255>;
//   } RenegotiationInfo;

export function encodeRenegotiationInfo(renegotiatedConnection: Uint8Array): Uint8Array {
  const w = new Writer(1 + renegotiatedConnection.length);
  w.vec8(renegotiatedConnection);
  return w.finish();
}

/** The renegotiated_connection field (empty on an initial handshake). A view. */
export function decodeRenegotiationInfo(data: Uint8Array): Uint8Array {
  const r = new Reader(data);
  const v = r.vec8('renegotiation_info.renegotiated_connection');
  r.expectEnd('renegotiation_info');
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// use_srtp, RFC 5764 §4.1.1
//
//   uint8 SRTPProtectionProfile[2];
//
//   struct {
//      SRTPProtectionProfiles SRTPProtectionProfiles;
//      opaque srtp_mki<0..255>;
//   } UseSRTPData;
//
//   SRTPProtectionProfile SRTPProtectionProfiles<2..2^16-1>;

export function encodeUseSrtp(profiles: readonly number[], mki: Uint8Array): Uint8Array {
  const w = new Writer(3 + 2 * profiles.length + mki.length);
  writeU16List(w, 2, profiles, 'use_srtp.SRTPProtectionProfiles', true);
  w.vec8(mki);
  return w.finish();
}

export function decodeUseSrtp(data: Uint8Array): { profiles: number[]; mki: Uint8Array } {
  const r = new Reader(data);
  const profiles = readU16List(r, 2, 'use_srtp.SRTPProtectionProfiles', true);
  const mki = r.vec8('use_srtp.srtp_mki');
  r.expectEnd('use_srtp');
  return { profiles, mki };
}
