/**
 * The DTLS 1.2 handshake transcript (RFC 6347 §4.2.6): every handshake message in its unfragmented form, with the
 * 12-byte DTLS header (fragment_offset 0, fragment_length = length), in the order sent and received, starting
 * with the ClientHello that carries the cookie (the first ClientHello and the HelloVerifyRequest are left out).
 *
 * The hash is only known after ServerHello, so messages are kept until the first `hash()`; from then on a running
 * hash of that algorithm is fed each message as it is added and forked for every digest (RFC 5246 §7.4.9
 * Hash(handshake_messages), RFC 7627 §3 session_hash). A digest is remembered until the next message, so the
 * EMS session hash and the Finished hash at the same point cost one fork. The messages themselves stay available
 * through `bytes()`, because a CertificateVerify signs them, not their hash (RFC 5246 §7.4.8).
 */
import type { CryptoProvider, HashAlgorithm, IncrementalHash } from '../crypto/provider.js';
import { encodeHandshakeMessage } from '../msgs/handshake.js';

/** The running hash and who made it; replaced when asked for another algorithm or provider. */
interface Running {
  readonly crypto: CryptoProvider;
  readonly algorithm: HashAlgorithm;
  readonly hash: IncrementalHash;
  /** Digest of everything added so far, until the next add(). */
  digest: Uint8Array | undefined;
}

export class Transcript {
  private readonly messages: Uint8Array[] = [];
  private total = 0;
  private running: Running | undefined;

  add(msgType: number, messageSeq: number, body: Uint8Array): void {
    const m = encodeHandshakeMessage(msgType, messageSeq, body);
    this.messages.push(m);
    this.total += m.length;
    const running = this.running;
    if (running !== undefined) {
      running.hash.update(m);
      running.digest = undefined;
    }
  }

  reset(): void {
    this.messages.length = 0;
    this.total = 0;
    this.running = undefined;
  }

  /** The concatenated messages so far. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.total);
    let at = 0;
    for (const m of this.messages) {
      out.set(m, at);
      at += m.length;
    }
    return out;
  }

  /** Hash(handshake_messages) of everything added so far (a fresh array: the caller may keep or change it). */
  hash(crypto: CryptoProvider, algorithm: HashAlgorithm): Uint8Array {
    let running = this.running;
    if (running === undefined || running.algorithm !== algorithm || running.crypto !== crypto) {
      running = this.start(crypto, algorithm);
    }
    return (running.digest ??= running.hash.digest()).slice();
  }

  private start(crypto: CryptoProvider, algorithm: HashAlgorithm): Running {
    const hash = crypto.createHash(algorithm);
    for (const m of this.messages) hash.update(m);
    const running: Running = { crypto, algorithm, hash, digest: undefined };
    this.running = running;
    return running;
  }
}
