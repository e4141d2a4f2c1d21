/** ChangeCipherSpec (RFC 5246 §7.1). */
import { InvalidMessageError } from '../errors.js';

/**
 * ```
 * struct {
 *     enum { change_cipher_spec(1), (255) } type;
 * } ChangeCipherSpec;
 * ```
 */
const CCS_TYPE = 1;

/** The one valid ChangeCipherSpec record payload. Treat as read-only; use encodeChangeCipherSpec for a fresh copy. */
export const CHANGE_CIPHER_SPEC_PAYLOAD: Uint8Array = Uint8Array.of(CCS_TYPE);

/** Accepts exactly one byte 0x01. */
export function decodeChangeCipherSpec(payload: Uint8Array): void {
  if (payload.length !== 1) throw new InvalidMessageError(`ChangeCipherSpec is ${payload.length} bytes, expected 1`);
  if (payload[0] !== CCS_TYPE) throw new InvalidMessageError(`ChangeCipherSpec.type is ${payload[0]}, expected 1`);
}

export function encodeChangeCipherSpec(): Uint8Array {
  return Uint8Array.of(CCS_TYPE);
}
