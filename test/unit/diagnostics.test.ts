/** Diagnostics through the Node API: the 'keylog' event, SSLKEYLOGFILE, diagnostics_channel. Loopback only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type DtlsSocket } from '../../src/index.js';
import { testCerts } from '../helpers/certs.js';

test('NSS key log: both sides emit the same CLIENT_RANDOM line, and SSLKEYLOGFILE receives it', async () => {
  const certs = await testCerts('ec');
  const dir = mkdtempSync(join(tmpdir(), 'dtls-keylog-'));
  const file = join(dir, 'keys.log');
  const published: unknown[] = [];
  const onHandshake = (m: unknown): void => void published.push(m);
  subscribe('dtls:handshake:complete', onHandshake);
  process.env.SSLKEYLOGFILE = file;
  const server = createServer({ cert: certs.serverCert, key: certs.serverKey });
  server.on('secureConnection', (s: DtlsSocket) => s.on('message', (m: Buffer) => s.send(m)));
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = connect({ host: '127.0.0.1', port: server.address().port, servername: 'localhost', ca: certs.ca });
    const clientLines: Buffer[] = [];
    client.on('keylog', (l: Buffer) => clientLines.push(l));
    await new Promise<void>((resolve, reject) => {
      client.on('error', reject);
      client.on('secureConnect', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(clientLines.length, 1);
    const line = clientLines[0]!.toString();
    assert.match(line, /^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}\n$/);
    const logged = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    // Client and server both append their line: the same session, so the same line twice.
    assert.equal(logged.length, 2);
    assert.equal(logged[0], logged[1]);
    assert.equal(`${logged[0]}\n`, line);
    assert.equal(published.length, 2);
    await client.close();
  } finally {
    delete process.env.SSLKEYLOGFILE;
    unsubscribe('dtls:handshake:complete', onHandshake);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
