/**
 * What a handshake state machine may ask of the connection that runs it. The handshake never touches records,
 * timers or sockets: it queues messages into the current flight, installs keys and reports the result.
 */
import type { ConnectionConfig } from '../core/config.js';
import type { RecordProtection12 } from '../record/protection.js';
import type { Transcript } from './transcript.js';
import type { HandshakeResult } from './result.js';

export interface HandshakeHost {
  readonly config: ConnectionConfig;
  readonly transcript: Transcript;
  /**
   * Appends a handshake message to the flight being built (and to the transcript unless `transcript` is false).
   * Returns the message_seq it was given.
   */
  sendHandshake(msgType: number, body: Uint8Array, options?: { transcript?: boolean }): number;
  /** Appends ChangeCipherSpec; the rest of the flight is sent under `write` in the next epoch. */
  sendChangeCipherSpec(write: RecordProtection12): void;
  /** Keys for the peer's next epoch, used once its ChangeCipherSpec arrives. */
  setPendingReadProtection(read: RecordProtection12): void;
  /** The flight is complete: send it. `expectsReply` false marks the final flight (kept only for resends). */
  flushFlight(expectsReply: boolean): void;
  /** The handshake succeeded. */
  complete(result: HandshakeResult): void;
}
