/**
 * The opt-in plaintext MD5 of a write (`contentMd5: true`, issue 14 item 2): computed from a source that can be read
 * twice (bytes, or a file read once for the MD5 and again for the upload) and stored as
 * `x-oss-meta-client-side-encryption-unencrypted-content-md5`, so that a whole read checks the decrypted bytes
 * against it. A one-shot stream cannot be hashed before its upload starts (the envelope is sent first), so it is
 * refused rather than silently stored without one.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { CseError, ErrorCode } from '../errors.js';
import { abortedError } from './abort.js';

/** Base64 MD5 of `bytes`. */
export function md5OfBytes(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}

/**
 * Base64 MD5 of the file at `path`, read through one reused 1 MiB buffer: memory stays flat whatever its size, and
 * no fresh memory is touched per chunk (a read stream allocates a new buffer per read; on this machine class first
 * touch of fresh memory costs ~350 MB/s, more than the MD5 itself).
 *
 * @throws CseError ERR_CSE_IO when the file cannot be read; ERR_CSE_ABORTED when `signal` fires
 */
export async function md5OfFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('md5');
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      if (signal?.aborted === true) throw abortedError(`MD5 of ${path}`, signal);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } catch (e) {
    if (e instanceof CseError) throw e;
    throw new CseError(ErrorCode.IO, `cannot read ${path} for its MD5: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  } finally {
    await handle?.close().catch(() => undefined);
  }
  return hash.digest('base64');
}

/**
 * The typed refusal of `contentMd5: true` for a stream source.
 *
 * @param object - the object key, for the error
 */
export function md5NeedsRereadableSource(object: string): CseError {
  return new CseError(
    ErrorCode.INVALID_ARGUMENT,
    'contentMd5: true needs a source that can be read twice (bytes or a file path); a stream is read once and its MD5 ' +
      'is only known after the upload has started. Compute it yourself and pass it as the Content-MD5 header instead',
    { object },
  );
}
