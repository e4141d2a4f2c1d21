/** Public surface of the DTLS stack. */
export { connect } from './api/connect.js';
export { createServer, DtlsServer } from './api/server.js';
export { DtlsSocket } from './api/socket.js';
export type { CipherInfo, DetailedPeerCertificate } from './api/socket.js';
export type { CommonOptions, ConnectOptions, ServerOptions } from './api/options.js';
export {
  DtlsError,
  InvalidMessageError,
  PeerMisbehavedError,
  IncompatibleError,
  CertificateError,
  AlertReceivedError,
  ApiMisuseError,
  HandshakeTimeoutError,
  InternalError,
} from './errors.js';
export { Connection } from './core/connection.js';
export { Endpoint } from './core/endpoint.js';
export type { ConnectionConfig } from './core/config.js';
export type { ConnectionEvent } from './core/events.js';
export type { CryptoProvider } from './crypto/provider.js';
export { NodeCryptoProvider } from './crypto/node-provider.js';
export { DTLS12_SUITES } from './crypto/suites.js';

import type { GenerateOptions } from './cli/certs.js';
export type { GenerateOptions } from './cli/certs.js';
/**
 * Writes a development CA, server and client certificates (see `dtls certs`). Loaded on demand: the X.509
 * library it uses costs a few hundred ms to import.
 */
export async function generateDevCertificates(opts: GenerateOptions): Promise<{ files: string[] }> {
  const m = await import('./cli/certs.js');
  return m.generateDevCertificates(opts);
}
