/**
 * The one measuring discipline of the suite (issue 8 §1): every figure is the subject A compared with a baseline B
 * measured in the same run, interleaved A B A B …, after a warm-up; each pair gives one ratio, and the row reports
 * the median ratio with its min and max. Pairing adjacent runs cancels most of the drift a shared, noisy 2-core
 * machine adds (another process waking up slows A and B of the same pair alike).
 */

import { spread, type Spread } from './stats.js';

/** One timed run of one side. */
export interface Sample {
  /** Wall-clock seconds of the measured work only (set-up excluded). */
  readonly seconds: number;
  /** Peak resident set size of the process that did the work, in bytes (child-process cases). */
  readonly peakRssBytes?: number;
  /** HTTP requests the server saw during the run. */
  readonly requests?: number;
  /** New TCP connections the server accepted during the run (keep-alive working: about 0 per request). */
  readonly connections?: number;
  /** Minor page faults of this process during the run (filled in by the harness; 0 for work done in a child). */
  readonly minorFaults?: number;
}

/**
 * One side of a comparison: does `batch` units of work (see {@link Comparison.workPerUnit}) and reports how long
 * they took. Returning a bare number means seconds.
 */
export type Side = (batch: number) => Promise<Sample | number>;

/** How the ratio reads. */
export type Metric =
  /** ratio = subject speed ÷ baseline speed (= baseline time ÷ subject time); higher is better. */
  | 'speed'
  /** ratio = subject time ÷ baseline time; lower is better. */
  | 'time';

/** A target from issue 8 §3, checked on the median ratio. */
export interface Target {
  readonly op: '>=' | '<=';
  readonly value: number;
  /** Where the target comes from, e.g. `issue 8: cipher ≥ 0.90 of raw AES-CTR`. */
  readonly source: string;
}

/** A comparison to run. */
export interface Comparison {
  /** Row group: `cipher`, `crc64`, `rsa`, `kms`, `server`, `e2e`, … */
  readonly group: string;
  /** Stable id, unique in a run (`cipher.encrypt.64KiB.async`). */
  readonly id: string;
  /** What the row measures, for the table. */
  readonly label: string;
  /** What A is. */
  readonly subject: string;
  /** What B is. */
  readonly baseline: string;
  readonly metric: Metric;
  /** Unit of work: bytes (`B`) or operations (`op`). */
  readonly unit: 'B' | 'op';
  /** Bytes or operations in one unit of work (one `batch` step). */
  readonly workPerUnit: number;
  readonly a: Side;
  readonly b: Side;
  /**
   * In-process CPU work (cipher, CRC, RSA, …): cheap to repeat, and short, so it gets more and shorter runs
   * (`MeasureSettings.cpuRuns`, `cpuSampleMs`): short adjacent runs are hit alike by a burst of other load.
   */
  readonly cpuBound?: boolean;
  /** Units per timed run; `auto` (default) sizes the batch so one run lasts about `minSampleMs`. */
  readonly batch?: number | 'auto';
  readonly target?: Target;
  /** Anything the reader must know to read the row (what the baseline is standing in for, caveats). */
  readonly note?: string;
}

/** Settings shared by all comparisons of a run. */
export interface MeasureSettings {
  /** Measured pairs (≥ 5 for a reported figure). */
  readonly runs: number;
  /** Untimed pairs before the measured ones. */
  readonly warmup: number;
  /** Target duration of one timed run when the batch is `auto`. */
  readonly minSampleMs: number;
  /** Largest automatic batch. */
  readonly maxBatch: number;
  /** Measured pairs and target run length of `cpuBound` comparisons. */
  readonly cpuRuns: number;
  readonly cpuSampleMs: number;
}

