// The online commands' helpers, in process: oss:// parsing, the progress bar (only on a TTY, only for large
// transfers), and the default key pair (created once, never overwritten by a concurrent first run).
// The CLI modules import `UsageError` from main.ts, which imports every command: load main first, as the CLI does.
import '../../src/cli/main.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadCliKeys } from '../../src/cli/keys.js';
import { parseOssUrl } from '../../src/cli/online.js';
import { PROGRESS_THRESHOLD, counted, progressBar } from '../../src/cli/progress.js';

function sink(isTTY: boolean): { stream: NodeJS.WritableStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      text += chunk.toString();
      done();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => text };
}

test('oss:// URLs: bucket and key (possibly empty); anything else is a usage error', () => {
  assert.deepEqual(parseOssUrl('oss://my-bucket/a/b c.txt', 'x'), { bucket: 'my-bucket', key: 'a/b c.txt' });
  assert.deepEqual(parseOssUrl('oss://my-bucket', 'x'), { bucket: 'my-bucket', key: '' });
  assert.deepEqual(parseOssUrl('oss://my-bucket/', 'x'), { bucket: 'my-bucket', key: '' });
  for (const bad of ['s3://b/k', 'oss://', 'oss://UPPER/k', 'my-bucket/k', 'oss://a/k']) {
    assert.throws(() => parseOssUrl(bad, 'x'), { name: 'UsageError' }, bad);
  }
});

test('the progress bar draws on a TTY for large transfers only, and ends with a newline', async () => {
  const tty = sink(true);
  const bar = progressBar({ stdout: tty.stream, stderr: tty.stream, env: {} }, 'put x', PROGRESS_THRESHOLD * 2, true);
  let seen = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 8; i++) yield Buffer.alloc(PROGRESS_THRESHOLD / 4);
  }
  for await (const c of counted(chunks(), bar)) seen += c.length;
  bar.end();
  assert.equal(seen, PROGRESS_THRESHOLD * 2);
  assert.match(tty.text(), /put x \[#{30}\] 100% 8\.0\/8\.0 MiB/);
  assert.ok(tty.text().endsWith('\n'));

  for (const [isTTY, total, enabled] of [[false, PROGRESS_THRESHOLD * 2, true], [true, 1000, true], [true, PROGRESS_THRESHOLD * 2, false]] as const) {
    const quiet = sink(isTTY);
    const none = progressBar({ stdout: quiet.stream, stderr: quiet.stream, env: {} }, 'x', total, enabled);
    none.add(total);
    none.end();
    assert.equal(quiet.text(), '', `tty=${isTTY} total=${total} enabled=${enabled}`);
  }
});

test('the default key pair is created on first use, once, even by concurrent first runs, and said once', async () => {
  const home = mkdtempSync(join(tmpdir(), 'oss-cse-keys-'));
  try {
    const notes: string[] = [];
    const io = () => {
      const err = sink(false);
      return { io: { stdout: err.stream, stderr: err.stream, env: { OSS_CSE_HOME: home } }, note: () => notes.push(err.text()) };
    };
    const runs = [io(), io(), io()];
    const keys = await Promise.all(runs.map(async (r) => loadCliKeys({ privateKeys: [] }, r.io, false)));
    for (const r of runs) r.note();
    const names = new Set(keys.map((k) => k.masterKey.name));
    assert.equal(names.size, 1, 'every run uses the same key');
    assert.equal(notes.filter((n) => n.includes('created a new RSA key pair')).length, 1);
    assert.equal(statSync(join(home, 'keys', 'private.pem')).mode & 0o777, 0o600);
    assert.match(readFileSync(join(home, 'keys', 'public.pem'), 'utf8'), /BEGIN PUBLIC KEY/);
    const again = await loadCliKeys({ privateKeys: [] }, io().io, false);
    assert.equal(again.masterKey.name, keys[0]!.masterKey.name);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
