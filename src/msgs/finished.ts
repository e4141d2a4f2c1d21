/** Finished (RFC 5246 §7.4.9). */
import { InvalidMessageError } from '../errors.js';

/**
 * ```
 * struct {
 *     opaque verify_data[verify_data_length];
 * } Finished;
 * ```
 * verify_data_length is 12 for every cipher suite this stack implements.
 */
export const VERIFY_DATA_LENGTH = 12;

/** Returns verify_data (the body itself, a view); its length must be `expectedLength`. */
export function decodeFinished(body: Uint8Array, expectedLength = VERIFY_DATA_LENGTH): Uint8Array {
  if (body.length !== expectedLength) {
    throw new InvalidMessageError(`Finished.verify_data is ${body.length} bytes, expected ${expectedLength}`);
  }
  return body;
}

/** A copy of verify_data. */
export function encodeFinished(verifyData: Uint8Array): Uint8Array {
  return verifyData.slice();
}
