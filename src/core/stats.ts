/**
 * Per-connection and per-endpoint counters. Every datagram or record we drop is counted here under a reason,
 * so nothing a peer sends disappears without a trace.
 */
export type DiscardReason =
  | 'malformed'
  | 'bad_version'
  | 'unknown_epoch'
  | 'replay'
  | 'bad_mac'
  | 'plaintext_application_data'
  | 'unexpected_change_cipher_spec'
  | 'unauthenticated_alert'
  | 'deferred_overflow'
  | 'handshake_fragment'
  | 'after_close'
  | 'renegotiation';

export class ConnectionStats {
  datagramsReceived = 0;
  datagramsSent = 0;
  bytesReceived = 0;
  bytesSent = 0;
  recordsReceived = 0;
  recordsSent = 0;
  messagesDelivered = 0;
  flightsSent = 0;
  retransmissions = 0;
  readonly discarded: Record<DiscardReason, number> = {
    malformed: 0,
    bad_version: 0,
    unknown_epoch: 0,
    replay: 0,
    bad_mac: 0,
    plaintext_application_data: 0,
    unexpected_change_cipher_spec: 0,
    unauthenticated_alert: 0,
    deferred_overflow: 0,
    handshake_fragment: 0,
    after_close: 0,
    renegotiation: 0,
  };

  discard(reason: DiscardReason): void {
    this.discarded[reason]++;
  }

  get totalDiscarded(): number {
    let n = 0;
    for (const v of Object.values(this.discarded)) n += v;
    return n;
  }
}
