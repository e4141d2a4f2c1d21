/**
 * The bench runs and writes well-formed results (not a performance test: no figure is checked against a bound).
 * A tiny run — the crypto floor at 64 bytes, the echo round trip for raw dgram and this stack, and our handshakes
 * (sequential and concurrent, in the shared JIT-warmed processes), 0.2 s windows — through the real entry point
 * dist/bench/run.js, in a temporary directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

test('bench --quick runs and writes well-formed JSON', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtls-bench-smoke-'));
  try {
    const out = join(dir, 'latest.json');
    const r = spawnSync(
      process.execPath,
      [RUN, '--quick', '--only', 'crypto,rtt,handshake', '--impls', 'ours', '--sizes', '64', '--duration', '0.2', '--warmup', '0.1', '--jit-warmup', '0.2', '--out', out],
      { encoding: 'utf8', timeout: 55_000 },
    );
    assert.equal(r.status, 0, `bench exited ${r.status}\n${r.stderr}\n${r.stdout}`);
    assert.match(r.stdout, /Echo round trip/);
    const j = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
    assert.equal(j.schema, 1);
    assert.equal(typeof j.date, 'string');
    const machine = j.machine as Record<string, unknown>;
    assert.equal(machine.node, process.version);
    assert.ok(Array.isArray(j.errors));
    assert.deepEqual(j.errors, [], `cases failed: ${JSON.stringify(j.errors)}`);
    const crypto = j.crypto as { size: number; sealUs: number; openUs: number }[];
    assert.equal(crypto.length, 1);
    assert.equal(crypto[0]!.size, 64);
    assert.ok(crypto[0]!.sealUs > 0 && crypto[0]!.openUs > 0);
    const rtt = j.rtt as { impl: string; size: number; us: { n: number; median: number; p99: number } }[];
    assert.deepEqual(rtt.map((x) => x.impl).sort(), ['ours', 'raw', 'sealed']);
    for (const x of rtt) {
      assert.equal(x.size, 64);
      assert.ok(x.us.n > 0, `${x.impl}: no round trip measured`);
      assert.ok(Number.isFinite(x.us.median) && x.us.median > 0 && x.us.p99 >= x.us.median);
    }
    // The handshake section: one JIT warm-up of our two processes (both slices recorded), then both cases in them.
    const warmups = j.jitWarmup as { impl: string; seconds: number; windows: { concurrency: number; handshakesPerSec: number }[] }[];
    assert.deepEqual(warmups.map((w) => [w.impl, w.seconds]), [['ours', 0.2]]);
    assert.deepEqual(warmups[0]!.windows.map((w) => w.concurrency), [1, 32]);
    const hs = j.handshake as { client: string; server: string; concurrency: number; count: number; errors: number; handshakesPerSec: number }[];
    assert.deepEqual(hs.map((h) => [h.client, h.server, h.concurrency]), [['ours', 'ours', 1], ['ours', 'ours', 32]]);
    for (const h of hs) assert.ok(h.count > 0 && h.errors === 0 && h.handshakesPerSec > 0, JSON.stringify(h));
    const targets = j.targets as { id: string; met: unknown }[];
    assert.ok(targets.some((t) => t.id === 'rtt-64'));
    for (const t of targets) assert.ok(t.met === true || t.met === false || t.met === undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
