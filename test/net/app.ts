/**
 * The test application of the real-socket tests: numbered messages that carry their own checksum, an
 * application-level resender (DTLS does not make datagrams reliable: the application resends what it must), and
 * a delivery log that counts every delivery per (message id, attempt) so a test can assert that the library
 * itself never delivered a datagram twice or altered.
 *
 * Line format: `<tag>:<id>:<attempt>:<filler>:<hash>` where hash = sha256(tag:id:filler)[0..16 hex]. The attempt
 * number makes each transmission unique: the application's resends are distinct messages, so a (id, attempt)
 * seen twice is a duplicate made below the application.
 */
import { createHash } from 'node:crypto';

function filler(id: number): string {
  const n = (id * 7) % 61;
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + ((id + i * 5) % 26));
  return s;
}

function hash(tag: string, id: number, fill: string): string {
  return createHash('sha256').update(`${tag}:${id}:${fill}`).digest('hex').slice(0, 16);
}

export function line(tag: string, id: number, attempt: number): string {
  const f = filler(id);
  return `${tag}:${id}:${attempt}:${f}:${hash(tag, id, f)}`;
}

export interface Parsed {
  tag: string;
  id: number;
  attempt: number;
  /** The checksum matches: the message arrived as it was sent. */
  intact: boolean;
}

const LINE = /([a-z]+):(\d+):(\d+):([a-z]*):([0-9a-f]{16})/g;

/** Every message line in a chunk of text (one DTLS record may carry several lines). */
export function parse(text: string): Parsed[] {
  const out: Parsed[] = [];
  for (const m of text.matchAll(LINE)) {
    const tag = m[1]!;
    const id = Number(m[2]);
    out.push({ tag, id, attempt: Number(m[3]), intact: m[4] === filler(id) && m[5] === hash(tag, id, m[4]!) });
  }
  return out;
}

/** Deliveries seen by one receiver. */
export class DeliveryLog {
  /** Deliveries per `${id}:${attempt}`. */
  readonly perTransmission = new Map<string, number>();
  readonly ids = new Set<number>();
  corrupted = 0;
  deliveries = 0;
  /** Chunks that contained no message line at all (garbage). */
  unparsable = 0;

  constructor(readonly tag: string) {}

  /** Records every message line of `text`; returns the intact ones. */
  record(text: string): Parsed[] {
    const found = parse(text).filter((p) => p.tag === this.tag);
    if (found.length === 0 && text.trim().length > 0) this.unparsable++;
    const intact: Parsed[] = [];
    for (const p of found) {
      this.deliveries++;
      if (!p.intact) {
        this.corrupted++;
        continue;
      }
      const k = `${p.id}:${p.attempt}`;
      this.perTransmission.set(k, (this.perTransmission.get(k) ?? 0) + 1);
      this.ids.add(p.id);
      intact.push(p);
    }
    return intact;
  }

  /** Transmissions delivered more than once: must stay empty. */
  get duplicates(): string[] {
    return [...this.perTransmission].filter(([, n]) => n > 1).map(([k, n]) => `${k}×${n}`);
  }

  /** Ids in [0, total) never delivered. */
  missing(total: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < total; i++) if (!this.ids.has(i)) out.push(i);
    return out;
  }

  describe(): string {
    return `${this.tag}: ${this.deliveries} deliveries, ${this.ids.size} distinct ids, ${this.corrupted} corrupted, duplicates [${this.duplicates.slice(0, 5).join(', ')}]`;
  }
}

/**
 * Sends ids 0..total-1, at most `window` unacknowledged at a time, and resends an unacknowledged one (with the
 * next attempt number) every `resendMs` until it is acknowledged. `send` may throw (socket closed): the resender
 * stops.
 */
export class Resender {
  private nextId = 0;
  private readonly outstanding = new Map<number, { attempt: number; sentAt: number }>();
  private readonly acked = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private finished: ((ok?: boolean) => void) | undefined;
  transmissions = 0;
  resends = 0;

  constructor(
    readonly total: number,
    private readonly send: (id: number, attempt: number) => void,
    private readonly opts: { window?: number; resendMs?: number } = {},
  ) {}

  get done(): boolean {
    return this.acked.size === this.total;
  }

  get ackedCount(): number {
    return this.acked.size;
  }

  ack(id: number): void {
    if (id < 0 || id >= this.total || this.acked.has(id)) return;
    this.acked.add(id);
    this.outstanding.delete(id);
    this.fill();
    if (this.done) this.finish();
  }

  private transmit(id: number, attempt: number): void {
    this.outstanding.set(id, { attempt, sentAt: Date.now() });
    this.transmissions++;
    this.send(id, attempt);
  }

  private fill(): void {
    const window = this.opts.window ?? 16;
    while (this.nextId < this.total && this.outstanding.size < window) this.transmit(this.nextId++, 0);
  }

  private tick(): void {
    const resendMs = this.opts.resendMs ?? 200;
    const now = Date.now();
    for (const [id, o] of [...this.outstanding]) {
      if (now - o.sentAt >= resendMs) {
        this.resends++;
        this.transmit(id, o.attempt + 1);
      }
    }
  }

  /** Runs until every id is acknowledged (resolves true) or `timeoutMs` passes (resolves false). */
  run(timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const deadline = setTimeout(() => this.finish(false), timeoutMs);
      this.finished = (ok = true) => {
        clearTimeout(deadline);
        if (this.timer !== undefined) clearInterval(this.timer);
        this.timer = undefined;
        this.finished = undefined;
        resolve(ok);
      };
      this.timer = setInterval(() => {
        try {
          this.tick();
        } catch {
          this.finish(false);
        }
      }, Math.max(10, (this.opts.resendMs ?? 200) / 4));
      try {
        this.fill();
      } catch {
        this.finish(false);
      }
      if (this.done) this.finish();
    });
  }

  private finish(ok = true): void {
    this.finished?.(ok);
  }

  stop(): void {
    this.finish(false);
  }
}
