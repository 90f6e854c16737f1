import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm, stat, symlink, writeFile, appendFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MigrationJournal } from '../../src/bulk/journal.js';
import { CseError, ErrorCode } from '../../src/errors.js';

const ID = { bucket: 'b', prefix: 'p/', shard: '0/1', target: 'rsa:abc' };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'oss-cse-journal-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function isJournalError(e: unknown, ...parts: string[]): boolean {
  assert.ok(e instanceof CseError, String(e));
  assert.equal(e.cseCode, ErrorCode.JOURNAL);
  for (const p of parts) assert.ok(e.message.includes(p), `${e.message} should include ${p}`);
  return true;
}

test('a new journal is created 0600 with the identity on its first line, and remembers successes across reopen', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'j.jsonl');
    const j = await MigrationJournal.open(path, ID);
    assert.equal(j.finished, 0);
    await j.record({ key: 'a', result: 'migrated', etag: '"AA"' });
    await j.record({ key: 'b', result: 'skipped' });
    await j.record({ key: 'c', result: 'failed' });
    assert.ok(j.has('a') && j.has('b') && !j.has('c'));
    await j.close();
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.deepEqual(JSON.parse(lines[0]!), { ossCseMigrationJournal: 1, identity: ID });
    assert.deepEqual(JSON.parse(lines[1]!), { key: 'a', result: 'migrated', etag: '"AA"' });
    const again = await MigrationJournal.open(path, ID);
    assert.equal(again.finished, 2);
    assert.ok(again.has('a') && again.has('b') && !again.has('c'));
    await again.close();
  });
});

test('a later failure never removes an earlier success; a success after a failure counts', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'j.jsonl');
    const j = await MigrationJournal.open(path, ID);
    await j.record({ key: 'x', result: 'migrated' });
    await j.record({ key: 'x', result: 'failed' });
    await j.record({ key: 'y', result: 'failed' });
    await j.record({ key: 'y', result: 'migrated' });
    await j.close();
    const again = await MigrationJournal.open(path, ID);
    assert.ok(again.has('x') && again.has('y'));
    assert.equal(again.finished, 2);
    await again.close();
  });
});

test('resume after a torn write: the torn last line is ignored and truncated before appending', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'j.jsonl');
    const j = await MigrationJournal.open(path, ID);
    await j.record({ key: 'a', result: 'migrated' });
    await j.close();
    const good = await readFile(path, 'utf8');
    await appendFile(path, '{"key":"b","resu'); // killed mid-write
    const again = await MigrationJournal.open(path, ID);
    assert.ok(again.has('a') && !again.has('b'));
    assert.equal(await readFile(path, 'utf8'), good);
    await again.record({ key: 'c', result: 'skipped' });
    await again.close();
    assert.equal(await readFile(path, 'utf8'), `${good}{"key":"c","result":"skipped"}\n`);
    const third = await MigrationJournal.open(path, ID);
    assert.equal(third.finished, 2);
    await third.close();
  });
});

test('an unparsable complete last line is dropped too, but an unparsable line in the middle is ERR_CSE_JOURNAL naming file and line', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'j.jsonl');
    const header = `${JSON.stringify({ ossCseMigrationJournal: 1, identity: ID })}\n`;
    await writeFile(path, `${header}{"key":"a","result":"migrated"}\nGARBAGE\n`);
    const j = await MigrationJournal.open(path, ID);
    assert.ok(j.has('a'));
    await j.close();
    assert.equal(await readFile(path, 'utf8'), `${header}{"key":"a","result":"migrated"}\n`);
    await writeFile(path, `${header}{"key":"a","result":"migrated"}\n{"key":1}\n{"key":"b","result":"migrated"}\n`);
    await assert.rejects(MigrationJournal.open(path, ID), (e) => isJournalError(e, path, 'line 3'));
  });
});

test('a journal of another job is refused, listing the fields that differ', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'j.jsonl');
    await (await MigrationJournal.open(path, ID)).close();
    await assert.rejects(MigrationJournal.open(path, { ...ID, prefix: 'q/', shard: '1/2' }), (e) =>
      isJournalError(e, path, 'prefix', '"p/"', '"q/"', 'shard'),
    );
    await assert.rejects(MigrationJournal.open(path, { ...ID, extra: 'x' }), (e) => isJournalError(e, 'extra'));
    // The refused open changed nothing.
    const j = await MigrationJournal.open(path, ID);
    await j.close();
  });
});

