/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1). A cookie is
 *
 *   timestamp (u32, seconds of the endpoint's clock) ‖ HMAC-SHA256(secret, timestamp ‖ client address ‖ port ‖
 *   client_version ‖ random ‖ session_id)[0..16]
 *
 * so it is bound to the client's address and port and to its hello (through the 32-byte client random), expires,
 * and needs no per-peer state. Only fields that precede the cookie are bound, so that the first fragment of a
 * ClientHello fragmented over several datagrams is enough to check it. The
 * secret rotates every `lifetimeMs`; a cookie made with the previous secret is still accepted for one period.
 */
import type { CryptoProvider, HmacKey } from '../crypto/provider.js';
import type { ClientHelloPrefix } from '../msgs/client-hello.js';
import { InvalidMessageError } from '../errors.js';
import { constantTimeEqual } from './util.js';

export const COOKIE_LENGTH = 20;
const MAC_LENGTH = 16;
const SECRET_LENGTH = 32;

const encoder = new TextEncoder();

/** A cookie secret with its HMAC key, prepared once per rotation. */
interface CookieSecret {
  readonly key: HmacKey;
}

export class CookieJar {
  private secret: CookieSecret;
  private previous: CookieSecret | undefined;
  private rotatedAt: number | undefined;
  /** Scratch space for the MAC input, reused by every MAC (grown for an unusually long peer name). */
  private text = new Uint8Array(128);

  constructor(
    private readonly crypto: CryptoProvider,
    private readonly lifetimeMs = 60_000,
  ) {
    this.secret = this.newSecret();
  }

  private newSecret(): CookieSecret {
    const secret = this.crypto.randomBytes(SECRET_LENGTH);
    const crypto = this.crypto;
    const key: HmacKey = crypto.createHmacKey !== undefined
      ? crypto.createHmacKey('sha256', secret)
      : { mac: (data) => crypto.hmac('sha256', secret, data) };
    return { key };
  }

  private rotate(now: number): void {
    if (this.rotatedAt === undefined) {
      this.rotatedAt = now;
      return;
    }
    if (now - this.rotatedAt >= this.lifetimeMs) {
      // Two periods without use: the previous secret is stale too.
      this.previous = now - this.rotatedAt >= 2 * this.lifetimeMs ? undefined : this.secret;
      this.secret = this.newSecret();
      this.rotatedAt = now;
    }
  }

  private mac(secret: CookieSecret, seconds: number, peer: string, hello: ClientHelloPrefix): Uint8Array {
    return secret.key.mac(this.macInput(seconds, peer, hello)).subarray(0, MAC_LENGTH);
  }

  /**
   * The MAC input, in the scratch buffer:
   *   uint32 seconds; opaque peer<0..255> (UTF-8 "address:port"); uint16 client_version; opaque random[32];
   *   opaque session_id<0..32>;
   */
  private macInput(seconds: number, peer: string, hello: ClientHelloPrefix): Uint8Array {
    const { random, sessionId } = hello;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const need = 4 + 1 + 3 * peer.length + 2 + random.length + 1 + sessionId.length;
    if (need > this.text.length) this.text = new Uint8Array(need);
    const t = this.text;
    t[0] = seconds >>> 24;
    t[1] = (seconds >>> 16) & 0xff;
    t[2] = (seconds >>> 8) & 0xff;
    t[3] = seconds & 0xff;
    const peerLength = encoder.encodeInto(peer, t.subarray(5)).written;
    if (peerLength > 0xff || sessionId.length > 0xff) {
      throw new InvalidMessageError(`cookie input field of ${Math.max(peerLength, sessionId.length)} bytes does not fit a u8 length`);
    }
    t[4] = peerLength;
    let at = 5 + peerLength;
    t[at++] = (hello.clientVersion >>> 8) & 0xff;
    t[at++] = hello.clientVersion & 0xff;
    t.set(random, at);
    at += random.length;
    t[at++] = sessionId.length;
    t.set(sessionId, at);
    at += sessionId.length;
    return t.subarray(0, at);
  }

  /** A fresh cookie for this peer ("address:port") and hello. */
  create(now: number, peer: string, hello: ClientHelloPrefix): Uint8Array {
    this.rotate(now);
    const seconds = Math.floor(now / 1000) >>> 0;
    const out = new Uint8Array(COOKIE_LENGTH);
    new DataView(out.buffer).setUint32(0, seconds);
    out.set(this.mac(this.secret, seconds, peer, hello), 4);
    return out;
  }

  /** Whether `hello.cookie` is one we made for this peer and hello, no older than the lifetime. */
  verify(now: number, peer: string, hello: ClientHelloPrefix): boolean {
    this.rotate(now);
    const cookie = hello.cookie;
    if (cookie.length !== COOKIE_LENGTH) return false;
    const seconds = new DataView(cookie.buffer, cookie.byteOffset, 4).getUint32(0);
    const age = Math.floor(now / 1000) - seconds;
    if (age < 0 || age * 1000 > this.lifetimeMs) return false;
    const mac = cookie.subarray(4);
    if (constantTimeEqual(mac, this.mac(this.secret, seconds, peer, hello))) return true;
    return this.previous !== undefined && constantTimeEqual(mac, this.mac(this.previous, seconds, peer, hello));
  }
}
