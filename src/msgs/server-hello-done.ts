/** ServerHelloDone (RFC 5246 §7.4.5). */
import { InvalidMessageError } from '../errors.js';

/**
 * ```
 * struct { } ServerHelloDone;
 * ```
 */
export function decodeServerHelloDone(body: Uint8Array): void {
  if (body.length !== 0) throw new InvalidMessageError(`ServerHelloDone has ${body.length} trailing bytes`);
}

export function encodeServerHelloDone(): Uint8Array {
  return new Uint8Array(0);
}
