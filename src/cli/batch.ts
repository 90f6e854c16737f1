/**
 * The engine under `cp` and `sync`: a list of file operations (upload, download, delete) run `jobs` at a time, each
 * failure reported on its own line without stopping the others (unless fail-fast), one progress line for the whole job
 * on a terminal, and a summary. Uploads record the file's modification time as user metadata
 * (`x-oss-meta-oss-cse-mtime`, milliseconds) so that `sync` can tell changed files without reading plaintext
 * (`oss-cse sync --help`, also in docs/cli.md).
 *
 * @packageDocumentation
 */

import { createReadStream } from 'node:fs';
import { mkdir, rm, utimes } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import type { EncryptionClient } from '../client.js';
import { CseError, ErrorCode } from '../errors.js';
import type { CliIo } from './command.js';
import { writeFileAtomic } from './files.js';
import { jobProgress } from './job-progress.js';
import { failureOf, formatFailure, type Failure } from './report.js';
import { increments, useParallelTransfer } from './transfer-options.js';

/** The user-metadata name (after `x-oss-meta-`) holding the source file's modification time in milliseconds. */
export const MTIME_META = 'oss-cse-mtime';

/** One operation. */
export type Task =
  | { readonly kind: 'upload'; readonly local: string; readonly bucket: string; readonly key: string; readonly size: number; readonly mtimeMs: number }
  | { readonly kind: 'download'; readonly local: string; readonly bucket: string; readonly key: string; readonly size: number; readonly lastModifiedMs: number }
  | { readonly kind: 'delete-remote'; readonly bucket: string; readonly key: string }
  | { readonly kind: 'delete-local'; readonly local: string };

/** What happened to one task. */
export interface TaskResult {
  /** `upload`, `download`, `delete`. */
  readonly action: 'upload' | 'download' | 'delete';
  /** Where from (`oss://…` or a local path); absent for deletions. */
  readonly source: string | undefined;
  /** Where to (or what was deleted). */
  readonly destination: string;
  /** Plaintext bytes moved. */
  readonly bytes: number;
  /** `done`, `failed`, `planned` (dry run) or `not-started` (fail-fast stopped the job first). */
  readonly status: 'done' | 'failed' | 'planned' | 'not-started';
  /** The failure. */
  readonly error?: Failure;
}

/** Options of {@link runBatch}. */
export interface BatchOptions {
  /** Files in flight. */
  readonly jobs: number;
  /** Stop at the first failure. */
  readonly failFast: boolean;
  /** Only list the plan. */
  readonly dryRun: boolean;
  /** Print per-file lines (not with --quiet or --json). */
  readonly verbose: boolean;
  /** Print each failure as an `error [CODE]: …` line on stderr (not with --json: failures are in the results). */
  readonly reportFailures: boolean;
  /** Show the progress line (a terminal, and not --quiet/--json). */
  readonly progress: boolean;
  /** Ctrl-C. */
  readonly signal: AbortSignal;
}

function url(bucket: string, key: string): string {
  return `oss://${bucket}/${key}`;
}

function describe(task: Task): { action: TaskResult['action']; source: string | undefined; destination: string } {
  switch (task.kind) {
    case 'upload':
      return { action: 'upload', source: task.local, destination: url(task.bucket, task.key) };
    case 'download':
      return { action: 'download', source: url(task.bucket, task.key), destination: task.local };
    case 'delete-remote':
      return { action: 'delete', source: undefined, destination: url(task.bucket, task.key) };
    case 'delete-local':
      return { action: 'delete', source: undefined, destination: task.local };
  }
}

async function upload(client: EncryptionClient, task: Extract<Task, { kind: 'upload' }>, add: (n: number) => void, signal: AbortSignal): Promise<void> {
  const meta = { [MTIME_META]: String(task.mtimeMs) };
  const mime = extname(task.local) === '' ? {} : { mime: extname(task.local) };
  if (useParallelTransfer('upload', task.size, { explicit: false })) {
    const advance = increments(add);
    await client.multipartUpload(task.key, task.local, { bucket: task.bucket, meta, ...mime, signal, progress: (_f, checkpoint) => { if (checkpoint !== null) advance(checkpoint.bytes); } });
    return;
  }
  const stream = createReadStream(task.local, { highWaterMark: 1 << 20 });
  try {
    await client.putStream(task.key, counting(stream, add), { bucket: task.bucket, meta, ...mime, contentLength: task.size, signal });
  } finally {
    stream.destroy();
  }
}

