/**
 * One progress line for a whole `cp`/`sync` job on a terminal: files done/total, bytes, rate and ETA. Messages printed
 * meanwhile clear the line first, so they never interleave with it.
 *
 * @packageDocumentation
 */

import type { CliIo } from './command.js';

/** The job's progress line. */
export interface JobProgress {
  /** Adds plaintext bytes moved. */
  add(bytes: number): void;
  /** Counts one file finished (done or failed). */
  fileDone(): void;
  /** Writes a message to `stream` without tearing the line. */
  print(stream: NodeJS.WritableStream, text: string): void;
  /** Removes the line. */
  end(): void;
}

/** Human-readable byte count (B, KiB, MiB, GiB). */
export function formatBytes(n: number): string {
  if (n < 1024) return n === 1 ? '1 byte' : `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u] ?? 'TiB'}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  return t >= 3600 ? `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m` : t >= 60 ? `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}

/** A progress line, or a silent one when `enabled` is false or stderr is not a terminal. */
export function jobProgress(io: CliIo, files: number, totalBytes: number, enabled: boolean): JobProgress {
  const stderr = io.stderr;
  const tty = (stderr as Partial<Pick<NodeJS.WriteStream, 'isTTY'>>).isTTY ?? false;
  const started = Date.now();
  let bytes = 0;
  let done = 0;
  let shown = false;
  let last = 0;
  const live = enabled && tty;
  const draw = (): void => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = bytes / seconds;
    const eta = rate > 0 ? (totalBytes - bytes) / rate : Infinity;
    stderr.write(`\r\x1b[K${done}/${files} files, ${formatBytes(bytes)}/${formatBytes(totalBytes)}, ${formatBytes(rate)}/s, ETA ${formatSeconds(eta)}`);
    shown = true;
  };
  const clear = (): void => {
    if (shown) stderr.write('\r\x1b[K');
    shown = false;
  };
  return {
    add(n) {
      bytes += n;
      if (live && Date.now() - last >= 200) {
        last = Date.now();
        draw();
      }
    },
    fileDone() {
      done++;
      if (live) draw();
    },
    print(stream, text) {
      if (live) clear();
      stream.write(text);
      if (live && done < files) draw();
    },
    end() {
      if (live) clear();
    },
  };
}
