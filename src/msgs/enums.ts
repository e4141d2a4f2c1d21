/**
 * Protocol enums. They are open: a wire value that is not listed here is still a number and round-trips;
 * `nameOf` gives a printable name for diagnostics.
 */

/** RFC 6347 §4.1 / RFC 9146 ContentType */
export const enum ContentType {
  change_cipher_spec = 20,
  alert = 21,
  handshake = 22,
  application_data = 23,
  tls12_cid = 25,
  ack = 26,
}

/** RFC 6347 §4.3.2 HandshakeType */
export const enum HandshakeType {
  hello_request = 0,
  client_hello = 1,
  server_hello = 2,
  hello_verify_request = 3,
  new_session_ticket = 4,
  end_of_early_data = 5,
  hello_retry_request = 6,
  encrypted_extensions = 8,
  certificate = 11,
  server_key_exchange = 12,
  certificate_request = 13,
  server_hello_done = 14,
  certificate_verify = 15,
  client_key_exchange = 16,
  finished = 20,
  key_update = 24,
  message_hash = 254,
}

/** RFC 5246 §7.2 AlertLevel */
export const enum AlertLevel {
  warning = 1,
  fatal = 2,
}

/** RFC 5246 §7.2 / RFC 8446 §6 AlertDescription */
export enum AlertDescription {
  close_notify = 0,
  unexpected_message = 10,
  bad_record_mac = 20,
  record_overflow = 22,
  handshake_failure = 40,
  bad_certificate = 42,
  unsupported_certificate = 43,
  certificate_revoked = 44,
  certificate_expired = 45,
  certificate_unknown = 46,
  illegal_parameter = 47,
  unknown_ca = 48,
  access_denied = 49,
  decode_error = 50,
  decrypt_error = 51,
  protocol_version = 70,
  insufficient_security = 71,
  internal_error = 80,
  inappropriate_fallback = 86,
  user_canceled = 90,
  no_renegotiation = 100,
  missing_extension = 109,
  unsupported_extension = 110,
  unrecognized_name = 112,
  bad_certificate_status_response = 113,
  unknown_psk_identity = 115,
  certificate_required = 116,
  no_application_protocol = 120,
}

/** IANA TLS ExtensionType values used by this stack. */
export const enum ExtensionType {
  server_name = 0,
  max_fragment_length = 1,
  status_request = 5,
  supported_groups = 10,
  ec_point_formats = 11,
  signature_algorithms = 13,
  use_srtp = 14,
  heartbeat = 15,
  application_layer_protocol_negotiation = 16,
  encrypt_then_mac = 22,
  extended_master_secret = 23,
  record_size_limit = 28,
  session_ticket = 35,
  pre_shared_key = 41,
  early_data = 42,
  supported_versions = 43,
  cookie = 44,
  psk_key_exchange_modes = 45,
  certificate_authorities = 47,
  signature_algorithms_cert = 50,
  key_share = 51,
  connection_id = 54,
  renegotiation_info = 0xff01,
}

/** IANA TLS NamedGroup (RFC 8422, RFC 7919) */
export const enum NamedGroup {
  secp256r1 = 23,
  secp384r1 = 24,
  secp521r1 = 25,
  x25519 = 29,
  x448 = 30,
}

/** IANA TLS SignatureScheme (RFC 8446 §4.2.3) */
export const enum SignatureScheme {
  rsa_pkcs1_sha256 = 0x0401,
  rsa_pkcs1_sha384 = 0x0501,
  rsa_pkcs1_sha512 = 0x0601,
  ecdsa_secp256r1_sha256 = 0x0403,
  ecdsa_secp384r1_sha384 = 0x0503,
  ecdsa_secp521r1_sha512 = 0x0603,
  rsa_pss_rsae_sha256 = 0x0804,
  rsa_pss_rsae_sha384 = 0x0805,
  rsa_pss_rsae_sha512 = 0x0806,
  ed25519 = 0x0807,
  ed448 = 0x0808,
  rsa_pss_pss_sha256 = 0x0809,
}

/** DTLS ProtocolVersion wire values (one's complement of TLS). */
export const enum ProtocolVersion {
  DTLS1_0 = 0xfeff,
  DTLS1_2 = 0xfefd,
  DTLS1_3 = 0xfefc,
}

/** RFC 8422 §5.4 ECCurveType */
export const enum ECCurveType {
  named_curve = 3,
}

/** RFC 5246 §7.4.4 ClientCertificateType */
export const enum ClientCertificateType {
  rsa_sign = 1,
  ecdsa_sign = 64,
}

const alertNames = new Map<number, string>(
  Object.entries(AlertDescription)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

export function alertName(code: number): string {
  return alertNames.get(code) ?? `unknown_alert_${code}`;
}

const handshakeNames: Record<number, string> = {
  0: 'HelloRequest', 1: 'ClientHello', 2: 'ServerHello', 3: 'HelloVerifyRequest', 4: 'NewSessionTicket',
  6: 'HelloRetryRequest', 8: 'EncryptedExtensions', 11: 'Certificate', 12: 'ServerKeyExchange',
  13: 'CertificateRequest', 14: 'ServerHelloDone', 15: 'CertificateVerify', 16: 'ClientKeyExchange',
  20: 'Finished', 24: 'KeyUpdate',
};

export function handshakeName(type: number): string {
  return handshakeNames[type] ?? `handshake_${type}`;
}
