// `npm run bench -- --quick` is the CI smoke of issue 8 ("Done when"): it must run end to end in seconds and leave a
// result file with sane fields, a chart and a table. Runs the real harness in a child process (as `npm run bench`
// does) with the scope trimmed to one chunk size and one store so it stays well under a minute on a busy machine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchReport } from '../../bench/lib/report.js';

const root = new URL('../../', import.meta.url).pathname;
let out: string;
let stdout = '';
let report: BenchReport;

describe('npm run bench -- --quick', () => {
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'oss-cse-bench-test-'));
    const r = spawnSync(
      process.execPath,
      // multipart, gateway and migrate have their own tests (multipart's quick rows spawn a dozen 32 MiB child processes).
      ['--expose-gc', '--import', 'tsx', 'bench/run.ts', '--quick', '--chunks', '64KiB', '--stores', 'memory', '--skip', 'multipart,gateway,migrate', '--out', out],
      { cwd: root, encoding: 'utf8', timeout: 150_000 },
    );
    stdout = r.stdout;
    assert.equal(r.status, 0, `bench exited with ${r.status}\n${r.stderr}`);
    report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
  });
  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  test('the JSON records the machine, the settings and every row group', () => {
    assert.equal(report.schema, 'oss-cse-bench/1');
    assert.equal(report.options.mode, 'quick');
    assert.ok(report.options.runs >= 5 && report.options.cpuRuns >= 5);
    assert.ok(report.machine.cores >= 1);
    assert.ok(report.machine.memoryBytes > 0);
    assert.match(report.machine.node, /^\d+\.\d+\.\d+$/);
    assert.ok(report.machine.openssl.length > 0);
    assert.ok(report.machine.cpuModel.length > 0);
    const groups = new Set([...report.rows.map((r) => r.group), ...report.skipped.map((s) => s.group)]);
    for (const g of ['cipher', 'crc64', 'rsa', 'kms', 'server', 'e2e']) assert.ok(groups.has(g), `group ${g} neither measured nor skipped`);
    for (const s of report.skipped) assert.ok(s.reason.length > 0, `${s.id} skipped without a reason`);
  });

  test('every row is a ratio against a baseline of the same run, with sane spread and rates', () => {
    assert.ok(report.rows.length >= 10);
    const ids = new Set<string>();
    for (const r of report.rows) {
      assert.ok(!ids.has(r.id), `duplicate id ${r.id}`);
      ids.add(r.id);
      assert.ok(r.subject !== '' && r.baseline !== '', r.id);
      assert.ok(r.runs === report.options.runs || r.runs === report.options.cpuRuns, r.id);
      assert.ok(r.runs >= 5, r.id);
      assert.equal(r.raw.subjectSeconds.length, r.runs, r.id);
      assert.equal(r.raw.baselineSeconds.length, r.runs, r.id);
      assert.ok(r.ratio.min > 0 && r.ratio.min <= r.ratio.median && r.ratio.median <= r.ratio.max, `${r.id} ratio ${JSON.stringify(r.ratio)}`);
      assert.ok(Number.isFinite(r.ratio.max), r.id);
      assert.ok(r.subjectRate.median > 0 && r.baselineRate.median > 0, r.id);
      // The recorded ratios are the per-pair quotients of the recorded times.
      const pairs = r.raw.subjectSeconds.map((a, i) => (r.metric === 'speed' ? r.raw.baselineSeconds[i]! / a : a / r.raw.baselineSeconds[i]!));
      assert.ok(Math.abs(Math.min(...pairs) - r.ratio.min) < 1e-12 && Math.abs(Math.max(...pairs) - r.ratio.max) < 1e-12, r.id);
      if (r.target !== undefined) {
        assert.equal(r.target.met, r.target.op === '>=' ? r.ratio.median >= r.target.value : r.ratio.median <= r.target.value, r.id);
      }
    }
    // Requests per operation are counted at the server: one request per plain PUT or GET.
    const serverGet = report.rows.find((r) => r.group === 'server' && r.id.includes('.get.'));
    assert.equal(serverGet?.baselineRequestsPerUnit, 1);
    // …and so are new connections: plain ali-oss keeps its connection alive.
    assert.equal(serverGet.baselineConnectionsPerUnit, 0);
  });

  test('the chart and the Markdown table are written and name every row', () => {
    const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\s*$/);
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    for (const r of report.rows) {
      assert.ok(svg.includes(r.label.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')), `chart lacks ${r.label}`);
      assert.ok(md.includes(r.label.replace(/\|/g, '\\|')), `table lacks ${r.label}`);
    }
    assert.ok(existsSync(join(out, 'latest.json')));
    assert.match(stdout, /ratio median \[min–max\]/);
  });
});
