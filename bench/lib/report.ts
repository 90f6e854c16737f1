/** The result file, the printed table and its Markdown twin. */

import type { SkippedRow } from './context.js';
import type { MachineInfo } from './machine.js';
import type { RowResult } from './measure.js';
import type { BenchOptions } from './options.js';
import { formatRate, formatSize } from './units.js';

/** Version of the JSON layout; bump when a field changes meaning. */
export const RESULT_SCHEMA = 'oss-cse-bench/1';

/** Contents of bench/results/latest.json. */
export interface BenchReport {
  readonly schema: typeof RESULT_SCHEMA;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly options: BenchOptions;
  readonly machine: MachineInfo;
  readonly loadAverageAtEnd: readonly number[];
  /** How to read `ratio` for each metric. */
  readonly legend: Readonly<Record<'speed' | 'time', string>>;
  readonly rows: readonly RowResult[];
  readonly skipped: readonly SkippedRow[];
  readonly notes: readonly string[];
}

/** The legend recorded in every report. */
export const LEGEND = {
  speed: 'ratio = subject speed ÷ baseline speed (higher is better; 1 = as fast as the baseline)',
  time: 'ratio = subject time ÷ baseline time (lower is better; 1 = as fast as the baseline)',
} as const;

function num(x: number): string {
  return x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** `0.97 [0.93–1.01]` */
export function ratioCell(r: RowResult): string {
  return `${num(r.ratio.median)} [${num(r.ratio.min)}–${num(r.ratio.max)}]`;
}

/** A side's speed: MB/s or op/s, or milliseconds per operation for objects under 1 MiB (a rate means little there). */
function rateCell(r: RowResult, side: 'subject' | 'baseline'): string {
  if (r.unit === 'B' && r.workPerUnit < 1024 * 1024) {
    const s = side === 'subject' ? r.subjectSecondsPerUnit : r.baselineSecondsPerUnit;
    const ms = s.median * 1000;
    return `${ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)} ms/op`;
  }
  return formatRate(side === 'subject' ? r.subjectRate.median : r.baselineRate.median, r.unit);
}

function targetCell(r: RowResult): string {
  if (r.target === undefined) return '';
  return `${r.target.met ? 'met' : 'MISSED'} (${r.target.op} ${r.target.value})`;
}

function extrasCell(r: RowResult): string {
  const parts: string[] = [];
  if (r.subjectRequestsPerUnit !== undefined || r.baselineRequestsPerUnit !== undefined) {
    const f = (x: number | undefined): string => (x === undefined ? '?' : Number.isInteger(x) ? String(x) : x.toFixed(2));
    parts.push(`req/op ${f(r.subjectRequestsPerUnit)} vs ${f(r.baselineRequestsPerUnit)}`);
  }
  if (Math.max(r.subjectConnectionsPerUnit ?? 0, r.baselineConnectionsPerUnit ?? 0) >= 0.05) {
    const f = (x: number | undefined): string => (x === undefined ? '?' : x.toFixed(2));
    parts.push(`new conn/op ${f(r.subjectConnectionsPerUnit)} vs ${f(r.baselineConnectionsPerUnit)}`);
  }
  if (r.subjectPeakRssBytes !== undefined || r.baselinePeakRssBytes !== undefined) {
    const f = (x: { median: number } | undefined): string => (x === undefined ? '?' : formatSize(Math.round(x.median / 1024) * 1024));
    parts.push(`peak RSS ${f(r.subjectPeakRssBytes)} vs ${f(r.baselinePeakRssBytes)}`);
  }
  if (r.workPerUnit >= 1024 * 1024 && Math.max(r.subjectFaultBytesPerUnit, r.baselineFaultBytesPerUnit) >= 1024 * 1024) {
    const mib = (x: number): string => `${Math.round(x / 1048576)}`;
    parts.push(`fresh MiB/op ${mib(r.subjectFaultBytesPerUnit)} vs ${mib(r.baselineFaultBytesPerUnit)}`);
  }
  return parts.join('; ');
}

interface Column {
  readonly head: string;
  readonly cell: (r: RowResult) => string;
}

const COLUMNS: readonly Column[] = [
  { head: 'row', cell: (r) => r.label },
  { head: 'ratio median [min–max]', cell: ratioCell },
  { head: 'reads', cell: (r) => (r.metric === 'speed' ? 'speed÷base' : 'time÷base') },
  { head: 'subject', cell: (r) => rateCell(r, 'subject') },
  { head: 'baseline', cell: (r) => rateCell(r, 'baseline') },
  { head: 'target', cell: targetCell },
  { head: 'also', cell: extrasCell },
];

/** The results as a fixed-width text table, grouped. */
export function textTable(rows: readonly RowResult[]): string {
  const cells = rows.map((r) => COLUMNS.map((c) => c.cell(r)));
  const widths = COLUMNS.map((c, i) => Math.max(c.head.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: readonly string[]): string => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  const out: string[] = [line(COLUMNS.map((c) => c.head)), widths.map((w) => '-'.repeat(w)).join('  ')];
  let group = '';
  rows.forEach((r, i) => {
    if (r.group !== group) {
      group = r.group;
      out.push(`[${group}]`);
    }
    out.push(line(cells[i]!));
  });
  return out.join('\n');
}

/** One progress line for a finished row. */
export function progressLine(r: RowResult): string {
  const target = targetCell(r);
  const extras = extrasCell(r);
  return (
    `  ${r.id}: ${ratioCell(r)} ${r.metric === 'speed' ? 'speed÷base' : 'time÷base'}; ` +
    `${rateCell(r, 'subject')} vs ${rateCell(r, 'baseline')}` +
    (target === '' ? '' : `; target ${target}`) +
    (extras === '' ? '' : `; ${extras}`)
  );
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** The report as Markdown (for the README's Performance section). */
export function markdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [
    `Measured ${report.finishedAt.slice(0, 10)} (${report.options.mode} mode, ${report.options.runs} interleaved runs after ` +
      `${report.options.warmup} warm-up; median [min–max] of per-pair ratios).`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores${m.aesNi === true ? ' (AES-NI)' : ''}, ${formatSize(m.memoryBytes)} RAM, ` +
      `${m.platform}/${m.arch} ${m.kernel}, Node ${m.node}, OpenSSL ${m.openssl}; writing fresh memory ` +
      `${m.memoryFirstTouchMBps} MB/s (again: ${m.memoryRewriteMBps} MB/s); load average at start ` +
      `${m.loadAverageAtStart.join(' / ')}, at end ${report.loadAverageAtEnd.join(' / ')}.`,
    '',
    `- speed÷base: ${LEGEND.speed}`,
    `- time÷base: ${LEGEND.time}`,
    '',
    '| group | row | subject | baseline | ratio | reads | subject rate | baseline rate | target | also |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of report.rows) {
    out.push(
      `| ${[
        r.group,
        r.label,
        r.subject,
        r.baseline,
        ratioCell(r),
        r.metric === 'speed' ? 'speed÷base' : 'time÷base',
        rateCell(r, 'subject'),
        rateCell(r, 'baseline'),
        targetCell(r),
        extrasCell(r),
      ]
        .map(mdEscape)
        .join(' | ')} |`,
    );
  }
  if (report.skipped.length > 0) {
    out.push('', 'Not measured:', '');
    for (const s of report.skipped) out.push(`- ${s.group} ${s.id}: ${s.reason}`);
  }
  if (report.notes.length > 0) {
    out.push('', 'Notes:', '');
    for (const n of report.notes) out.push(`- ${n}`);
  }
  out.push('', `Reproduce: \`npm ci && npm run bench\` (\`npm run bench -- --help\` for sizes and repetitions).`, '');
  return out.join('\n');
}