async function download(client: EncryptionClient, task: Extract<Task, { kind: 'download' }>, add: (n: number) => void, signal: AbortSignal): Promise<void> {
  await mkdir(dirname(task.local), { recursive: true });
  let mtime = task.lastModifiedMs;
  if (useParallelTransfer('download', task.size, { explicit: false })) {
    const advance = increments(add);
    await client.resumableDownload(task.key, task.local, { bucket: task.bucket, signal, progress: (_f, info) => { advance(info.bytes); } });
  } else {
    const result = await client.getStream(task.key, { bucket: task.bucket, signal });
    const recorded = Number(result.res.headers[`x-oss-meta-${MTIME_META}`]);
    if (Number.isSafeInteger(recorded) && recorded > 0) mtime = recorded;
    await writeFileAtomic(task.local, counting(result.stream as AsyncIterable<Uint8Array>, add));
  }
  // The restored file carries the source's time, so that the next sync sees it as unchanged.
  await utimes(task.local, new Date(), new Date(mtime));
}

async function* counting(source: AsyncIterable<Uint8Array>, add: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    add(chunk.length);
    yield chunk;
  }
}

async function perform(client: EncryptionClient, task: Task, add: (n: number) => void, signal: AbortSignal): Promise<void> {
  switch (task.kind) {
    case 'upload':
      return upload(client, task, add, signal);
    case 'download':
      return download(client, task, add, signal);
    case 'delete-remote':
      await client.delete(task.key, { bucket: task.bucket, signal });
      return;
    case 'delete-local':
      try {
        await rm(task.local);
      } catch (e) {
        throw new CseError(ErrorCode.IO, `cannot delete ${task.local}: ${(e as Error).message}`, { cause: e });
      }
  }
}

function line(r: TaskResult): string {
  if (r.action === 'delete') return `delete: ${r.destination}`;
  return `${r.action}: ${r.source ?? ''} -> ${r.destination}`;
}

/**
 * Runs the tasks (or, dry, lists them) and returns one result per task, in task order.
 * @param client - the session's client
 * @param tasks - what to do
 * @param io - stdout for per-file lines, stderr for failures and the progress line
 */
export async function runBatch(client: EncryptionClient | undefined, tasks: readonly Task[], io: CliIo, options: BatchOptions): Promise<TaskResult[]> {
  const results: TaskResult[] = tasks.map((t) => ({ ...describe(t), bytes: 0, status: 'not-started' }));
  if (options.dryRun || client === undefined) {
    return results.map((r) => {
      const planned: TaskResult = { ...r, status: 'planned', bytes: 0 };
      if (options.verbose) io.stdout.write(`(dry run) ${line(planned)}\n`);
      return planned;
    });
  }
  const totalBytes = tasks.reduce((n, t) => n + (t.kind === 'upload' || t.kind === 'download' ? t.size : 0), 0);
  const progress = jobProgress(io, tasks.length, totalBytes, options.progress);
  const stop = new AbortController();
  const onAbort = (): void => {
    stop.abort(options.signal.reason);
  };
  options.signal.addEventListener('abort', onAbort, { once: true });
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (stop.signal.aborted) return;
      const index = next++;
      const task = tasks[index];
      if (task === undefined) return;
      let bytes = 0;
      const add = (n: number): void => {
        bytes += n;
        progress.add(n);
      };
      const base = results[index] ?? { ...describe(task), bytes: 0, status: 'not-started' as const };
      try {
        await perform(client, task, add, stop.signal);
        results[index] = { ...base, bytes, status: 'done' };
        progress.fileDone();
        if (options.verbose) progress.print(io.stdout, `${line(base)}\n`);
      } catch (e) {
        const failure = failureOf(e);
        results[index] = { ...base, bytes, status: 'failed', error: failure };
        progress.fileDone();
        if (options.reportFailures && (!options.signal.aborted || !(e instanceof CseError && e.code === ErrorCode.ABORTED))) {
          progress.print(io.stderr, formatFailure({ code: failure.code, message: `${base.source ?? base.destination}: ${failure.message}` }, false));
        }
        if (options.failFast) stop.abort(e);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs, tasks.length)) }, worker));
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    progress.end();
  }
  return results;
}

/** Counts of a batch's results. */
export interface BatchSummary {
  /** Tasks done (files copied, objects or files deleted). */
  readonly done: number;
  /** Of which deletions. */
  readonly deleted: number;
  /** Failed tasks. */
  readonly failed: number;
  /** Tasks never started (fail-fast, Ctrl-C). */
  readonly notStarted: number;
  /** Plaintext bytes moved. */
  readonly bytes: number;
}

/** Counts the results. */
export function summarize(results: readonly TaskResult[]): BatchSummary {
  let done = 0;
  let deleted = 0;
  let failed = 0;
  let notStarted = 0;
  let bytes = 0;
  for (const r of results) {
    bytes += r.bytes;
    if (r.status === 'done') {
      done++;
      if (r.action === 'delete') deleted++;
    } else if (r.status === 'failed') failed++;
    else if (r.status === 'not-started') notStarted++;
  }
  return { done, deleted, failed, notStarted, bytes };
}
