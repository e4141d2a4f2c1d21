/**
 * The DTLS 1.2 handshake transcript (RFC 6347 §4.2.6): every handshake message in its unfragmented form, with the
 * 12-byte DTLS header (fragment_offset 0, fragment_length = length), in the order sent and received, starting
 * with the ClientHello that carries the cookie (the first ClientHello and the HelloVerifyRequest are left out).
 * Messages are kept as bytes and hashed when a hash is needed, because the hash is only known after ServerHello
 * and the client's CertificateVerify signs the messages themselves.
 */
import type { CryptoProvider, HashAlgorithm } from '../crypto/provider.js';
import { encodeHandshakeMessage } from '../msgs/handshake.js';

export class Transcript {
  private readonly messages: Uint8Array[] = [];
  private total = 0;

  add(msgType: number, messageSeq: number, body: Uint8Array): void {
    const m = encodeHandshakeMessage(msgType, messageSeq, body);
    this.messages.push(m);
    this.total += m.length;
  }

  reset(): void {
    this.messages.length = 0;
    this.total = 0;
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

  hash(crypto: CryptoProvider, algorithm: HashAlgorithm): Uint8Array {
    return crypto.hash(algorithm, this.bytes());
  }
}
