/**
 * Typed errors. Every failure in the stack is a DtlsError with a stable `code` (ERR_DTLS_*) and, where the
 * peer must be told, the TLS alert description it maps to (RFC 5246 §7.2). `alertFor` is the one function
 * that chooses the alert for an error.
 */
import { AlertDescription } from './msgs/enums.js';

export class DtlsError extends Error {
  readonly code: string;
  /** The fatal alert to send to the peer, or undefined when none must be sent (API misuse, timeouts). */
  readonly alert: AlertDescription | undefined;
  constructor(code: string, message: string, alert?: AlertDescription, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.alert = alert;
  }
}

/** A decoder found malformed bytes. Maps to decode_error. */
export class InvalidMessageError extends DtlsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DTLS_INVALID_MESSAGE', message, AlertDescription.decode_error, options);
  }
}

/** The peer sent something well-formed but not allowed here (wrong state, bad parameter, bad MAC on Finished ...). */
export class PeerMisbehavedError extends DtlsError {
  constructor(
    code: string,
    message: string,
    alert: AlertDescription = AlertDescription.unexpected_message,
    options?: { cause?: unknown },
  ) {
    super(code, message, alert, options);
  }
}

/** No common version, suite, group or signature scheme. */
export class IncompatibleError extends DtlsError {
  constructor(message: string, alert: AlertDescription = AlertDescription.handshake_failure) {
    super('ERR_DTLS_INCOMPATIBLE', message, alert);
  }
}

/** Certificate missing, malformed, untrusted, expired, wrong host ... */
export class CertificateError extends DtlsError {
  constructor(
    code: string,
    message: string,
    alert: AlertDescription = AlertDescription.bad_certificate,
    options?: { cause?: unknown },
  ) {
    super(code, message, alert, options);
  }
}

/** The peer sent us a fatal alert (or close_notify is reported through `closed` instead). */
export class AlertReceivedError extends DtlsError {
  readonly receivedAlert: AlertDescription;
  constructor(alert: AlertDescription, name: string) {
    super('ERR_DTLS_ALERT_RECEIVED', `peer sent fatal alert ${name} (${alert})`);
    this.receivedAlert = alert;
  }
}

/** Our own API was misused (bad option, send before connect, ...). Never sent to the peer. */
export class ApiMisuseError extends DtlsError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

export class HandshakeTimeoutError extends DtlsError {
  constructor(message = 'handshake did not complete before the deadline') {
    super('ERR_DTLS_HANDSHAKE_TIMEOUT', message);
  }
}

/** Something inside us went wrong (a bug or a crypto library failure). Maps to internal_error. */
export class InternalError extends DtlsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DTLS_INTERNAL', message, AlertDescription.internal_error, options);
  }
}

/** The fatal alert to send for an error; internal_error for anything that is not a DtlsError. */
export function alertFor(error: unknown): AlertDescription | undefined {
  if (error instanceof DtlsError) return error.alert;
  return AlertDescription.internal_error;
}

/** Wraps an unknown thrown value in a DtlsError (keeps DtlsErrors as they are). */
export function toDtlsError(error: unknown): DtlsError {
  if (error instanceof DtlsError) return error;
  return new InternalError(error instanceof Error ? error.message : String(error), { cause: error });
}
