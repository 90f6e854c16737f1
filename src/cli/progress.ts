/**
 * A progress bar on standard error, for transfers of more than a few MiB when standard error is a terminal.
 *
 * @packageDocumentation
 */

import type { CliIo } from './command.js';

/** Transfers smaller than this show no bar. */
export const PROGRESS_THRESHOLD = 4 * 1024 * 1024;

/** Something bytes are reported to. */
export interface Progress {
  /** Adds transferred bytes. */
  add(bytes: number): void;
  /** Finishes the bar (a final redraw and a newline). */
  end(): void;
}

const NONE: Progress = { add: () => undefined, end: () => undefined };

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/**
 * A bar for `total` bytes (undefined when unknown), or a no-op when standard error is not a TTY, the transfer is
 * small, or output is quiet/JSON.
 */
export function progressBar(io: CliIo, label: string, total: number | undefined, enabled: boolean): Progress {
  const stderr = io.stderr;
  const tty = (stderr as Partial<Pick<NodeJS.WriteStream, 'isTTY'>>).isTTY ?? false;
  if (!enabled || !tty || (total !== undefined && total < PROGRESS_THRESHOLD)) return NONE;
  const started = Date.now();
  let done = 0;
  let lastDraw = 0;
  const width = 30;
  const draw = (): void => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = `${mib(done / seconds)} MiB/s`;
    if (total === undefined || total === 0) {
      stderr.write(`\r${label} ${mib(done)} MiB ${rate}   `);
      return;
    }
    const fraction = Math.min(done / total, 1);
    const filled = Math.round(fraction * width);
    stderr.write(
      `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
        `${mib(done)}/${mib(total)} MiB ${rate}   `,
    );
  };
  return {
    add(bytes: number): void {
      done += bytes;
      const now = Date.now();
      if (now - lastDraw >= 100) {
        lastDraw = now;
        draw();
      }
    },
    end(): void {
      draw();
      stderr.write('\n');
    },
  };
}

/** Passes chunks through, reporting their sizes. */
export async function* counted<T extends Uint8Array>(source: AsyncIterable<T>, progress: Progress): AsyncGenerator<T> {
  for await (const chunk of source) {
    progress.add(chunk.length);
    yield chunk;
  }
}
