/**
 * Per-epoch record state (RFC 6347 §4.1): the epoch number, the next sequence number to send, the record
 * protection (undefined for epoch 0, which is unprotected) and the anti-replay window for received records.
 *
 * A Connection keeps one EpochState per direction and epoch it still uses (RFC 6347 §4.1: after a key change it
 * may keep the previous read epoch for a while to accept retransmissions). "Sequence numbers are maintained
 * separately for each epoch, with each sequence_number initially being 0 for each epoch" and "Implementations
 * MUST either abandon an association or rehandshake prior to allowing the sequence number to wrap."
 *
 * Shaped for DTLS 1.3 (RFC 9147 §4): there the epoch is a uint64 and sequence numbers are 48-bit as well; the
 * 1.3 protection will be another class with the same seal/open role, so `protection` will become a union.
 */
import { DtlsError } from '../errors.js';
import { MAX_SEQUENCE_NUMBER } from './header12.js';
import type { RecordProtection12 } from './protection.js';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from './replay.js';

export class EpochState {
  epoch: number;
  /** The sequence number the next record sent in this epoch will carry. */
  nextSeq = 0;
  /** AEAD protection, or undefined for the unprotected epoch 0. */
  protection: RecordProtection12 | undefined;
  /** Receive-side anti-replay window (RFC 6347 §4.1.2.6). */
  replay: ReplayWindow;

  constructor(epoch: number, protection?: RecordProtection12, replayWindowSize: number = DEFAULT_REPLAY_WINDOW) {
    this.epoch = epoch;
    this.protection = protection;
    this.replay = new ReplayWindow(replayWindowSize);
  }

  /**
   * Takes the next send sequence number. The last one handed out is 2^48 - 1; after that it throws
   * DtlsError ERR_DTLS_SEQUENCE_EXHAUSTED (no alert: the epoch is over, the connection must close or rekey).
   */
  nextSequence(): number {
    const seq = this.nextSeq;
    if (seq > MAX_SEQUENCE_NUMBER) {
      throw new DtlsError('ERR_DTLS_SEQUENCE_EXHAUSTED', `sequence numbers of epoch ${this.epoch} are exhausted`);
    }
    this.nextSeq = seq + 1;
    return seq;
  }

  /** True once every sequence number of this epoch has been used. */
  get exhausted(): boolean {
    return this.nextSeq > MAX_SEQUENCE_NUMBER;
  }
}
