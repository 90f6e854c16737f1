/**
 * Helpers shared by the handlers: bucket lookup, body limits, Content-MD5, stored headers, object response headers,
 * and the mapping from store conditions to OSS errors.
 *
 * @packageDocumentation
 */

import type * as http from 'node:http';
import { httpDate, quoteEtag, type RequestContext } from '../context.js';
import { OssError } from '../errors.js';
import { headerValue } from '../request.js';
import { StoreError, type BucketInfo, type ObjectMeta } from '../store/types.js';
import { collectUserMetadata } from '../validate.js';

/** Largest PutObject / UploadPart body OSS accepts (5 GiB). */
export const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * 1024;

/** Standard headers stored with an object and returned on GET/HEAD. */
export const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;

/** Content type used when a PUT or Initiate carries none. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/**
 * @param ctx - the request
 * @param bucket - bucket name
 * @returns the bucket
 * @throws OssError NoSuchBucket
 */
export function requireBucket(ctx: RequestContext, bucket: string): BucketInfo {
  const info = ctx.store.getBucket(bucket);
  if (info === undefined) throw new OssError('NoSuchBucket', { fields: [['BucketName', bucket]], ec: '0015-00000101' });
  return info;
}

/**
 * Converts a store condition into the OSS error for it; anything else is rethrown unchanged.
 * @param e - what was thrown
 * @param context - bucket, key and upload id for the error fields
 * @returns never
 */
export function rethrowStoreError(e: unknown, context: { bucket?: string; key?: string; uploadId?: string }): never {
  if (!(e instanceof StoreError)) throw e;
  switch (e.reason) {
    case 'no-such-bucket':
      throw new OssError('NoSuchBucket', { fields: [['BucketName', context.bucket ?? '']], ec: '0015-00000101' });
    case 'bucket-exists':
      throw new OssError('BucketAlreadyExists', { fields: [['BucketName', context.bucket ?? '']], ec: '0015-00000104' });
    case 'bucket-not-empty':
      throw new OssError('BucketNotEmpty', { fields: [['BucketName', context.bucket ?? '']], ec: '0015-00000301' });
    case 'no-such-key':
      throw new OssError('NoSuchKey', { fields: [['Key', context.key ?? '']], ec: '0026-00000001' });
    case 'key-exists':
      throw new OssError('FileAlreadyExists', { ec: '0006-00000101' });
    case 'no-such-upload':
      throw new OssError('NoSuchUpload', { fields: [['UploadId', context.uploadId ?? '']], ec: '0042-00000002' });
    case 'no-such-part':
      throw new OssError('InvalidPart', { fields: [['UploadId', context.uploadId ?? '']], ec: '0042-00000311' });
    case 'too-large':
      throw new OssError('EntityTooLarge', { ec: '0006-00000201' });
  }
}

/**
 * Checks that a body-bearing request says how long it is, and that it is not too long.
 * @param ctx - the request
 * @param max - the most bytes allowed
 * @throws OssError MissingContentLength, EntityTooLarge, InvalidArgument
 */
export function checkBodyLength(ctx: RequestContext, max: number): void {
  const length = headerValue(ctx.req.headers, 'content-length');
  const chunked = /\bchunked\b/i.test(headerValue(ctx.req.headers, 'transfer-encoding') ?? '');
  if (length === undefined) {
    if (!chunked) throw new OssError('MissingContentLength', { ec: '0006-00000001' });
    return;
  }
  if (!/^\d+$/.test(length)) throw new OssError('InvalidArgument', { message: 'Content-Length is not a number.' });
  if (Number(length) > max) {
    throw new OssError('EntityTooLarge', {
      fields: [
        ['MaxSizeAllowed', String(max)],
        ['ProposedSize', length],
      ],
      ec: '0006-00000201',
    });
  }
}

/**
 * The request body as a source for `Store.stageBody` that is not destroyed when staging stops early (disk full, too
 * large, bad digest): destroying the request would reset the connection, and the client would get no error answer.
 * The unread rest is never read; the error answer closes the connection (guard.ts `closeAfterResponse`).
 * @param ctx - the request
 * @returns the body chunks
 */
export function requestBody(ctx: RequestContext): AsyncIterable<Uint8Array> {
  const chunks = ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterator<Uint8Array>;
  return { [Symbol.asyncIterator]: () => chunks };
}

/**
 * Compares the `Content-MD5` header (if any) with the MD5 of the received body.
 * @param ctx - the request
 * @param md5 - raw MD5 of what arrived
 * @throws OssError InvalidDigest when the header is malformed or does not match
 */
export function checkContentMd5(ctx: RequestContext, md5: Buffer): void {
  const header = headerValue(ctx.req.headers, 'content-md5');
  if (header === undefined) return;
  const expected = /^[A-Za-z0-9+/]{22}==$/.test(header.trim()) ? Buffer.from(header.trim(), 'base64') : undefined;
  if (expected?.length !== 16) {
    throw new OssError('InvalidDigest', { fields: [['Content-MD5', header]], ec: '0016-00000401' });
  }
  if (!expected.equals(md5)) {
    throw new OssError('InvalidDigest', {
      message: 'The Content-MD5 you specified did not match what we received.',
      fields: [['Content-MD5', header]],
      ec: '0016-00000402',
    });
  }
}

/** What an object takes from the request that creates it. */
export interface RequestedObjectHeaders {
  readonly contentType: string;
  readonly headers: Record<string, string>;
  readonly userMeta: [string, string][];
}

/**
 * Reads Content-Type, the stored standard headers and user metadata from a PUT / Initiate / REPLACE copy.
 * @param req - the request
 * @returns the values to store
 * @throws OssError InvalidArgument for bad user metadata
 */
export function requestedObjectHeaders(req: http.IncomingMessage): RequestedObjectHeaders {
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = headerValue(req.headers, name);
    if (value !== undefined) headers[name] = value;
  }
  return {
    contentType: headerValue(req.headers, 'content-type') ?? DEFAULT_CONTENT_TYPE,
    headers,
    userMeta: collectUserMetadata(req.headers),
  };
}

/**
 * Whether the request asks not to overwrite (`x-oss-forbid-overwrite: true`).
 * @param req - the request
 * @returns true to refuse overwriting
 */
export function forbidOverwrite(req: http.IncomingMessage): boolean {
  return (headerValue(req.headers, 'x-oss-forbid-overwrite') ?? '').toLowerCase() === 'true';
}

/**
 * Truncates a time to whole seconds (HTTP dates cannot carry more).
 * @param ms - ms since the epoch
 * @returns ms since the epoch, a multiple of 1000
 */
export function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/**
 * The headers OSS returns for an object on GET and HEAD.
 * @param meta - the object
 * @returns the headers (without Content-Length)
 */
export function objectResponseHeaders(meta: ObjectMeta): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': meta.contentType,
    ETag: quoteEtag(meta.etag),
    'Last-Modified': httpDate(meta.lastModified),
    'Accept-Ranges': 'bytes',
    'x-oss-object-type': meta.type,
    'x-oss-storage-class': meta.storageClass ?? 'Standard',
    'x-oss-hash-crc64ecma': meta.crc64,
  };
  if (meta.tags !== undefined && meta.tags.length > 0) headers['x-oss-tagging-count'] = String(meta.tags.length);
  for (const [name, value] of Object.entries(meta.headers)) headers[name] = value;
  for (const [name, value] of meta.userMeta) headers[name] = value;
  return headers;
}
