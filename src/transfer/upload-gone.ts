/**
 * What a resume does when the multipart upload its checkpoint records no longer exists on OSS (`NoSuchUpload`): the
 * upload was completed by a run whose end was lost (killed between Complete and removing the checkpoint), aborted,
 * or expired by a lifecycle rule. Uploading everything again would be wasted in the first case and could overwrite a
 * newer object in the others, so the object is looked at first (docs/resume.md):
 *
 * - it exists with the checkpoint's envelope (the same wrapped data key and IV: nobody else can have produced them)
 *   and the source's size → the upload was completed: nothing is sent, the result says `alreadyComplete`;
 * - it does not exist → nothing can be overwritten: a new upload starts, and the result names the lost one
 *   (`restartedFrom`) so that the caller can say so;
 * - it exists with other content (another envelope or size: an older version, or written by someone else since) →
 *   `ERR_CSE_MULTIPART`, nothing sent, the checkpoint kept: replacing that object must be asked for (remove the
 *   checkpoint; the CLI's `--restart`).
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode, TransferError } from '../errors.js';
import { OssHeader, V1Header, V2Header } from '../format/headers.js';
import type { UploadCheckpoint } from './checkpoint.js';
import type { CallOptions, ObjectLocation, ObjectStore, StoreResponse } from './store.js';

/** What the object says about a recorded upload that is gone. */
export type GoneUpload =
  | {
      /** The object is this upload's result. */
      readonly kind: 'complete';
      /** The HEAD answer. */
      readonly response: StoreResponse;
      /** The object's ETag. */
      readonly etag: string | undefined;
      /** The object's CRC-64 as OSS reports it (decimal), when it does. */
      readonly crc64: string | undefined;
    }
  | {
      /** No object: a new upload may start. */
      readonly kind: 'absent';
    };

/** The values of the wrapped key and IV headers in a header record (V2 names, else V1's). */
function wrapped(headers: Readonly<Record<string, string | undefined>>): { key: string | undefined; start: string | undefined } {
  return {
    key: headers[V2Header.KEY] ?? headers[V1Header.KEY],
    start: headers[V2Header.START] ?? headers[V1Header.START],
  };
}

/**
 * Looks at the object a gone upload was for.
 *
 * @param store - the object store
 * @param location - the object
 * @param saved - the checkpoint of the gone upload
 * @param sourceSize - the source's size now (equal to the checkpoint's: a changed source is handled before)
 * @param description - where the checkpoint is, for messages
 * @param call - signal and timeout
 * @returns `complete` or `absent`
 * @throws CseError ERR_CSE_MULTIPART when the object exists but is not this upload's result; ERR_CSE_ABORTED;
 *   TransferError when the HEAD fails otherwise
 */
export async function inspectGoneUpload(
  store: ObjectStore,
  location: ObjectLocation,
  saved: UploadCheckpoint,
  sourceSize: number,
  description: string,
  call: CallOptions,
): Promise<GoneUpload> {
  let response: StoreResponse;
  try {
    response = await store.head(location, { headers: {} }, call);
  } catch (e) {
    if (e instanceof TransferError && e.status === 404) return { kind: 'absent' };
    throw e;
  }
  const headers = response.headers as Readonly<Record<string, string | undefined>>;
  const mine = wrapped(saved.envelope);
  const theirs = wrapped(headers);
  const declared = headers[V2Header.UNENCRYPTED_CONTENT_LENGTH] ?? headers[V1Header.UNENCRYPTED_CONTENT_LENGTH];
  const length = headers['content-length'];
  const sameEnvelope = mine.key !== undefined && mine.start !== undefined && theirs.key === mine.key && theirs.start === mine.start;
  // CTR adds no bytes: the stored size is the plaintext size.
  const sameSize = length === String(sourceSize) && (declared === undefined || declared === String(sourceSize));
  if (sameEnvelope && sameSize) {
    return { kind: 'complete', response, etag: headers.etag, crc64: headers[OssHeader.CRC64] };
  }
  const why = sameEnvelope
    ? `its size (${length ?? '?'} bytes) is not the source's (${sourceSize})`
    : 'its envelope is not this upload\'s (another wrapped data key: an older version, or written since by someone else)';
  throw new CseError(
    ErrorCode.MULTIPART,
    `upload ${saved.uploadId} recorded in ${description} no longer exists on OSS, and oss://${location.bucket}/${location.key} ` +
      `exists but is not its result: ${why}; nothing was sent and the checkpoint is kept: to replace the object, ` +
      'remove the checkpoint and upload again',
    { object: location.key },
  );
}
