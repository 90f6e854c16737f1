// The benchmark's measuring discipline (issue 8 §1): interleaved pairs (A B, B A, …) after a warm-up, per-pair ratios, median
// with min/max, targets checked on the median; and the flag parsing that sets sizes and repetitions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compare, type Sample } from '../../bench/lib/measure.js';
import { parseOptions } from '../../bench/lib/options.js';
import { spread } from '../../bench/lib/stats.js';
import { formatSize, parseSize } from '../../bench/lib/units.js';

const SETTINGS = { runs: 5, warmup: 2, minSampleMs: 100, maxBatch: 1000, cpuRuns: 7, cpuSampleMs: 10 };

describe('compare', () => {
  test('runs the sides interleaved, every other pair B first, after the warm-up, one batch-size probe in between', async () => {
    const calls: string[] = [];
    await compare(
      {
        group: 'g',
        id: 'g.order',
        label: 'order',
        subject: 'A',
        baseline: 'B',
        metric: 'speed',
        unit: 'B',
        workPerUnit: 1,
        batch: 'auto',
        a: async (n) => {
          calls.push(`a${n}`);
          return 0.01 * n;
        },
        b: async (n) => {
          calls.push(`b${n}`);
          return 0.01 * n;
        },
      },
      SETTINGS,
    );
    // 2 warm-up pairs at batch 1, 1 probe pair at batch 1, then 5 measured pairs at 100 ms / 10 ms = batch 10; the
    // order alternates from pair to pair, so neither side is always the first run after the collector.
    assert.deepEqual(calls, [
      ...['a1', 'b1', 'b1', 'a1', 'a1', 'b1'],
      ...['b10', 'a10', 'a10', 'b10', 'b10', 'a10', 'a10', 'b10', 'b10', 'a10'],
    ]);
  });

  test('speed ratio = baseline time ÷ subject time per pair; time ratio the inverse; median, min and max over pairs', async () => {
    const aTimes = [2, 2, 4, 2, 3];
    const bTimes = [1, 2, 1, 1, 1];
    const make = (times: number[]) => {
      let i = -1;
      return async (): Promise<number> => {
        i++;
        return i < SETTINGS.warmup ? 1 : times[i - SETTINGS.warmup]!;
      };
    };
    const common = { group: 'g', label: 'r', subject: 'A', baseline: 'B', unit: 'B' as const, workPerUnit: 10, batch: 1 };
    const speed = await compare({ ...common, id: 'g.speed', metric: 'speed', a: make(aTimes), b: make(bTimes) }, SETTINGS);
    assert.deepEqual(speed.ratio, spread([0.5, 1, 0.25, 0.5, 1 / 3]));
    assert.equal(speed.ratio.median, 0.5);
    assert.equal(speed.ratio.min, 0.25);
    assert.equal(speed.ratio.max, 1);
    assert.deepEqual(speed.raw.subjectSeconds, aTimes);
    assert.equal(speed.subjectRate.median, 10 / 2);
    const time = await compare({ ...common, id: 'g.time', metric: 'time', a: make(aTimes), b: make(bTimes) }, SETTINGS);
    assert.equal(time.ratio.median, 2);
    assert.equal(time.ratio.max, 4);
  });

  test('targets are judged on the median; requests, connections and peak RSS are carried per unit of work', async () => {
    const side =
      (seconds: number, requests: number, rss: number) =>
      async (n: number): Promise<Sample> => ({ seconds: seconds * n, requests: requests * n, connections: requests === 2 ? n : 0, peakRssBytes: rss });
    const r = await compare(
      {
        group: 'g',
        id: 'g.extras',
        label: 'extras',
        subject: 'A',
        baseline: 'B',
        metric: 'time',
        unit: 'op',
        workPerUnit: 1,
        batch: 4,
        a: side(0.011, 2, 5e6),
        b: side(0.01, 1, 4e6),
        target: { op: '<=', value: 1.05, source: 'test' },
      },
      SETTINGS,
    );
    assert.ok(Math.abs(r.ratio.median - 1.1) < 1e-9);
    assert.equal(r.target?.met, false);
    assert.equal(r.subjectRequestsPerUnit, 2);
    assert.equal(r.baselineRequestsPerUnit, 1);
    assert.equal(r.subjectConnectionsPerUnit, 1);
    assert.equal(r.baselineConnectionsPerUnit, 0);
    assert.equal(r.subjectPeakRssBytes?.median, 5e6);
  });

  test('CPU-bound rows get their own (more, shorter) runs', async () => {
    let calls = 0;
    const side = async (n: number): Promise<number> => {
      calls++;
      return 0.001 * n;
    };
    const r = await compare(
      { group: 'g', id: 'g.cpu', label: 'c', subject: 'A', baseline: 'B', metric: 'speed', unit: 'B', workPerUnit: 1, cpuBound: true, a: side, b: side },
      SETTINGS,
    );
    assert.equal(r.runs, SETTINGS.cpuRuns);
    assert.equal(r.batch, 10); // 10 ms ÷ 1 ms
    assert.equal(calls, 2 * (SETTINGS.warmup + 1 + SETTINGS.cpuRuns));
  });

  test('a pair broken by a dropped connection is run again and counted; any other error ends the row', async () => {
    let n = 0;
    const flaky = async (): Promise<number> => {
      n++;
      if (n === 5) throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      return 0.01;
    };
    const base = { group: 'g', label: 'f', subject: 'A', baseline: 'B', metric: 'time' as const, unit: 'B' as const, workPerUnit: 1, batch: 1 };
    const r = await compare({ ...base, id: 'g.flaky', a: flaky, b: async () => 0.01 }, SETTINGS);
    assert.equal(r.retriedPairs, 1);
    assert.equal(r.raw.subjectSeconds.length, SETTINGS.runs);
    await assert.rejects(
      compare({ ...base, id: 'g.broken', a: async () => Promise.reject(new Error('wrong bytes')), b: async () => 0.01 }, SETTINGS),
      /wrong bytes/,
    );
  });

  test('a side reporting no time is an error, not a silent infinity', async () => {
    await assert.rejects(
      compare(
        { group: 'g', id: 'g.zero', label: 'z', subject: 'A', baseline: 'B', metric: 'speed', unit: 'B', workPerUnit: 1, batch: 1, a: async () => 0, b: async () => 1 },
        SETTINGS,
      ),
      /0 seconds/,
    );
  });
});

