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
import type { CryptoProvider } from '../crypto/provider.js';
import type { ClientHelloPrefix } from '../msgs/client-hello.js';
import { Writer } from '../msgs/writer.js';
import { constantTimeEqual } from './util.js';

export const COOKIE_LENGTH = 20;
const MAC_LENGTH = 16;

export class CookieJar {
  private secret: Uint8Array;
  private previous: Uint8Array | undefined;
  private rotatedAt: number | undefined;

  constructor(
    private readonly crypto: CryptoProvider,
    private readonly lifetimeMs = 60_000,
  ) {
    this.secret = crypto.randomBytes(32);
  }

  private rotate(now: number): void {
    if (this.rotatedAt === undefined) {
      this.rotatedAt = now;
      return;
    }
    if (now - this.rotatedAt >= this.lifetimeMs) {
      // Two periods without use: the previous secret is stale too.
      this.previous = now - this.rotatedAt >= 2 * this.lifetimeMs ? undefined : this.secret;
      this.secret = this.crypto.randomBytes(32);
      this.rotatedAt = now;
    }
  }

  private mac(secret: Uint8Array, seconds: number, peer: string, hello: ClientHelloPrefix): Uint8Array {
    const w = new Writer(128);
    w.u32(seconds).vec8(new TextEncoder().encode(peer)).u16(hello.clientVersion).bytes(hello.random).vec8(hello.sessionId);
    return this.crypto.hmac('sha256', secret, w.finish()).subarray(0, MAC_LENGTH);
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
