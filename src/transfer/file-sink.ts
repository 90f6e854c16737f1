/**
 * Downloads to a file: written to a temporary sibling and renamed over the target only after the whole stream (and
 * every integrity check that runs at its end) succeeded, so a failed download never leaves a file at the target.
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CseError, ErrorCode } from '../errors.js';

/**
 * Writes `source` to `target` atomically (temp file in the same directory, fsync, rename).
 *
 * @returns the number of bytes written
 * @throws CseError ERR_CSE_IO on file-system errors; rethrows `source`'s own CseErrors (integrity, transfer, abort)
 */
export async function writeFileAtomically(target: string, source: AsyncIterable<Uint8Array>): Promise<number> {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.part`);
  let written = 0;
  try {
    const counted = Readable.from(
      (async function* count(): AsyncGenerator<Uint8Array> {
        for await (const chunk of source) {
          written += chunk.length;
          yield chunk;
        }
      })(),
      { objectMode: false },
    );
    await pipeline(counted, createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
    const handle = await open(temp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
    return written;
  } catch (e) {
    await rm(temp, { force: true });
    if (e instanceof CseError) throw e;
    throw new CseError(ErrorCode.IO, `failed to write ${target}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
