// README.md stays short (≤ 15 KB) and its CLI quick start works exactly as written: the shell block is run line by
// line with `oss-cse` meaning the real bin/oss-cse.js, in a fresh directory and a fresh OSS_CSE_HOME (the embedded
// server), and the restored tree equals the backed-up one byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BIN } from '../helpers/cli.js';

const README = new URL('../../README.md', import.meta.url);

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  visit(dir);
  return out;
}

test('README.md is at most 15 KB', () => {
  assert.ok(statSync(README).size <= 15 * 1024, `README.md is ${statSync(README).size} bytes`);
});

test('the CLI quick start of README.md runs as written on the embedded server, and the restore equals the source', () => {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('## CLI quick start'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block !== undefined, 'no sh block in the CLI quick start');
  for (const step of ['oss-cse mb', 'oss-cse cp -r', 'oss-cse ls -l', 'oss-cse cat', 'oss-cse sync']) assert.ok(block.includes(step), step);
  const dir = mkdtempSync(join(tmpdir(), 'oss-cse-readme-'));
  try {
    const script = `set -e\noss-cse() { "${process.execPath}" "${BIN}" "$@"; }\n${block}`;
    const blank = ['OSS_ENDPOINT', 'OSS_REGION', 'OSS_CSE_PUBLIC_KEY', 'OSS_CSE_PRIVATE_KEY', 'OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET'];
    const env = { ...process.env, ...Object.fromEntries(blank.map((k) => [k, ''])), OSS_CSE_HOME: join(dir, 'home') };
    const r = spawnSync('bash', ['-c', script], { cwd: dir, env, encoding: 'utf8', timeout: 240_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^hello$/m, 'cat printed the file');
    assert.match(r.stdout, /enc +daily\/notes\.txt/, 'ls -l marks the objects encrypted');
    assert.match(r.stdout, /sync: 1 file transferred/, 'the second sync sent only the changed file');
    assert.deepEqual(files(join(dir, 'restored')), files(join(dir, 'backup')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
