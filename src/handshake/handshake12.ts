/** The interface the connection drives a DTLS 1.2 handshake through (client or server). */

/** A complete, reassembled handshake message. */
export interface HandshakeMessage {
  readonly msgType: number;
  readonly messageSeq: number;
  readonly body: Uint8Array;
}

export interface Handshake12 {
  /** Name of the current state, for diagnostics and errors. */
  readonly stateName: string;
  readonly done: boolean;
  /** Handles the next in-order message. Throws a DtlsError when the handshake must fail. */
  handleMessage(msg: HandshakeMessage): void;
  /** Whether a ChangeCipherSpec from the peer is acceptable now (RFC 5246 §7.1). */
  canAcceptChangeCipherSpec(): boolean;
  handleChangeCipherSpec(): void;
}
