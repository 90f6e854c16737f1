/**
 * Object operations: PutObject, GetObject, HeadObject, GetObjectMeta, DeleteObject, CopyObject.
 *
 * @packageDocumentation
 */

import { pipeline } from 'node:stream/promises';
import { evaluateConditions } from '../conditional.js';
import { httpDate, isoTime, quoteEtag, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { OssError } from '../errors.js';
import { resolveRange } from '../range.js';
import { headerValue } from '../request.js';
import type { ObjectMeta } from '../store/types.js';
import { checkBucketName, checkObjectKey } from '../validate.js';
import {
  checkBodyLength,
  checkContentMd5,
  forbidOverwrite,
  MAX_OBJECT_SIZE,
  objectResponseHeaders,
  requestBody,
  requestedObjectHeaders,
  requireBucket,
  rethrowStoreError,
  wholeSeconds,
} from './common.js';
import { classAndTags, copiedTags, requestedStorageClass, requestedTags, requireReadable, storageClassOf } from './tagging.js';

/** `response-*` query parameters of GetObject and the headers they override. */
const RESPONSE_OVERRIDES: ReadonlyArray<readonly [string, string]> = [
  ['response-content-type', 'Content-Type'],
  ['response-content-language', 'Content-Language'],
  ['response-expires', 'Expires'],
  ['response-cache-control', 'Cache-Control'],
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
];

function noSuchKey(key: string): OssError {
  return new OssError('NoSuchKey', { fields: [['Key', key]], ec: '0026-00000001' });
}

/**
 * PutObject: streams the body to storage, checks Content-MD5, then makes the object visible atomically.
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 */
export async function putObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  requireBucket(ctx, bucket);
  const requested = requestedObjectHeaders(ctx.req);
  // Checked before the body is read: a bad tag or class must not cost an upload.
  const extras = classAndTags(requestedStorageClass(ctx.req), requestedTags(ctx.req));
  checkBodyLength(ctx, MAX_OBJECT_SIZE);
  if (forbidOverwrite(ctx.req) && ctx.store.getObject(bucket, key) !== undefined) {
    throw new OssError('FileAlreadyExists', { ec: '0006-00000101' });
  }
  const staged = await ctx.store
    .stageBody(requestBody(ctx), MAX_OBJECT_SIZE)
    .catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
  try {
    checkContentMd5(ctx, staged.digest.md5);
    const meta: ObjectMeta = {
      key,
      size: staged.digest.size,
      etag: staged.digest.md5.toString('hex').toUpperCase(),
      crc64: staged.digest.crc64.toString(),
      contentMd5: staged.digest.md5.toString('base64'),
      lastModified: wholeSeconds(ctx.now),
      type: 'Normal',
      ...requested,
      ...extras,
    };
    await ctx.store.putObject(bucket, staged, meta, forbidOverwrite(ctx.req)).catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
    sendEmpty(ctx, 200, {
      ETag: quoteEtag(meta.etag),
      'Content-MD5': meta.contentMd5,
      'x-oss-hash-crc64ecma': meta.crc64,
    });
  } finally {
    await staged.discard();
  }
}

