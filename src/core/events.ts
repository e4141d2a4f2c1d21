/** What a Connection reports to its driver through pollEvent(). */
import type { DtlsError } from '../errors.js';
import type { HandshakeResult } from '../handshake/result.js';

export type ConnectionEvent =
  | { readonly type: 'connected'; readonly result: HandshakeResult }
  | { readonly type: 'data'; readonly data: Uint8Array }
  /** The connection is over: `error` undefined for an orderly close_notify, else why it failed. */
  | { readonly type: 'closed'; readonly error: DtlsError | undefined };