/** A measured comparison. */
export interface RowResult {
  readonly group: string;
  readonly id: string;
  readonly label: string;
  readonly subject: string;
  readonly baseline: string;
  readonly metric: Metric;
  readonly unit: 'B' | 'op';
  /** Units of work per timed run and bytes/ops per unit. */
  readonly batch: number;
  readonly workPerUnit: number;
  readonly runs: number;
  readonly warmup: number;
  /** Per-pair ratios (see {@link Metric}). */
  readonly ratio: Spread;
  /** Subject and baseline speed (bytes/s or ops/s) over the runs. */
  readonly subjectRate: Spread;
  readonly baselineRate: Spread;
  /** Subject and baseline seconds per unit of work. */
  readonly subjectSecondsPerUnit: Spread;
  readonly baselineSecondsPerUnit: Spread;
  /** Peak RSS (bytes) when the sides report it. */
  readonly subjectPeakRssBytes?: Spread;
  readonly baselinePeakRssBytes?: Spread;
  /**
   * Fresh memory touched per unit of work in this process (minor page faults × 4 KiB, median over runs): on machines
   * where first touch is slow (see MachineInfo.memoryFirstTouchMBps) this explains many big-object differences.
   */
  readonly subjectFaultBytesPerUnit: number;
  readonly baselineFaultBytesPerUnit: number;
  /** HTTP requests per unit of work when the sides report it. */
  readonly subjectRequestsPerUnit?: number;
  readonly baselineRequestsPerUnit?: number;
  /** New TCP connections per unit of work when the sides report it. */
  readonly subjectConnectionsPerUnit?: number;
  readonly baselineConnectionsPerUnit?: number;
  readonly target?: Target & { readonly met: boolean };
  readonly note?: string;
  /** Pairs (warm-up included) run again after a transient connection error (the failed attempt is not counted). */
  readonly retriedPairs: number;
  /** The raw per-run seconds, A and B, in run order (for anyone who distrusts the summary). */
  readonly raw: { readonly subjectSeconds: readonly number[]; readonly baselineSeconds: readonly number[] };
}

function asSample(x: Sample | number): Sample {
  const s = typeof x === 'number' ? { seconds: x } : x;
  if (!Number.isFinite(s.seconds) || s.seconds <= 0) throw new Error(`a side reported ${s.seconds} seconds`);
  return s;
}

/** Runs the collector if the process was started with `--expose-gc`, so that garbage from A is not paid by B. */
function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) gc();
}

