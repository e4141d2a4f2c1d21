/** Alert protocol message (RFC 5246 §7.2). Level and description are open numbers: unknown values round-trip. */
import { InvalidMessageError } from '../errors.js';
import { checkUint } from './extensions.js';

/**
 * ```
 * enum { warning(1), fatal(2), (255) } AlertLevel;
 *
 * struct {
 *     AlertLevel level;
 *     AlertDescription description;
 * } Alert;
 * ```
 */
export interface Alert {
  level: number;
  description: number;
}

export const ALERT_LENGTH = 2;

/** The payload of an alert record must be exactly one alert (2 bytes). */
export function decodeAlert(payload: Uint8Array): Alert {
  if (payload.length !== ALERT_LENGTH) throw new InvalidMessageError(`Alert is ${payload.length} bytes, expected 2`);
  return { level: payload[0]!, description: payload[1]! };
}

export function encodeAlert(a: Alert): Uint8Array {
  checkUint(a.level, 0xff, 'Alert.level');
  checkUint(a.description, 0xff, 'Alert.description');
  return Uint8Array.of(a.level, a.description);
}
