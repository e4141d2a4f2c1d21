/** The shape of bench/results/latest.json (schema 1). All rates per second, times in µs unless named ms. */
import type { JitWarmup } from './handshake-workers.js';
import type { Group } from './peers.js';
import type { Summary } from './util.js';
import type { CryptoRow } from './crypto-floor.js';
import type { CoreMemoryResult } from './core-memory.js';
import type { MemoryPairResult } from './handshake-memory-pair.js';
import type { RecordPathRow } from './record-path.js';

export type PeerName = 'ours' | 'werift' | 'openssl';

export interface HandshakeRow {
  client: PeerName;
  server: PeerName;
  group: Group;
  clientCert: boolean;
  concurrency: number;
  count: number;
  errors: number;
  lastError?: string;
  wallMs: number;
  handshakesPerSec: number;
  clientCpuUsPerHandshake: number;
  serverCpuUsPerHandshake: number;
  latencyMedianMs?: number;
  latencyP99Ms?: number;
}

export interface BlastStats {
  /** records per second offered by the sender (measured at the sender) */
  rate: number;
  sent: number;
  received: number;
  /** records per second delivered to the receiving application */
  recvRate: number;
  /** application payload MB/s (10^6 bytes) delivered */
  recvMBps: number;
  /** share of records sent and never delivered */
  loss: number;
  senderCpuUsPerRecord: number;
  receiverCpuUsPerRecord: number;
}

export interface ThroughputRow {
  impl: 'raw' | 'sealed' | 'ours' | 'werift';
  size: number;
  /** the receiver's SO_RCVBUF as the kernel reports it (undefined: system default) */
  recvBufferSize: number | undefined;
  /** the sender as fast as it can */
  unpaced: BlastStats;
  /** the highest paced rate found with loss < 0.1 % (undefined: none found in the trials) */
  sustainable: BlastStats | undefined;
  trials: BlastStats[];
  /** complete runs (fresh processes each) this row is the best of; the ceiling and ours alternate (see --rounds) */
  runs?: number;
  /** each run's sustainable records/s at the receiver, in the order run (0: none found) */
  runRates?: number[];
}

export interface RttRow {
  impl: 'raw' | 'sealed' | 'ours' | 'werift';
  size: number;
  us: Summary;
  lost: number;
  clientCpuUsPerRoundTrip: number;
}

export interface MemoryRow {
  impl: 'ours' | 'werift';
  transport: string;
  n: number;
  established: number;
  errors: number;
  handshakeWallMs: number;
  serverHeapPerConn: number;
  serverRssPerConn: number;
  serverExternalPerConn: number;
  clientHeapPerConn: number;
  clientRssPerConn: number;
  clientExternalPerConn: number;
}

export interface TargetRow {
  id: string;
  what: string;
  target: string;
  measured: string;
  /** measured / target bound (≥ 1 is met for "at least" targets; ≤ 1 for "at most") */
  ratio: number | undefined;
  met: boolean | undefined;
  /**
   * 'issue' (default): the comparison issue 4 states. 'other': another reading of the same target that the bench
   * also reports, shown apart (per-side CPU, both ends swapped at once, UDP without crypto as the ceiling, the
   * crypto floor as paid inside the exchange).
   */
  kind?: 'issue' | 'other';
}

export interface BenchResults {
  schema: 1;
  date: string;
  machine: { cpu: string; nproc: number; memTotal: string; node: string; platform: string; kernel: string; openssl?: string };
  /** load averages (they include the bench's own busy processes) and the CPUs other processes kept busy */
  load: { start: number[]; end: number[]; otherCpus: Record<string, number>; otherCpusOverall: number };
  options: Record<string, unknown>;
  method: Record<string, string>;
  crypto: CryptoRow[];
  /** this stack's per-record CPU without socket I/O */
  recordPath: RecordPathRow[];
  handshake: HandshakeRow[];
  /** the handshake processes' JIT warm-up, one per implementation: its rates, coldest first */
  jitWarmup: JitWarmup[];
  /** protocol CPU per handshake with no sockets (client Connection ↔ server Endpoint in one process) */
  handshakeInMemory: MemoryPairResult[];
  throughput: ThroughputRow[];
  rtt: RttRow[];
  memory: MemoryRow[];
  coreMemory: CoreMemoryResult | undefined;
  targets: TargetRow[];
  errors: { section: string; case: string; message: string }[];
  durationS: number;
}
