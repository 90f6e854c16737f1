/**
 * Downloads to a file: written to a temporary sibling and renamed over the target only after the whole stream (and
 * every integrity check that runs at its end) succeeded, so a failed download never leaves a file at the target; the
 * temporary file is 0600 while it holds unverified plaintext (`temp-file.ts`; the caller removes the ones killed runs
 * left before it sends the request, so that the body is read as soon as it comes).
 *
 * @packageDocumentation
 */

import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CseError, ErrorCode } from '../errors.js';
import { releaseTempMode, TEMP_FILE_MODE, tempSiblingPath } from './temp-file.js';

/**
 * Writes `source` to `target` atomically (temp file in the same directory, fsync, rename).
 *
 * @returns the number of bytes written
 * @throws CseError ERR_CSE_IO on file-system errors; rethrows `source`'s own CseErrors (integrity, transfer, abort)
 */
export async function writeFileAtomically(target: string, source: AsyncIterable<Uint8Array>): Promise<number> {
  const temp = tempSiblingPath(target, '.part');
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
    // 0600 while it holds unverified plaintext; the usual mode once every check passed.
    await pipeline(counted, createWriteStream(temp, { flags: 'wx', mode: TEMP_FILE_MODE }));
    const handle = await open(temp, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await releaseTempMode(temp);
    await rename(temp, target);
    return written;
  } catch (e) {
    await rm(temp, { force: true });
    if (e instanceof CseError) throw e;
    throw new CseError(ErrorCode.IO, `failed to write ${target}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