describe('spread', () => {
  test('median of an even count is the mean of the middle two', () => {
    assert.deepEqual(spread([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
  });
  test('refuses an empty list', () => {
    assert.throws(() => spread([]), /no values/);
  });
});

describe('flags', () => {
  test('sizes parse in binary units and print back', () => {
    assert.equal(parseSize('64KiB'), 65536);
    assert.equal(parseSize('256 MiB'), 256 * 1024 * 1024);
    assert.equal(parseSize('1000'), 1000);
    assert.equal(formatSize(1024 * 1024), '1 MiB');
    assert.throws(() => parseSize('lots'), /not a size/);
    assert.throws(() => parseSize('0'), /positive/);
  });

  test('--quick is small and keeps ≥ 5 runs; explicit flags win', () => {
    const quick = parseOptions(['--quick'], '/tmp/out');
    assert.notEqual(quick, 'help');
    if (quick === 'help') return;
    assert.equal(quick.mode, 'quick');
    assert.ok(quick.runs >= 5);
    assert.ok(Math.max(...quick.objectSizes) <= 16 * 1024 * 1024);
    const full = parseOptions(['--runs', '9', '--sizes', '1KiB,4MiB', '--only', 'cipher,e2e', '--stores', 'memory'], '/tmp/out');
    if (full === 'help') return assert.fail('help');
    assert.equal(full.mode, 'full');
    assert.equal(full.runs, 9);
    assert.deepEqual(full.objectSizes, [1024, 4 * 1024 * 1024]);
    assert.deepEqual(full.only, ['cipher', 'e2e']);
    assert.deepEqual(full.stores, ['memory']);
    assert.equal(parseOptions(['--help'], '/tmp/out'), 'help');
  });

  test('bad flags are refused with the flag named', () => {
    assert.throws(() => parseOptions(['--runs', 'many'], '/tmp/out'), /--runs/);
    assert.throws(() => parseOptions(['--stores', 'tape'], '/tmp/out'), /--stores/);
    assert.throws(() => parseOptions(['--frobnicate'], '/tmp/out'), /frobnicate/);
  });
});
