/**
 * Service and bucket operations: ListBuckets, PutBucket, DeleteBucket, ListObjects (v1 and v2),
 * DeleteMultipleObjects.
 *
 * @packageDocumentation
 */

import { createHash } from 'node:crypto';
import { isoTime, quoteEtag, readSmallBody, sendEmpty, sendXml, urlEncode, type RequestContext } from '../context.js';
import { OssError } from '../errors.js';
import { headerValue } from '../request.js';
import type { ObjectMeta } from '../store/types.js';
import { checkObjectKey } from '../validate.js';
import { childText, parseXml, XmlSyntaxError, type XmlContent } from '../xml.js';
import { requireBucket, rethrowStoreError } from './common.js';

/** Most buckets one account may have (OSS's default quota). */
export const MAX_BUCKETS = 100;
/** Most keys in one DeleteMultipleObjects request. */
export const MAX_DELETE_KEYS = 1000;

function boundedInt(ctx: RequestContext, name: string, fallback: number, min: number, max: number): number {
  const text = ctx.target.params.get(name);
  if (text === undefined || text === '') return fallback;
  if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new OssError('InvalidArgument', {
      message: `${name} must be an integer between ${min} and ${max}.`,
      fields: [
        ['ArgumentName', name],
        ['ArgumentValue', text],
      ],
    });
  }
  return Number(text);
}

function encodingIsUrl(ctx: RequestContext): boolean {
  const value = ctx.target.params.get('encoding-type');
  if (value === undefined || value === '') return false;
  if (value !== 'url') throw new OssError('InvalidArgument', { message: 'encoding-type must be url.' });
  return true;
}

function ownerContent(ctx: RequestContext): XmlContent {
  return [
    ['ID', ctx.owner.id],
    ['DisplayName', ctx.owner.displayName],
  ];
}

/**
 * ListBuckets (GetService) with prefix, marker and max-keys.
 * @param ctx - the request
 */
export function listBuckets(ctx: RequestContext): void {
  const prefix = ctx.target.params.get('prefix') ?? '';
  const marker = ctx.target.params.get('marker') ?? '';
  const maxKeys = boundedInt(ctx, 'max-keys', 100, 1, 1000);
  const all = ctx.store.listBuckets().filter((b) => b.name.startsWith(prefix) && b.name > marker);
  const page = all.slice(0, maxKeys);
  const truncated = all.length > page.length;
  const content: XmlContent[number][] = [];
  if (prefix !== '') content.push(['Prefix', prefix]);
  if (marker !== '') content.push(['Marker', marker]);
  if (ctx.target.params.has('max-keys')) content.push(['MaxKeys', maxKeys]);
  content.push(['IsTruncated', truncated]);
  if (truncated) content.push(['NextMarker', page.at(-1)?.name ?? '']);
  content.push(['Owner', ownerContent(ctx)]);
  content.push([
    'Buckets',
    page.map((b) => [
      'Bucket',
      [
        ['CreationDate', isoTime(b.created)],
        ['ExtranetEndpoint', ctx.target.host],
        ['IntranetEndpoint', ctx.target.host],
        ['Location', `oss-${ctx.region}`],
        ['Name', b.name],
        ['Region', ctx.region],
        ['StorageClass', 'Standard'],
      ],
    ] as const),
  ]);
  sendXml(ctx, 'ListAllMyBucketsResult', content);
}

/**
 * PutBucket. An existing bucket gives 409 BucketAlreadyExists.
 * @param ctx - the request
 * @param bucket - bucket name
 */
export async function putBucket(ctx: RequestContext, bucket: string): Promise<void> {
  // The optional CreateBucketConfiguration body (storage class, redundancy) is read and ignored: one class here.
  await readSmallBody(ctx);
  if (ctx.store.getBucket(bucket) === undefined && ctx.store.listBuckets().length >= MAX_BUCKETS) {
    throw new OssError('TooManyBuckets', { fields: [['BucketName', bucket]] });
  }
  await ctx.store.createBucket(bucket, ctx.now).catch((e: unknown) => rethrowStoreError(e, { bucket }));
  sendEmpty(ctx, 200, { Location: `/${bucket}` });
}

/**
 * DeleteBucket: refused with BucketNotEmpty while objects or multipart uploads remain.
 * @param ctx - the request
 * @param bucket - bucket name
 */
export async function deleteBucket(ctx: RequestContext, bucket: string): Promise<void> {
  await ctx.store.deleteBucket(bucket).catch((e: unknown) => rethrowStoreError(e, { bucket }));
  sendEmpty(ctx, 204);
}

