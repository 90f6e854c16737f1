/**
 * The options `cp` and `sync` share: filters, `--jobs`, `--fail-fast`, `--follow-symlinks`, and how a finished batch is
 * printed (per-file lines, a summary line, or one JSON object; exit code 1 when any file failed).
 *
 * @packageDocumentation
 */

import { UsageError, type CliIo } from './command.js';
import type { BatchSummary, TaskResult } from './batch.js';
import { formatBytes } from './job-progress.js';
import { formatFailure } from './report.js';
import type { Skipped } from './tree.js';

/** `parseArgs` options. */
export const BATCH_OPTIONS = {
  include: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  jobs: { type: 'string' },
  'fail-fast': { type: 'boolean', default: false },
  'follow-symlinks': { type: 'boolean', default: false },
} as const;

/** Help for {@link BATCH_OPTIONS}. */
export const BATCH_HELP = `  --include GLOB           only paths matching GLOB (repeatable); matched on the path relative to the source
                           directory or prefix: * stays within a directory, ** crosses them, ? is one character,
                           [abc] a class; a GLOB without / matches the file name in any directory
  --exclude GLOB           leave out paths matching GLOB (repeatable; wins over --include)
  --jobs N                 files in flight at once (default 4, or \`oss-cse config set jobs N\`); each large file
                           also has its own parts in flight
  --fail-fast              stop at the first failed file (the others are reported as not started)
  --follow-symlinks        follow symbolic links (default: they are skipped and listed)`;

/**
 * `--jobs N`.
 * @throws UsageError for anything but a whole number from 1 to 64
 */
export function parseJobs(value: string | undefined): number {
  if (value === undefined) return 4;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 64) throw new UsageError(`--jobs expects a whole number from 1 to 64, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Whether standard error is a terminal (for the progress line). */
export function stderrIsTty(io: CliIo): boolean {
  return (io.stderr as Partial<Pick<NodeJS.WriteStream, 'isTTY'>>).isTTY ?? false;
}

/**
 * Prints the outcome: with `json`, one object `{command, results, skipped, summary}` on stdout (and, when a file
 * failed, the first failure as the `{"error": …}` object on stderr); otherwise the summary line. Returns the exit code.
 */
export function printOutcome(
  io: CliIo,
  command: 'cp' | 'sync',
  results: readonly TaskResult[],
  skipped: readonly Skipped[],
  summary: BatchSummary & { readonly unchanged?: number; readonly dryRun?: boolean },
  flags: { readonly json: boolean; readonly quiet: boolean },
): number {
  const failed = results.filter((r) => r.status === 'failed');
  if (flags.json) {
    io.stdout.write(JSON.stringify({ command, results, skipped, summary }) + '\n');
    const first = failed[0]?.error;
    if (first !== undefined) {
      io.stderr.write(formatFailure({ code: first.code, message: `${failed.length} of ${results.length} files failed; the first: ${first.message}` }, true));
    }
    return failed.length > 0 ? 1 : 0;
  }
  if (!flags.quiet) for (const s of skipped) io.stderr.write(`skipped ${s.path}: ${s.reason}\n`);
  const copied = summary.done - summary.deleted;
  const parts = [
    summary.dryRun === true ? `${results.length} planned (dry run, nothing transferred)` : `${copied} file${copied === 1 ? '' : 's'} transferred (${formatBytes(summary.bytes)})`,
  ];
  if (summary.unchanged !== undefined) parts.push(`${summary.unchanged} unchanged`);
  if (summary.deleted > 0) parts.push(`${summary.deleted} deleted`);
  if (skipped.length > 0) parts.push(`${skipped.length} skipped`);
  if (summary.failed > 0) parts.push(`${summary.failed} failed`);
  if (summary.notStarted > 0) parts.push(`${summary.notStarted} not started`);
  const nothing = summary.dryRun !== true && results.length === 0 && command === 'sync' ? 'nothing to do: ' : '';
  if (!flags.quiet || failed.length > 0) (failed.length > 0 ? io.stderr : io.stdout).write(`${command}: ${nothing}${parts.join(', ')}\n`);
  return failed.length > 0 ? 1 : 0;
}
