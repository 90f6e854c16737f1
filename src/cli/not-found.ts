/**
 * A 404 on an object can mean the object or its bucket is missing: OSS answers a HEAD (no body) of a key in a bucket
 * that does not exist with a bare 404 that ali-oss reports as NoSuchKey. One listing of the bucket tells them apart,
 * so the message says which.
 *
 * @packageDocumentation
 */

import type { EncryptionClient } from '../client.js';
import { TransferError } from '../errors.js';

function isNotFound(e: unknown): boolean {
  return e instanceof TransferError && e.status === 404;
}

/**
 * Rethrows `e`, replaced by "bucket … does not exist" when the bucket is what is missing.
 * @throws always: `e`, or a TransferError naming the missing bucket
 */
export async function explainNotFound(client: EncryptionClient, bucket: string, e: unknown): Promise<never> {
  if (!isNotFound(e) || (e as TransferError).ossCode === 'NoSuchBucket') throw e;
  try {
    await client.listV2({ 'max-keys': 1 }, { bucket });
  } catch (listing) {
    if (listing instanceof TransferError && (listing.ossCode === 'NoSuchBucket' || listing.status === 404)) {
      throw new TransferError(`bucket ${bucket} does not exist (NoSuchBucket)`, { status: 404, ossCode: 'NoSuchBucket', cause: e });
    }
  }
  throw e;
}

/** Runs `work`, explaining a 404 as in {@link explainNotFound}. */
export async function withBucketCheck<T>(client: EncryptionClient, bucket: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    return explainNotFound(client, bucket, e);
  }
}
