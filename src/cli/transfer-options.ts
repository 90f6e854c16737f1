/**
 * `--part-size`, `--parallel`, `--checkpoint` and `--resume`, shared by `put` (parallel multipart upload) and `get`
 * (parallel resumable download).
 *
 * @packageDocumentation
 */

import type { CliIo } from './command.js';
import { UsageError } from './command.js';
import { defaultCheckpointDir, defaultCheckpointPath } from '../transfer/checkpoint.js';

/**
 * Files at least this large are uploaded as a parallel, resumable multipart upload without any of the flags; smaller
 * ones in one PutObject. Measured with `bench/transfer-choice.ts` (EncryptionClient, embedded server in its own
 * process, 2 cores, parallel 4, 10 MiB parts, load 13–18): multipart ÷ one PUT = 1.79 at 32 MiB, 1.90 at 128 MiB,
 * 1.83 at 512 MiB, 0.94 [0.61–1.18] at 1 GiB (load 13–26): below 1 GiB the multipart path is never faster on this
 * machine class (the client's one JS thread is the limit, not the connection); from 1 GiB it is level or ahead, can
 * resume, and OSS refuses a single PUT over 5 GiB anyway. On a network with real latency parallel parts pay
 * earlier: force them with the flags.
 * bench/PERFORMANCE.md ("CLI thresholds") has the figures.
 */
export const MULTIPART_UPLOAD_THRESHOLD = 1024 ** 3;

/**
 * Objects at least this large are downloaded as parallel ranged GETs without any of the flags; smaller ones with one
 * GET. Same measurement: parallel download ÷ one GET = 0.61 at 32 MiB, 1.21 at 128 MiB, 0.91 at 512 MiB, 1.35 at
 * 1 GiB (load 13–26) — no measured size where it is reliably faster here (decryption and CRC on one JS thread are
 * the limit, and ranges add requests). From 4 GiB the resumable path is kept for what it is for: a broken connection
 * then costs one range, not minutes of transfer.
 */
export const PARALLEL_DOWNLOAD_THRESHOLD = 4 * 1024 ** 3;

/**
 * The smaller of the two thresholds above (the one threshold earlier versions had, then 32 MiB; kept for callers
 * that imported it).
 */
export const PARALLEL_THRESHOLD = Math.min(MULTIPART_UPLOAD_THRESHOLD, PARALLEL_DOWNLOAD_THRESHOLD);

/**
 * Whether a transfer should take the parallel path (multipart upload / parallel ranged download): the one place the
 * CLI's commands (put, get, and anything built on them such as cp/sync) decide it.
 *
 * @param direction - `upload` or `download`
 * @param size - the file's or object's size in bytes (`undefined` when unknown: standard input, no Content-Length)
 * @param settings - the transfer flags; any of them given forces the parallel path
 * @returns true for the parallel path
 */
export function useParallelTransfer(
  direction: 'upload' | 'download',
  size: number | undefined,
  settings: { readonly explicit: boolean },
): boolean {
  if (settings.explicit) return true;
  if (size === undefined) return false;
  return size >= (direction === 'upload' ? MULTIPART_UPLOAD_THRESHOLD : PARALLEL_DOWNLOAD_THRESHOLD);
}

/** The flags, for `parseArgs`. */
export const TRANSFER_OPTIONS = {
  'part-size': { type: 'string' },
  parallel: { type: 'string' },
  checkpoint: { type: 'string' },
  resume: { type: 'boolean', default: false },
} as const;

/** Help for {@link TRANSFER_OPTIONS}. */
export function transferHelp(kind: 'upload' | 'download'): string {
  const what = kind === 'upload' ? 'part' : 'range';
  const partRule =
    kind === 'upload'
      ? 'a multiple of 16, at least 100KiB, at most 10,000 parts (default 10MiB, more for > 100 GiB)'
      : 'any size, at most 10,000 ranges (default 8MiB, more for > 80 GiB)';
  return `  --part-size SIZE         ${what} size: bytes or with KiB/MiB/GiB; ${partRule}
  --parallel N             ${what}s in flight at once (1-64, default 4)
  --checkpoint FILE        record progress in FILE; a later run with the same FILE continues an interrupted
                           ${kind} (the checkpoint never holds key material)
  --resume                 the same with a checkpoint under $OSS_CSE_HOME/checkpoints named after the object
                           and LOCAL: re-run the interrupted command with --resume to continue it`;
}

/** What the flags say. */
export interface TransferSettings {
  readonly partSize: number | undefined;
  readonly parallel: number | undefined;
  /** The explicit `--checkpoint` file. */
  readonly checkpoint: string | undefined;
  readonly resume: boolean;
  /** True when any of the flags was given (the parallel path is then used whatever the size). */
  readonly explicit: boolean;
}

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/**
 * Parses `102400`, `100KiB`, `10MiB`, `1GiB` (also `k`, `m`, `g`; case-insensitive).
 * @throws UsageError for anything else
 */
export function parseByteSize(text: string, flag: string): number {
  const m = /^([0-9]+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m === null ? undefined : UNITS[(m[2] ?? '').toLowerCase()];
  if (m === null || unit === undefined) throw new UsageError(`${flag} expects a size such as 102400, 100KiB or 10MiB, got ${JSON.stringify(text)}`);
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive size, got ${JSON.stringify(text)}`);
  return n;
}

/**
 * Reads the flags.
 * @throws UsageError for a malformed value
 */
export function transferSettings(values: {
  readonly 'part-size'?: string | undefined;
  readonly parallel?: string | undefined;
  readonly checkpoint?: string | undefined;
  readonly resume?: boolean | undefined;
}): TransferSettings {
  const partSize = values['part-size'] === undefined ? undefined : parseByteSize(values['part-size'], '--part-size');
  let parallel: number | undefined;
  if (values.parallel !== undefined) {
    if (!/^[0-9]+$/.test(values.parallel) || Number(values.parallel) < 1 || Number(values.parallel) > 64) {
      throw new UsageError(`--parallel expects a whole number from 1 to 64, got ${JSON.stringify(values.parallel)}`);
    }
    parallel = Number(values.parallel);
  }
  if (values.checkpoint === '') throw new UsageError('--checkpoint expects a file');
  const resume = values.resume === true;
  if (resume && values.checkpoint !== undefined) throw new UsageError('give either --checkpoint FILE or --resume, not both');
  return {
    partSize,
    parallel,
    checkpoint: values.checkpoint,
    resume,
    explicit: partSize !== undefined || parallel !== undefined || values.checkpoint !== undefined || resume,
  };
}

/** The checkpoint file to use, if any: `--checkpoint FILE`, or the default one with `--resume`. */
export function checkpointFile(
  io: CliIo,
  settings: TransferSettings,
  kind: 'upload' | 'download',
  bucket: string,
  key: string,
  local: string,
): string | undefined {
  if (settings.checkpoint !== undefined) return settings.checkpoint;
  if (!settings.resume) return undefined;
  return defaultCheckpointPath(kind, bucket, key, local, defaultCheckpointDir(io.env));
}

/** Turns cumulative byte counts into increments for a progress bar. */
export function increments(add: (bytes: number) => void): (total: number) => void {
  let last = 0;
  return (total: number) => {
    if (total > last) add(total - last);
    last = Math.max(last, total);
  };
}