test('a file that is not a journal is refused and left untouched', async () => {
  await withDir(async (dir) => {
    for (const content of ['hello\nworld\n', '{"ossCseMigrationJournal":2,"identity":{}}\n', 'no newline at all', '[1]\n']) {
      const path = join(dir, 'other.txt');
      await writeFile(path, content);
      await assert.rejects(MigrationJournal.open(path, ID), (e) => isJournalError(e, path));
      assert.equal(await readFile(path, 'utf8'), content);
    }
  });
});

test('a header torn while the journal was being created is rewritten', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'j.jsonl');
    await writeFile(path, JSON.stringify({ ossCseMigrationJournal: 1, identity: ID }).slice(0, 20));
    const j = await MigrationJournal.open(path, ID);
    assert.equal(j.finished, 0);
    await j.close();
    assert.equal(await readFile(path, 'utf8'), `${JSON.stringify({ ossCseMigrationJournal: 1, identity: ID })}\n`);
  });
});

test('a symbolic link as journal path is refused', async () => {
  await withDir(async (dir) => {
    const target = join(dir, 'real.jsonl');
    await (await MigrationJournal.open(target, ID)).close();
    const link = join(dir, 'link.jsonl');
    await symlink(target, link);
    await assert.rejects(MigrationJournal.open(link, ID), (e) => isJournalError(e, 'symbolic link'));
  });
});

test('concurrent record() calls each land as exactly one whole line', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'j.jsonl');
    const j = await MigrationJournal.open(path, ID);
    const keys = Array.from({ length: 500 }, (_, i) => `key/${i}/${'x'.repeat(i % 50)}`);
    await Promise.all(keys.map(async (key) => j.record({ key, result: 'migrated', etag: `"${key.length}"` })));
    await j.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 501);
    assert.deepEqual(lines.slice(1).map((l) => (JSON.parse(l) as { key: string }).key).sort(), [...keys].sort());
  });
});

test('record() after close() is ERR_CSE_JOURNAL; close() twice is harmless', async () => {
  await withDir(async (dir) => {
    const j = await MigrationJournal.open(join(dir, 'j.jsonl'), ID);
    await j.close();
    await j.close();
    await assert.rejects(j.record({ key: 'a', result: 'migrated' }), (e) => isJournalError(e, 'closed'));
  });
});

test('a writer killed with SIGKILL leaves a journal that reopens with every fsynced record', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'j.jsonl');
    const script = fileURLToPath(new URL('./fixtures/journal-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, path, '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('synced 300\n')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited early: ${out}`)));
    });
    // Let it get some unsynced records in flight, measured in bytes written rather than time.
    for (;;) {
      if ((await stat(path)).size > 30_000) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const j = await MigrationJournal.open(path, { bucket: 'b', prefix: 'p/' });
    for (let i = 0; i < 300; i++) assert.ok(j.has(`k${i}`), `k${i}`);
    assert.ok(j.finished > 300);
    await j.record({ key: 'after', result: 'migrated' });
    await j.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.equal(lines.pop(), '');
    for (const l of lines) JSON.parse(l); // every line whole after the reopen
  });
});

test('a failed append (disk full mid-line) leaves no fragment: later records and a reopen still work', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'j.jsonl');
    const j = await MigrationJournal.open(path, ID);
    await j.record({ key: 'a', result: 'migrated' });
    // Inject one ENOSPC after part of the line reached the file, as a full disk does.
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { appendFile: (this: FileHandle, data: string) => Promise<void> };
    await probe.close();
    const original = proto.appendFile;
    let failures = 0;
    proto.appendFile = async function (this: FileHandle, data: string): Promise<void> {
      if (failures === 0 && data.includes('"b"')) {
        failures++;
        await original.call(this, data.slice(0, 7));
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      }
      return original.call(this, data);
    };
    try {
      await assert.rejects(j.record({ key: 'b', result: 'migrated' }), (e) => e instanceof CseError && e.cseCode === ErrorCode.IO);
      await j.record({ key: 'c', result: 'skipped' });
      await j.record({ key: 'd', result: 'migrated' });
    } finally {
      proto.appendFile = original;
    }
    await j.close();
    assert.equal(failures, 1);
    const again = await MigrationJournal.open(path, ID);
    assert.ok(again.has('a') && !again.has('b') && again.has('c') && again.has('d'));
    await again.close();
  });
});
