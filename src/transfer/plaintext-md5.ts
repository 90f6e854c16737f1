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
import { createReadStream } from 'node:fs';
import { CseError, ErrorCode } from '../errors.js';
import { abortedError } from './abort.js';

/** Base64 MD5 of `bytes`. */
export function md5OfBytes(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}

/**
 * Base64 MD5 of the file at `path`, read in 1 MiB chunks (memory stays flat whatever its size).
 *
 * @throws CseError ERR_CSE_IO when the file cannot be read; ERR_CSE_ABORTED when `signal` fires
 */
export async function md5OfFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('md5');
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (signal?.aborted === true) throw abortedError(`MD5 of ${path}`, signal);
      hash.update(chunk);
    }
  } catch (e) {
    if (e instanceof CseError) throw e;
    throw new CseError(ErrorCode.IO, `cannot read ${path} for its MD5: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  } finally {
    stream.destroy();
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
