/** Small helpers shared by the handshake state machines. */
import { timingSafeEqual } from 'node:crypto';
import { AlertDescription, handshakeName } from '../msgs/enums.js';
import { PeerMisbehavedError } from '../errors.js';

export { concatBytes } from '../util/bytes.js';

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The error for a message that is not allowed in the current state (RFC 5246 §7.2.2 unexpected_message). */
export function unexpectedMessage(what: number | string, state: string): PeerMisbehavedError {
  const name = typeof what === 'number' ? handshakeName(what) : what;
  return new PeerMisbehavedError('ERR_DTLS_UNEXPECTED_MESSAGE', `unexpected ${name} in state ${state}`, AlertDescription.unexpected_message);
}
