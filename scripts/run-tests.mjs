#!/usr/bin/env node
// Runs the compiled tests (dist/test/<group>/**/*.test.js) with node's test runner.
// Usage: node scripts/run-tests.mjs [group ...]   (groups: unit sim fuzz cli net interop; default: all)
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const groups = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'sim', 'fuzz', 'cli', 'net', 'interop'];
const files = [];
function walk(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
}
for (const g of groups) walk(join('dist', 'test', g));
if (files.length === 0) {
  console.error(`no test files found for ${groups.join(', ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
