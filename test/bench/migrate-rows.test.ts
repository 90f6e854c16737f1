// The migration bench row (issue 18 "Done when") runs end to end on a small prefix: four `oss-cse migrate --shard i/4`
// processes ÷ one `oss-cse migrate` process, each run seeding its own plaintext objects and checking that every one
// was migrated exactly once before its time counts. The quick-run test skips this group to stay short.
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
  out = await mkdtemp(join(tmpdir(), 'oss-cse-bench-migrate-test-'));
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'bench/run.ts', '--quick', '--only', 'migrate', '--migrate-objects', '40', '--runs', '5', '--warmup', '0', '--out', out],
    { cwd: root, encoding: 'utf8', timeout: 170_000 },
  );
  assert.equal(r.status, 0, `bench exited with ${r.status}\n${r.stderr}`);
  report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
});

after(async () => {
  await rm(out, { recursive: true, force: true });
});

test('the migrate rows are measured speed ratios of 4 shard processes against 1, in objects per second, with server requests counted (loopback and a 10 ms-per-request server)', () => {
  assert.deepEqual(report.skipped, []);
  const rows = report.rows.filter((r) => r.group === 'migrate');
  assert.deepEqual(rows.map((r) => r.id), ['migrate.plaintext.40x16KiB.shards4', 'migrate.plaintext.20x16KiB.shards4.latency10ms']);
  assert.equal(rows[0]!.label, 'objects per second migrated, 40 × 16 KiB, 1 vs 4 shards');
  assert.equal(rows[1]!.label, 'objects per second migrated, 20 × 16 KiB, 1 vs 4 shards, 10 ms per request');
  for (const [row, count] of [[rows[0]!, 40], [rows[1]!, 20]] as const) {
  assert.equal(row.metric, 'speed');
  assert.equal(row.unit, 'op');
  assert.equal(row.workPerUnit, count);
  assert.equal(row.runs, 5);
  assert.ok(row.ratio.min > 0 && row.ratio.min <= row.ratio.median && row.ratio.median <= row.ratio.max);
  assert.ok(row.subjectRate.median > 0 && row.baselineRate.median > 0);
  // Reported per object: every migrated object costs the server at least a HEAD, a GET and a write.
  assert.ok((row.subjectRequestsPerUnit ?? 0) >= 3, JSON.stringify(row));
  assert.ok((row.baselineRequestsPerUnit ?? 0) >= 3, JSON.stringify(row));
  }
});