/**
 * GetObject and HeadObject: conditions, then the range decision, then the bytes (GET) or only the headers (HEAD).
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 */
export async function getObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  requireBucket(ctx, bucket);
  const reader = await ctx.store.openObject(bucket, key);
  if (reader === undefined) throw noSuchKey(key);
  let streaming = false;
  try {
    const { meta } = reader;
    const headers = objectResponseHeaders(meta);
    // HEAD of a cold object works; reading its bytes needs a restore first, as on OSS.
    if (ctx.req.method !== 'HEAD') requireReadable(meta);
    if (evaluateConditions(ctx.req.headers, meta, '') === 'not-modified') {
      ctx.res.writeHead(304, { ETag: headers.ETag, 'Last-Modified': headers['Last-Modified'] });
      ctx.res.end();
      return;
    }
    const isHead = ctx.req.method === 'HEAD';
    if (isHead) {
      if (meta.contentMd5 !== undefined) headers['Content-MD5'] = meta.contentMd5;
      ctx.res.writeHead(200, { ...headers, 'Content-Length': meta.size });
      ctx.res.end();
      return;
    }
    const standard = (headerValue(ctx.req.headers, 'x-oss-range-behavior') ?? '').toLowerCase() === 'standard';
    const range = resolveRange(headerValue(ctx.req.headers, 'range'), meta.size, standard);
    if (range.kind === 'unsatisfiable') {
      throw new OssError('InvalidRange', {
        fields: [
          ['RangeRequested', headerValue(ctx.req.headers, 'range') ?? ''],
          ['ActualObjectSize', String(meta.size)],
        ],
        ec: '0003-00000802',
      });
    }
    for (const [param, header] of RESPONSE_OVERRIDES) {
      const value = ctx.target.params.get(param);
      if (value !== undefined) headers[header] = value;
    }
    let start = 0;
    let end = meta.size - 1;
    let status = 200;
    if (range.kind === 'partial') {
      ({ start, end } = range);
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${meta.size}`;
    } else if (meta.contentMd5 !== undefined) {
      headers['Content-MD5'] = meta.contentMd5;
    }
    ctx.res.writeHead(status, { ...headers, 'Content-Length': end - start + 1 });
    streaming = true;
    await pipeline(reader.stream(start, end), ctx.res);
  } finally {
    if (!streaming) await reader.close();
  }
}

/**
 * GetObjectMeta (`HEAD ?objectMeta`): the object's ETag, size, Last-Modified and CRC without its other headers.
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 */
export function getObjectMeta(ctx: RequestContext, bucket: string, key: string): void {
  requireBucket(ctx, bucket);
  const meta = ctx.store.getObject(bucket, key);
  if (meta === undefined) throw noSuchKey(key);
  ctx.res.writeHead(200, {
    ETag: quoteEtag(meta.etag),
    'Content-Length': meta.size,
    'Last-Modified': httpDate(meta.lastModified),
    'x-oss-hash-crc64ecma': meta.crc64,
  });
  ctx.res.end();
}

/**
 * DeleteObject: 204 whether or not the object existed, as OSS does.
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 */
export async function deleteObject(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  requireBucket(ctx, bucket);
  await ctx.store.deleteObject(bucket, key).catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
  sendEmpty(ctx, 204);
}

function parseCopySource(value: string): { bucket: string; key: string } {
  if (value.includes('?')) {
    throw new OssError('NotImplemented', { message: 'Copying a specific version (x-oss-copy-source with ?versionId) is not supported.' });
  }
  const path = value.startsWith('/') ? value.slice(1) : value;
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) {
    throw new OssError('InvalidArgument', { message: 'x-oss-copy-source must be /bucket/key.', fields: [['Header', 'x-oss-copy-source']] });
  }
  let bucket: string;
  let key: string;
  try {
    bucket = decodeURIComponent(path.slice(0, slash));
    key = decodeURIComponent(path.slice(slash + 1));
  } catch {
    throw new OssError('InvalidArgument', { message: 'x-oss-copy-source is not valid percent-encoded UTF-8.' });
  }
  checkBucketName(bucket);
  checkObjectKey(key);
  return { bucket, key };
}

/**
 * CopyObject: COPY keeps the source's content type, standard headers and user metadata; REPLACE takes them from the
 * request. Copying an object onto itself only rewrites its metadata (OSS docs, CopyObject).
 * @param ctx - the request
 * @param bucket - destination bucket
 * @param key - destination key
 * @param source - the `x-oss-copy-source` header
 */
export async function copyObject(ctx: RequestContext, bucket: string, key: string, source: string): Promise<void> {
  requireBucket(ctx, bucket);
  const src = parseCopySource(source);
  requireBucket(ctx, src.bucket);
  const directive = headerValue(ctx.req.headers, 'x-oss-metadata-directive') ?? 'COPY';
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new OssError('InvalidArgument', {
      message: 'x-oss-metadata-directive must be COPY or REPLACE.',
      fields: [
        ['ArgumentName', 'x-oss-metadata-directive'],
        ['ArgumentValue', directive],
      ],
    });
  }
  const replacement = directive === 'REPLACE' ? requestedObjectHeaders(ctx.req) : undefined;
  const requestedClass = requestedStorageClass(ctx.req);
  const reader = await ctx.store.openObject(src.bucket, src.key);
  if (reader === undefined) throw noSuchKey(src.key);
  let streaming = false;
  try {
    const sourceMeta = reader.meta;
    // As OSS: the bytes of an unrestored Archive / ColdArchive / DeepColdArchive object cannot be copied.
    requireReadable(sourceMeta);
    if (evaluateConditions(ctx.req.headers, sourceMeta, 'x-oss-copy-source-') === 'not-modified') {
      sendEmpty(ctx, 304);
      return;
    }
    const sameObject = src.bucket === bucket && src.key === key;
    const { storageClass: _class, tags: _tags, ...sourceRest } = sourceMeta;
    const meta: ObjectMeta = {
      ...sourceRest,
      key,
      lastModified: wholeSeconds(ctx.now),
      ...(replacement ?? {}),
      // Without x-oss-storage-class a metadata rewrite of the same object keeps its class; a copy to another key is a
      // new object and gets the bucket's class, Standard (see CONFORMANCE.md "Storage classes").
      ...classAndTags(requestedClass ?? (sameObject ? storageClassOf(sourceMeta) : undefined), copiedTags(ctx.req, sourceMeta.tags)),
    };
    if (sameObject) {
      if (forbidOverwrite(ctx.req)) throw new OssError('FileAlreadyExists', { ec: '0006-00000101' });
      await ctx.store.replaceMetadata(bucket, meta).catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
    } else {
      if (forbidOverwrite(ctx.req) && ctx.store.getObject(bucket, key) !== undefined) {
        throw new OssError('FileAlreadyExists', { ec: '0006-00000101' });
      }
      streaming = true;
      const staged = await ctx.store
        .stageBody(reader.stream(0, sourceMeta.size - 1), Number.MAX_SAFE_INTEGER)
        .catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
      try {
        await ctx.store.putObject(bucket, staged, meta, forbidOverwrite(ctx.req)).catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
      } finally {
        await staged.discard();
      }
    }
    sendXml(
      ctx,
      'CopyObjectResult',
      [
        ['ETag', quoteEtag(meta.etag)],
        ['LastModified', isoTime(meta.lastModified)],
      ],
      { 'x-oss-hash-crc64ecma': meta.crc64 },
    );
  } finally {
    if (!streaming) await reader.close();
  }
}
