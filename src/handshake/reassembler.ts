/**
 * Handshake message reassembly (RFC 6347 §4.2.2, §4.2.3; DESIGN §3).
 *
 * A pure data structure keyed by message_seq. Each pending message stores the ranges of bytes received so far
 * in a buffer of exactly its claimed length, allocated when its first fragment arrives. Memory is bounded:
 *
 * - a message may claim at most `maxMessageLength` bytes;
 * - the claimed lengths of all pending messages together stay under `maxBufferedBytes` (a claim is charged in
 *   full when its buffer is created, so a huge claim is refused before anything is allocated);
 * - only message_seq in [nextSeq, nextSeq + maxMessagesAhead] is buffered;
 * - a message may be built from at most `maxFragmentsPerMessage` fragments that contributed new bytes.
 *
 * The message the handshake needs next (nextSeq) takes priority: if the budget is full, buffered messages with
 * a higher message_seq are evicted to make room (the peer retransmits them), so messages far ahead cannot
 * starve the one we are waiting for.
 *
 * A fragment that contradicts what is held for its message_seq (msg_type, length, or different bytes where they
 * overlap) is dropped by default: the first fragment wins. With `onConflict: 'replace'` the held message is discarded
 * and the new fragment starts it again: the newest wins. A connection reading unauthenticated fragments (epoch 0)
 * uses that, so that one forged fragment cannot block the genuine message for good — the peer's retransmission is
 * the authority.
 *
 * Peer input never makes `add` throw: anything unacceptable is reported as `dropped` with a reason, for counting.
 * Compare the bug class in REFERENCES §4.1 (CVE-2014-0195, CVE-2022-29190/29189, CVE-2026-95690).
 */
import type { HandshakeFragment } from '../msgs/handshake.js';

export interface ReassemblerLimits {
  /** Largest claimed message length accepted. Default 65536. */
  maxMessageLength: number;
  /** Total claimed length of all messages being reassembled. Default 131072. */
  maxBufferedBytes: number;
  /** Fragments (that added new bytes) allowed per message. Default 64. */
  maxFragmentsPerMessage: number;
  /** How far ahead of nextSeq a message_seq is still buffered. Default 8. */
  maxMessagesAhead: number;
}

export interface ReassemblerOptions extends ReassemblerLimits {
  /** A fragment contradicting the message held for its message_seq: 'drop' it (default) or 'replace' the message. */
  onConflict: 'drop' | 'replace';
}

export const DEFAULT_REASSEMBLER_LIMITS: Readonly<ReassemblerLimits> = Object.freeze({
  maxMessageLength: 65536,
  maxBufferedBytes: 131072,
  maxFragmentsPerMessage: 64,
  maxMessagesAhead: 8,
});

export type ReassemblyResult =
  /** `replaced`: the message held for this message_seq contradicted the fragment and was discarded (why). */
  | { kind: 'buffered'; replaced?: string }
  | { kind: 'retransmission'; messageSeq: number }
  | { kind: 'dropped'; reason: string };

export interface ReassembledMessage {
  msgType: number;
  messageSeq: number;
  /** The whole message body; owned by the caller (not shared with the reassembler or the datagram). */
  body: Uint8Array;
}

interface Pending {
  readonly msgType: number;
  readonly length: number;
  /** Exactly `length` bytes. */
  readonly buf: Uint8Array;
  /** Received ranges [start, end), sorted, disjoint and non-adjacent. */
  ranges: number[];
  fragments: number;
}

const BUFFERED: ReassemblyResult = Object.freeze({ kind: 'buffered' });

function dropped(reason: string): ReassemblyResult {
  return { kind: 'dropped', reason };
}

export class Reassembler {
  /** The next message_seq expected. */
  nextSeq: number;
  private readonly limits: ReassemblerOptions;
  private readonly pending = new Map<number, Pending>();
  private buffered = 0;

  constructor(limits?: Partial<ReassemblerOptions>, initialSeq = 0) {
    this.limits = { ...DEFAULT_REASSEMBLER_LIMITS, onConflict: 'drop', ...limits };
    this.nextSeq = initialSeq;
  }

  /** Total claimed length of the messages currently held. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Number of messages currently held (complete or not). */
  get pendingMessages(): number {
    return this.pending.size;
  }

