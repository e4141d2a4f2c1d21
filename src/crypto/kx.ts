/**
 * Key-exchange groups (RFC 8422 §5.1.1 NamedCurve / RFC 8446 §4.2.7 NamedGroup) that this stack can do for
 * ephemeral ECDHE. The order is our preference order for the supported_groups extension.
 */
import { NamedGroup } from '../msgs/enums.js';

/** Groups we implement, most preferred first: X25519 (RFC 7748), then the NIST curves P-256 and P-384. */
export const SUPPORTED_GROUPS: readonly NamedGroup[] = Object.freeze([
  NamedGroup.x25519,
  NamedGroup.secp256r1,
  NamedGroup.secp384r1,
]);

const supported = new Set<number>(SUPPORTED_GROUPS);

/** Whether `group` (any wire value, known or not) is one we can generate and agree on. */
export function isGroupSupported(group: number): group is NamedGroup {
  return supported.has(group);
}

/** A printable name for a NamedGroup wire value (IANA names). */
export function groupName(group: number): string {
  switch (group) {
    case NamedGroup.x25519: return 'x25519';
    case NamedGroup.secp256r1: return 'secp256r1';
    case NamedGroup.secp384r1: return 'secp384r1';
    case NamedGroup.secp521r1: return 'secp521r1';
    case NamedGroup.x448: return 'x448';
    default: return `group_0x${group.toString(16).padStart(4, '0')}`;
  }
}
