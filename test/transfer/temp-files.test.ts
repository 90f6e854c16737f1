// Download temporary files (issue 14, item 6), library side: the library's get to a file and its resumable download
// remove the temporary siblings of the same target that killed runs left (exact pattern, dead process only), write
// their own with mode 0600 while the plaintext is unverified, and leave the finished file with the usual mode.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTempFiles, tempSiblingPath, TEMP_SUFFIXES } from '../../src/transfer/temp-file.js';
import { startTransferHarness, testBytes, type TransferHarness } from './support.js';

const UMASK = parseInt(/^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1] ?? '022', 8);
let h: TransferHarness;
const data = testBytes(300_001, 3);

before(async () => {
  h = await startTransferHarness();
  await h.client.put('obj', data);
});

after(async () => {
  await h.close();
});

/** Stale files of every writer from a process that does not run, plus names the cleanup must leave alone. */
function plant(dir: string, name: string): { stale: string[]; kept: string[] } {
  const live = process.pid.toString(16).padStart(8, '0');
  const stale = [`.${name}.0123456789ab.tmp`, `.${name}.7fffffff00000000.part`, `.${name}.7ffffffeabcdef01.oss-cse-download`];
  const kept = [`.${name}.${live}00000000.part`, `.${name}x.0123456789ab.tmp`, `.${name}.0123456789ab.tmp~`, `${name}.0123456789ab.part`];
  for (const n of [...stale, ...kept]) writeFileSync(join(dir, n), 'unverified plaintext');
  symlinkSync('/dev/null', join(dir, `.${name}.0123456789ac.part`));
  kept.push(`.${name}.0123456789ac.part`);
  return { stale, kept };
}

test('tempSiblingPath names .NAME.<pid><random><suffix> beside the target, and removeStaleTempFiles matches exactly that', async () => {
  const dir = join(h.dir, 'names');
  mkdirSync(dir);
  const target = join(dir, 'a.b');
  for (const suffix of TEMP_SUFFIXES) {
    const p = tempSiblingPath(target, suffix);
    assert.equal(p.startsWith(join(dir, '.a.b.')), true);
    assert.match(p.slice(dir.length + 1), new RegExp(`^\\.a\\.b\\.${process.pid.toString(16).padStart(8, '0')}[0-9a-f]{8}${suffix.replace('.', '\\.')}$`));
  }
  const { stale, kept } = plant(dir, 'a.b');
  const removed = await removeStaleTempFiles(target, [stale[0] ?? '']);
  assert.deepEqual(removed.sort(), stale.slice(1).sort(), 'a name in keep is kept');
  assert.deepEqual(readdirSync(dir).sort(), [stale[0], ...kept].sort());
  assert.deepEqual(await removeStaleTempFiles(join(h.dir, 'no-such-dir', 'x')), []);
});

test('get to a file removes stale temporary files of that target (exact pattern, dead process) and ends with the usual mode', async () => {
  const dir = join(h.dir, 'get');
  mkdirSync(dir);
  const target = join(dir, 'out.bin');
  const { kept } = plant(dir, 'out.bin');
  await h.client.get('obj', target);
  assert.ok(readFileSync(target).equals(data));
  assert.equal(statSync(target).mode & 0o777, 0o644 & ~UMASK);
  assert.deepEqual(readdirSync(dir).filter((n) => n !== 'out.bin').sort(), kept.sort());
});

test('a resumable download removes stale temporary files of that target and ends with the usual mode', async () => {
  const dir = join(h.dir, 'resumable');
  mkdirSync(dir);
  const target = join(dir, 'out.bin');
  const { kept } = plant(dir, 'out.bin');
  let tempMode: number | undefined;
  await h.client.resumableDownload('obj', target, {
    partSize: 100_000,
    parallel: 1,
    progress: () => {
      const temp = readdirSync(dir).find((n) => n.endsWith('.oss-cse-download') && n.startsWith(`.out.bin.${process.pid.toString(16).padStart(8, '0')}`));
      if (temp !== undefined) tempMode ??= statSync(join(dir, temp)).mode & 0o777;
    },
  });
  assert.equal(tempMode, 0o600, 'the temporary file is owner-only while it is written');
  assert.ok(readFileSync(target).equals(data));
  assert.equal(statSync(target).mode & 0o777, 0o644 & ~UMASK);
  assert.deepEqual(readdirSync(dir).filter((n) => n !== 'out.bin').sort(), kept.sort());
});
