// The gateway bench rows (issue 20) run end to end on a small object: plain ali-oss through the gateway (its own
// process) ÷ EncryptionClient directly, measured in the same run, against the ≤ 1.3 target, with a note giving the
// gateway process's peak RSS; and the literal baseline as whole processes (one child doing plain ali-oss
// put+get through the gateway ÷ `oss-cse put` then `oss-cse get`). The quick-run test skips this group to stay short.
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
  out = await mkdtemp(join(tmpdir(), 'oss-cse-bench-gateway-test-'));
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'bench/run.ts', '--quick', '--only', 'gateway', '--sizes', '1KiB', '--runs', '5', '--warmup', '0', '--out', out],
    { cwd: root, encoding: 'utf8', timeout: 170_000 },
  );
  assert.equal(r.status, 0, `bench exited with ${r.status}\n${r.stderr}`);
  report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
});

after(async () => {
  await rm(out, { recursive: true, force: true });
});

test('the gateway rows are measured ratios against EncryptionClient directly and against oss-cse put/get processes, with the 1.3 target and the peak RSS note', () => {
  assert.deepEqual(report.skipped, []);
  const rows = report.rows.filter((r) => r.group === 'gateway');
  assert.deepEqual(rows.map((r) => r.id), ['gateway.putget.1KiB', 'gateway.putget-processes.1KiB']);
  for (const row of rows) {
    assert.equal(row.runs, 5);
    assert.ok(row.ratio.min > 0 && row.ratio.min <= row.ratio.median && row.ratio.median <= row.ratio.max);
    assert.deepEqual({ op: row.target?.op, value: row.target?.value }, { op: '<=', value: 1.3 });
  }
  assert.match(rows[1]!.label, /÷ oss-cse put\/get \(processes\)$/);
  assert.ok(report.notes.some((n) => /^gateway process peak RSS \d+\.\d MiB/.test(n)), report.notes.join('\n'));
});
