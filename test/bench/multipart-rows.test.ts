// The multipart bench rows (issue 6 "Benchmark") run end to end on a small file: one upload and one download row,
// each a ratio against plain ali-oss measured in the same run, with the peak RSS of both sides' child processes and a
// note with the peak RSS per row. The quick-run test skips this group (its default rows spawn many 32 MiB children).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchReport } from '../../bench/lib/report.js';

const root = new URL('../../', import.meta.url).pathname;
let out: string;
let report: BenchReport;

before(async () => {
  out = await mkdtemp(join(tmpdir(), 'oss-cse-bench-multipart-test-'));
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'bench/run.ts', '--quick', '--only', 'multipart', '--runs', '5', '--warmup', '0', '--out', out],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 170_000,
      env: {
        ...process.env,
        OSS_CSE_BENCH_MULTIPART_SIZES: '1MiB',
        OSS_CSE_BENCH_MULTIPART_PARALLEL: '2',
        OSS_CSE_BENCH_MULTIPART_PART_SIZE: '256KiB',
      },
    },
  );
  assert.equal(r.status, 0, `bench exited with ${r.status}\n${r.stderr}`);
  report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
});

after(async () => {
  await rm(out, { recursive: true, force: true });
});

test('upload and download rows compare EncryptionClient with ali-oss in the same run, with peak RSS of both sides', () => {
  const ids = report.rows.map((r) => r.id).sort();
  assert.deepEqual(ids, ['multipart.download.1MiB.p2', 'multipart.upload.1MiB.p2']);
  for (const row of report.rows) {
    assert.equal(row.group, 'multipart');
    assert.equal(row.runs, 5);
    assert.ok(row.ratio.min > 0 && row.ratio.min <= row.ratio.median && row.ratio.median <= row.ratio.max, row.id);
    assert.ok((row.subjectPeakRssBytes?.min ?? 0) > 10 * 1024 * 1024, `${row.id}: subject peak RSS`);
    assert.ok((row.baselinePeakRssBytes?.min ?? 0) > 10 * 1024 * 1024, `${row.id}: baseline peak RSS`);
    assert.equal(row.target?.value, 1.15);
  }
  assert.deepEqual(report.skipped, []);
  assert.ok(report.notes.some((n) => /multipart 1 MiB peak RSS .*upload p2: \d+ MiB vs ali-oss \d+ MiB/.test(n)), report.notes.join('\n'));
});