  add(f: HandshakeFragment): ReassemblyResult {
    const seq = f.messageSeq;
    if (seq < this.nextSeq) return { kind: 'retransmission', messageSeq: seq };
    if (seq - this.nextSeq > this.limits.maxMessagesAhead) {
      return dropped(`message_seq ${seq} is more than ${this.limits.maxMessagesAhead} ahead of ${this.nextSeq}`);
    }
    const { length, fragmentOffset: start, body } = f;
    if (length > this.limits.maxMessageLength) {
      return dropped(`message length ${length} exceeds the limit ${this.limits.maxMessageLength}`);
    }
    if (body.length !== f.fragmentLength || start + body.length > length) {
      return dropped('fragment does not fit the message');
    }
    const end = start + body.length;
    if (body.length === 0 && length !== 0) return dropped('zero-length fragment');

    let m = this.pending.get(seq);
    let replaced: string | undefined;
    if (m !== undefined) {
      const conflict =
        m.msgType !== f.msgType
          ? `msg_type ${f.msgType} disagrees with ${m.msgType} for message_seq ${seq}`
          : m.length !== length
            ? `length ${length} disagrees with ${m.length} for message_seq ${seq}`
            : conflictsWithHeld(m, start, body)
              ? `fragment conflicts with bytes already received for message_seq ${seq}`
              : undefined;
      if (conflict !== undefined) {
        if (this.limits.onConflict === 'drop') return dropped(conflict);
        // The newest wins: forget what was held for this message_seq and start again from this fragment.
        this.pending.delete(seq);
        this.buffered -= m.length;
        m = undefined;
        replaced = conflict;
      }
    }
    if (m === undefined) {
      if (!this.reserve(seq, length)) {
        return dropped(`buffer limit: ${this.buffered} + ${length} bytes exceeds ${this.limits.maxBufferedBytes}`);
      }
      m = { msgType: f.msgType, length, buf: new Uint8Array(length), ranges: [], fragments: 0 };
      this.pending.set(seq, m);
      if (length === 0) {
        m.ranges = [0, 0];
        return replaced === undefined ? BUFFERED : { kind: 'buffered', replaced };
      }
    }

    // Bytes already held that this fragment overlaps are identical (checked above): count the new ones.
    const r = m.ranges;
    let newBytes = end - start;
    for (let i = 0; i < r.length; i += 2) {
      const lo = Math.max(start, r[i]!);
      const hi = Math.min(end, r[i + 1]!);
      if (lo < hi) newBytes -= hi - lo;
    }
    if (newBytes === 0) return BUFFERED; // a duplicate, nothing new
    if (m.fragments >= this.limits.maxFragmentsPerMessage) {
      return dropped(`more than ${this.limits.maxFragmentsPerMessage} fragments for message_seq ${seq}`);
    }
    m.fragments++;
    m.buf.set(body, start);
    m.ranges = mergeRange(r, start, end);
    return replaced === undefined ? BUFFERED : { kind: 'buffered', replaced };
  }

  /** The next complete message in order, if any; advances nextSeq and releases its memory. */
  poll(): ReassembledMessage | undefined {
    const seq = this.nextSeq;
    const m = this.pending.get(seq);
    if (m === undefined || !isComplete(m)) return undefined;
    this.pending.delete(seq);
    this.buffered -= m.length;
    this.nextSeq = seq + 1;
    return { msgType: m.msgType, messageSeq: seq, body: m.buf };
  }

  /** Forgets everything buffered and expects `nextSeq` next. */
  reset(nextSeq: number): void {
    this.pending.clear();
    this.buffered = 0;
    this.nextSeq = nextSeq;
  }

  /**
   * Charges `length` bytes for message `seq`, evicting messages with a higher message_seq if that makes room.
   * Returns false (evicting nothing) if it cannot fit.
   */
  private reserve(seq: number, length: number): boolean {
    const cap = this.limits.maxBufferedBytes;
    if (this.buffered + length <= cap) {
      this.buffered += length;
      return true;
    }
    let evictable = 0;
    const later: number[] = [];
    for (const [s, m] of this.pending) {
      if (s > seq) {
        evictable += m.length;
        later.push(s);
      }
    }
    if (this.buffered - evictable + length > cap) return false;
    later.sort((a, b) => b - a);
    for (const s of later) {
      if (this.buffered + length <= cap) break;
      this.buffered -= this.pending.get(s)!.length;
      this.pending.delete(s);
    }
    this.buffered += length;
    return true;
  }
}

/** Whether `body` at `start` differs from bytes of `m` already received where they overlap. */
function conflictsWithHeld(m: Pending, start: number, body: Uint8Array): boolean {
  const r = m.ranges;
  const end = start + body.length;
  for (let i = 0; i < r.length; i += 2) {
    const lo = Math.max(start, r[i]!);
    const hi = Math.min(end, r[i + 1]!);
    for (let j = lo; j < hi; j++) if (m.buf[j] !== body[j - start]) return true;
  }
  return false;
}

function isComplete(m: Pending): boolean {
  return m.ranges.length === 2 && m.ranges[0] === 0 && m.ranges[1] === m.length;
}

/** Inserts [start, end) into a sorted flat list of disjoint ranges, merging overlapping and adjacent ones. */
function mergeRange(r: readonly number[], start: number, end: number): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < r.length && r[i + 1]! < start) {
    out.push(r[i]!, r[i + 1]!);
    i += 2;
  }
  let s = start;
  let e = end;
  while (i < r.length && r[i]! <= e) {
    s = Math.min(s, r[i]!);
    e = Math.max(e, r[i + 1]!);
    i += 2;
  }
  out.push(s, e);
  while (i < r.length) {
    out.push(r[i]!, r[i + 1]!);
    i += 2;
  }
  return out;
}