/** Seconds taken by `work` (high-resolution clock). */
export async function timed(work: () => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * A dropped keep-alive connection (EPIPE/ECONNRESET, ali-oss status -1) says nothing about either side's speed:
 * such a pair is run again, once per pair, and counted in `retriedPairs`.
 */
function isTransient(e: unknown): boolean {
  const x = e as { code?: unknown; status?: unknown; message?: unknown } | null;
  const text = `${String(x?.code)} ${String(x?.message)}`;
  return /EPIPE|ECONNRESET|socket hang up/.test(text) || (x?.code === 'ResponseError' && x.status === -1);
}

async function runSide(side: Side, batch: number): Promise<Sample> {
  collectGarbage();
  const before = process.resourceUsage().minorPageFault;
  const sample = asSample(await side(batch));
  return { ...sample, minorFaults: process.resourceUsage().minorPageFault - before };
}

/**
 * Measures A against B: warm-up pairs, batch sizing, then `runs` interleaved pairs A B A B ….
 * @throws Error when a side throws or reports a non-positive time
 */
export async function compare(c: Comparison, given: MeasureSettings): Promise<RowResult> {
  const settings = c.cpuBound === true ? { ...given, runs: given.cpuRuns, minSampleMs: given.cpuSampleMs } : given;
  let batch = typeof c.batch === 'number' ? c.batch : 1;
  let retriedPairs = 0;
  /**
   * One A B pair; a pair broken by a dropped connection is run again (at most `runs` times per row). Every other
   * pair runs B first (A B, B A, A B …): whatever the first run of a pair pays (memory the collector has just given
   * back to the OS, a cold cache) then lands on both sides alike instead of always on A.
   */
  let pairsRun = 0;
  const pair = async (n: number): Promise<[Sample, Sample]> => {
    const bFirst = pairsRun++ % 2 === 1;
    for (;;) {
      try {
        if (bFirst) {
          const b = await runSide(c.b, n);
          const a = await runSide(c.a, n);
          return [a, b];
        }
        const a = await runSide(c.a, n);
        const b = await runSide(c.b, n);
        return [a, b];
      } catch (e) {
        if (!isTransient(e) || retriedPairs >= settings.runs) throw e;
        retriedPairs++;
      }
    }
  };
  for (let i = 0; i < settings.warmup; i++) await pair(batch);
  if (c.batch === undefined || c.batch === 'auto') {
    // One more pair at batch 1 tells the cost of a unit; size the batch so the slower side takes ~minSampleMs.
    const [a, b] = await pair(1);
    const perUnit = Math.max(a.seconds, b.seconds);
    batch = Math.min(settings.maxBatch, Math.max(1, Math.ceil(settings.minSampleMs / 1000 / perUnit)));
  }
  const as: Sample[] = [];
  const bs: Sample[] = [];
  for (let i = 0; i < settings.runs; i++) {
    const [a, b] = await pair(batch);
    as.push(a);
    bs.push(b);
  }
  const work = batch * c.workPerUnit;
  const ratios = as.map((a, i) => {
    const b = bs[i]!;
    return c.metric === 'speed' ? b.seconds / a.seconds : a.seconds / b.seconds;
  });
  const ratio = spread(ratios);
  const peak = (ss: Sample[]): Spread | undefined => {
    const values = ss.map((s) => s.peakRssBytes).filter((v): v is number => v !== undefined);
    return values.length === ss.length ? spread(values) : undefined;
  };
  const perUnit = (ss: Sample[], field: 'requests' | 'connections'): number | undefined => {
    const values = ss.map((s) => s[field]).filter((v): v is number => v !== undefined);
    return values.length === ss.length ? spread(values).median / batch : undefined;
  };
  const faultBytes = (ss: Sample[]): number => spread(ss.map((s) => ((s.minorFaults ?? 0) * 4096) / batch)).median;
  const subjectPeak = peak(as);
  const baselinePeak = peak(bs);
  const subjectRequests = perUnit(as, 'requests');
  const baselineRequests = perUnit(bs, 'requests');
  const subjectConnections = perUnit(as, 'connections');
  const baselineConnections = perUnit(bs, 'connections');
  return {
    group: c.group,
    id: c.id,
    label: c.label,
    subject: c.subject,
    baseline: c.baseline,
    metric: c.metric,
    unit: c.unit,
    batch,
    workPerUnit: c.workPerUnit,
    runs: settings.runs,
    warmup: settings.warmup,
    ratio,
    subjectRate: spread(as.map((s) => work / s.seconds)),
    baselineRate: spread(bs.map((s) => work / s.seconds)),
    subjectSecondsPerUnit: spread(as.map((s) => s.seconds / batch)),
    baselineSecondsPerUnit: spread(bs.map((s) => s.seconds / batch)),
    subjectFaultBytesPerUnit: faultBytes(as),
    baselineFaultBytesPerUnit: faultBytes(bs),
    ...(subjectPeak === undefined ? {} : { subjectPeakRssBytes: subjectPeak }),
    ...(baselinePeak === undefined ? {} : { baselinePeakRssBytes: baselinePeak }),
    ...(subjectRequests === undefined ? {} : { subjectRequestsPerUnit: subjectRequests }),
    ...(baselineRequests === undefined ? {} : { baselineRequestsPerUnit: baselineRequests }),
    ...(subjectConnections === undefined ? {} : { subjectConnectionsPerUnit: subjectConnections }),
    ...(baselineConnections === undefined ? {} : { baselineConnectionsPerUnit: baselineConnections }),
    ...(c.target === undefined
      ? {}
      : { target: { ...c.target, met: c.target.op === '>=' ? ratio.median >= c.target.value : ratio.median <= c.target.value } }),
    ...(c.note === undefined ? {} : { note: c.note }),
    retriedPairs,
    raw: { subjectSeconds: as.map((s) => s.seconds), baselineSeconds: bs.map((s) => s.seconds) },
  };
}
