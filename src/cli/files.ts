/**
 * File helpers for the CLI: atomic writes (temp file in the same directory, rename when done) so that a failure
 * never leaves a partial file at the target path.
 *
 * @packageDocumentation
 */

import { createWriteStream } from 'node:fs';
import { link, readFile, rename, rm, open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { CseError, ErrorCode } from '../errors.js';
import { releaseTempMode, TEMP_FILE_MODE, tempSiblingPath } from '../transfer/temp-file.js';

export { removeStaleTempFiles } from '../transfer/temp-file.js';

/** A temporary sibling path for `target`: `.NAME.<hex>.tmp` (`src/transfer/temp-file.ts`). */
function tempPathFor(target: string): string {
  return tempSiblingPath(target, '.tmp');
}

/**
 * Writes `source` to `target` atomically: into a temporary sibling (mode 0600 while it is written: a download's
 * unverified plaintext is readable by nobody else), flushed to disk, given `mode`, then renamed over the target. On any
 * failure the temporary file is removed and nothing appears at `target`; one left by a killed process is removed by
 * the next download to the same target ({@link removeStaleTempFiles}).
 *
 * @param mode - file mode of the new file, less the umask (e.g. 0o600 for private keys)
 * @throws CseError ERR_CSE_IO on file-system errors; rethrows errors from `source`
 */
export async function writeFileAtomic(
  target: string,
  source: AsyncIterable<Uint8Array> | Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  const temp = tempPathFor(target);
  try {
    if (typeof source === 'string' || source instanceof Uint8Array) {
      const handle = await open(temp, 'wx', TEMP_FILE_MODE);
      try {
        await handle.writeFile(source);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } else {
      const out = createWriteStream(temp, { flags: 'wx', mode: TEMP_FILE_MODE });
      await pipeline(source, out);
      const handle = await open(temp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    await releaseTempMode(temp, mode);
    await rename(temp, target);
  } catch (e) {
    await rm(temp, { force: true });
    if (e instanceof CseError) throw e;
    throw new CseError(ErrorCode.IO, `failed to write ${target}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Reads a whole (small) file: keys, metadata JSON.
 * @throws CseError ERR_CSE_IO
 */
export async function readSmallFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new CseError(ErrorCode.IO, `failed to read ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Reads a JSON object of header name → string value (the `--meta` file format: like `request_headers` in the test
 * vectors).
 * @throws CseError ERR_CSE_IO, ERR_CSE_INVALID_ARGUMENT
 */
export async function readMetaFile(path: string): Promise<Record<string, string>> {
  const text = (await readSmallFile(path, 'metadata file')).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `metadata file ${path} is not JSON`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `metadata file ${path} must hold a JSON object of header → value`);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `metadata file ${path}: the value of ${name} is not a string`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * Creates `target` with `data` only if it does not exist yet, atomically (temp file, then a hard link that fails when
 * the target exists): two processes racing to create the same key file never overwrite each other.
 *
 * @returns true when this call created the file, false when it already existed
 * @throws CseError ERR_CSE_IO on other file-system errors
 */
export async function writeFileExclusive(target: string, data: string | Uint8Array, mode = 0o644): Promise<boolean> {
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, target);
      return true;
    } catch (e) {
      if ((e as { code?: unknown }).code === 'EEXIST') return false;
      throw e;
    }
  } catch (e) {
    throw new CseError(ErrorCode.IO, `failed to create ${target}: ${(e as Error).message}`, { cause: e });
  } finally {
    await rm(temp, { force: true });
  }
}