/**
 * HEAD on a bucket: 200 when it exists.
 * @param ctx - the request
 * @param bucket - bucket name
 */
export function headBucket(ctx: RequestContext, bucket: string): void {
  requireBucket(ctx, bucket);
  sendEmpty(ctx, 200);
}

interface ListPage {
  readonly contents: ObjectMeta[];
  readonly prefixes: string[];
  readonly truncated: boolean;
  /** Last key or common prefix returned. */
  readonly last: string | undefined;
}

/** First index whose key is ≥ `key` (keys sorted). */
function lowerBound(objects: readonly ObjectMeta[], key: string): number {
  let lo = 0;
  let hi = objects.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((objects[mid]?.key ?? '') < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The listing walk shared by v1 and v2: keys after `after`, under `prefix`, folded at `delimiter`, at most `max`
 * entries (objects and common prefixes together).
 */
function listPage(objects: readonly ObjectMeta[], prefix: string, after: string, delimiter: string, max: number): ListPage {
  const contents: ObjectMeta[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let last: string | undefined;
  let i = Math.max(lowerBound(objects, prefix), after === '' ? 0 : lowerBound(objects, after));
  while (i < objects.length) {
    const meta = objects[i];
    if (meta === undefined) break;
    if (!meta.key.startsWith(prefix)) break;
    if (meta.key <= after) {
      i++;
      continue;
    }
    const cut = delimiter === '' ? -1 : meta.key.indexOf(delimiter, prefix.length);
    if (cut >= 0) {
      const common = meta.key.slice(0, cut + delimiter.length);
      // A marker inside (or equal to) a group means the group was already returned.
      if ((after !== '' && after.startsWith(common)) || prefixes.at(-1) === common) {
        i++;
        continue;
      }
      if (contents.length + prefixes.length === max) {
        truncated = true;
        break;
      }
      prefixes.push(common);
      last = common;
      // Skip the rest of the group.
      i = lowerBound(objects, common + '\uffff');
      continue;
    }
    if (contents.length + prefixes.length === max) {
      truncated = true;
      break;
    }
    contents.push(meta);
    last = meta.key;
    i++;
  }
  return { contents, prefixes, truncated, last };
}

function contentsEntry(ctx: RequestContext, meta: ObjectMeta, withOwner: boolean, enc: (s: string) => string): XmlContent[number] {
  const content: XmlContent[number][] = [
    ['Key', enc(meta.key)],
    ['LastModified', isoTime(meta.lastModified)],
    ['ETag', quoteEtag(meta.etag)],
    ['Type', meta.type],
    ['Size', meta.size],
    ['StorageClass', meta.storageClass ?? 'Standard'],
  ];
  if (withOwner) content.push(['Owner', ownerContent(ctx)]);
  return ['Contents', content];
}

/**
 * ListObjects (v1): prefix, marker, delimiter, max-keys (default 100, at most 1000), encoding-type.
 * @param ctx - the request
 * @param bucket - bucket name
 */
export function listObjectsV1(ctx: RequestContext, bucket: string): void {
  requireBucket(ctx, bucket);
  const url = encodingIsUrl(ctx);
  const enc = (s: string): string => (url ? urlEncode(s) : s);
  const p = ctx.target.params;
  const prefix = p.get('prefix') ?? '';
  const marker = p.get('marker') ?? '';
  const delimiter = p.get('delimiter') ?? '';
  const maxKeys = boundedInt(ctx, 'max-keys', 100, 0, 1000);
  const page = listPage(ctx.store.listObjects(bucket), prefix, marker, delimiter, maxKeys);
  const content: XmlContent[number][] = [
    ['Name', bucket],
    ['Prefix', enc(prefix)],
    ['Marker', enc(marker)],
    ['MaxKeys', maxKeys],
    ['Delimiter', enc(delimiter)],
  ];
  if (url) content.push(['EncodingType', 'url']);
  content.push(['IsTruncated', page.truncated]);
  if (page.truncated && page.last !== undefined) content.push(['NextMarker', enc(page.last)]);
  for (const meta of page.contents) content.push(contentsEntry(ctx, meta, true, enc));
  for (const common of page.prefixes) content.push(['CommonPrefixes', [['Prefix', enc(common)]]]);
  sendXml(ctx, 'ListBucketResult', content);
}

/**
 * ListObjectsV2 (`list-type=2`): prefix, start-after, continuation-token (opaque: base64url of the last entry),
 * delimiter, max-keys, fetch-owner, encoding-type.
 * @param ctx - the request
 * @param bucket - bucket name
 */
export function listObjectsV2(ctx: RequestContext, bucket: string): void {
  requireBucket(ctx, bucket);
  const url = encodingIsUrl(ctx);
  const enc = (s: string): string => (url ? urlEncode(s) : s);
  const p = ctx.target.params;
  const prefix = p.get('prefix') ?? '';
  const startAfter = p.get('start-after') ?? '';
  const token = p.get('continuation-token');
  const delimiter = p.get('delimiter') ?? '';
  const maxKeys = boundedInt(ctx, 'max-keys', 100, 0, 1000);
  const fetchOwner = (p.get('fetch-owner') ?? '').toLowerCase() === 'true';
  let after = startAfter;
  if (token !== undefined && token !== '') {
    const decoded = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
    if (decoded === '' || Buffer.from(decoded, 'utf8').toString('base64url') !== token) {
      throw new OssError('InvalidArgument', { message: 'The continuation token is not valid.', fields: [['ArgumentName', 'continuation-token']] });
    }
    if (decoded > after) after = decoded;
  }
  const page = listPage(ctx.store.listObjects(bucket), prefix, after, delimiter, maxKeys);
  const content: XmlContent[number][] = [
    ['Name', bucket],
    ['Prefix', enc(prefix)],
  ];
  if (startAfter !== '') content.push(['StartAfter', enc(startAfter)]);
  if (token !== undefined && token !== '') content.push(['ContinuationToken', token]);
  content.push(['MaxKeys', maxKeys], ['Delimiter', enc(delimiter)]);
  if (url) content.push(['EncodingType', 'url']);
  content.push(['IsTruncated', page.truncated]);
  if (page.truncated && page.last !== undefined) {
    content.push(['NextContinuationToken', Buffer.from(page.last, 'utf8').toString('base64url')]);
  }
  content.push(['KeyCount', page.contents.length + page.prefixes.length]);
  for (const meta of page.contents) content.push(contentsEntry(ctx, meta, fetchOwner, enc));
  for (const common of page.prefixes) content.push(['CommonPrefixes', [['Prefix', enc(common)]]]);
  sendXml(ctx, 'ListBucketResult', content);
}

/**
 * DeleteMultipleObjects (`POST /?delete`): up to 1000 keys; Content-MD5 required, as OSS requires it.
 * @param ctx - the request
 * @param bucket - bucket name
 */
export async function deleteMultiple(ctx: RequestContext, bucket: string): Promise<void> {
  requireBucket(ctx, bucket);
  const url = encodingIsUrl(ctx);
  const body = await readSmallBody(ctx);
  const md5 = headerValue(ctx.req.headers, 'content-md5');
  if (md5 === undefined) {
    throw new OssError('MissingArgument', { message: 'DeleteMultipleObjects requires a Content-MD5 header.', fields: [['ArgumentName', 'Content-MD5']] });
  }
  if (createHash('md5').update(body).digest('base64') !== md5.trim()) {
    throw new OssError('InvalidDigest', { fields: [['Content-MD5', md5]], ec: '0016-00000402' });
  }
  let root;
  try {
    root = parseXml(body.toString('utf8'));
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw new OssError('MalformedXML');
    throw e;
  }
  const objects = root.name === 'Delete' ? root.children.filter((c) => c.name === 'Object') : [];
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) {
    throw new OssError('MalformedXML', { message: `A Delete request lists 1 to ${MAX_DELETE_KEYS} objects.` });
  }
  const quiet = (childText(root, 'Quiet') ?? 'false').trim().toLowerCase() === 'true';
  const keys = objects.map((o) => {
    const raw = childText(o, 'Key');
    if (raw === undefined) throw new OssError('MalformedXML', { message: 'An Object element has no Key.' });
    let key = raw;
    if (url) {
      try {
        key = decodeURIComponent(raw);
      } catch {
        throw new OssError('InvalidArgument', { message: 'A Key is not valid percent-encoded UTF-8.' });
      }
    }
    checkObjectKey(key);
    return key;
  });
  for (const key of keys) {
    await ctx.store.deleteObject(bucket, key).catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
  }
  const content: XmlContent[number][] = [];
  if (url) content.push(['EncodingType', 'url']);
  if (!quiet) for (const key of keys) content.push(['Deleted', [['Key', url ? urlEncode(key) : key]]]);
  sendXml(ctx, 'DeleteResult', content);
}
