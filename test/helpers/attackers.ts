/**
 * Misbehaving peers for the real-socket limit tests (test/net) and scripts/flood.mjs: cookie-less ClientHellos,
 * half-open handshakes (the cookie exchange completed, then silence) and garbage. They build their datagrams from
 * one genuine ClientHello of this stack (so the server would go on with the handshake) with a fresh client random
 * each time, without keeping any TLS state.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { Connection } from '../../src/core/connection.js';
import { ContentType, HandshakeType, ProtocolVersion } from '../../src/msgs/enums.js';
import { decodeClientHello, encodeClientHello, type ClientHello } from '../../src/msgs/client-hello.js';
import { decodeHandshakeFragments, encodeHandshakeFragment } from '../../src/msgs/handshake.js';
import { decodeHelloVerifyRequest } from '../../src/msgs/hello-verify-request.js';
import { sealPlaintextRecord } from '../../src/record/protection.js';
import { splitDatagram } from '../../src/record/deframer.js';
import { makeClientConfig } from './sim.js';

/** Offset of the client random in a ClientHello datagram: record header, handshake header, client_version. */
const RANDOM_AT = 13 + 12 + 2;

export class HelloTemplate {
  private readonly hello: ClientHello;
  private readonly datagram: Uint8Array;

  constructor() {
    const c = new Connection(makeClientConfig({ rejectUnauthorized: false }));
    c.connect(0);
    this.datagram = c.pollTransmit()!;
    this.hello = decodeClientHello(decodeHandshakeFragments(splitDatagram(this.datagram).records[0]!.fragment)[0]!.body);
  }

  /** A first ClientHello (no cookie) with a fresh random. */
  first(): Buffer {
    const d = Buffer.from(this.datagram);
    randomBytes(32).copy(d, RANDOM_AT);
    return d;
  }

  /** The ClientHello answering a HelloVerifyRequest: same random as `first`, the cookie, message_seq 1. */
  second(first: Uint8Array, hvr: Uint8Array): Buffer | undefined {
    try {
      const rec = splitDatagram(hvr).records[0];
      if (rec === undefined || rec.header.contentType !== ContentType.handshake) return undefined;
      const f = decodeHandshakeFragments(rec.fragment)[0];
      if (f === undefined || f.msgType !== HandshakeType.hello_verify_request) return undefined;
      const cookie = decodeHelloVerifyRequest(f.body).cookie;
      const body = encodeClientHello({ ...this.hello, random: first.subarray(RANDOM_AT, RANDOM_AT + 32), cookie });
      return Buffer.from(
        sealPlaintextRecord(ContentType.handshake, ProtocolVersion.DTLS1_2, 0, 1, encodeHandshakeFragment(HandshakeType.client_hello, body.length, 1, 0, body)),
      );
    } catch {
      return undefined;
    }
  }
}

/** Random bytes, sometimes shaped like a DTLS record header (so they get past the first checks). */
export function garbage(): Buffer {
  const n = 13 + Math.floor(Math.random() * 200);
  const d = randomBytes(n);
  if (Math.random() < 0.5) {
    d[0] = [20, 21, 22, 23][Math.floor(Math.random() * 4)]!;
    d[1] = 0xfe;
    d[2] = 0xfd;
    d.writeUInt16BE(n - 13, 11);
  }
  return d;
}

export async function bindSocket(address = '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, address, () => resolve());
  });
  s.on('error', () => undefined);
  return s;
}

/**
 * One half-open handshake from `socket`: the cookie exchange, then the ClientHello with the cookie, then silence.
 * Resolves true once the ClientHello with the cookie went out (the server now holds a handshaking connection,
 * unless it refused), false if no HelloVerifyRequest came within `timeoutMs`.
 */
export function halfOpen(socket: dgram.Socket, port: number, template: HelloTemplate, timeoutMs = 2_000, host = '127.0.0.1'): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const first = template.first();
    const onMessage = (msg: Buffer): void => {
      const second = template.second(first, msg);
      if (second === undefined) return;
      done();
      socket.send(second, port, host, () => resolve(true));
    };
    const timer = setTimeout(() => {
      done();
      resolve(false);
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
    };
    socket.on('message', onMessage);
    socket.send(first, port, host);
  });
}
