/**
 * Object tagging (PutObjectTagging, GetObjectTagging, DeleteObjectTagging, the `x-oss-tagging` header) and per-object
 * storage classes (`x-oss-storage-class`), with the limits the OSS documentation states: at most 10 tags per object,
 * unique case-sensitive keys of 1–128 characters, values of 0–256 characters, drawn from letters, digits, space and
 * `+ - = . _ : /`.
 *
 * @packageDocumentation
 */

import type * as http from 'node:http';
import { readSmallBody, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { OssError } from '../errors.js';
import { headerValue } from '../request.js';
import type { ObjectMeta, ObjectTags, StorageClass } from '../store/types.js';
import { childText, parseXml, XmlSyntaxError } from '../xml.js';
import { requireBucket, rethrowStoreError } from './common.js';

/** Most tags an object may carry (OSS PutObjectTagging usage notes). */
export const MAX_TAGS = 10;
/** Longest tag key, in characters. */
export const MAX_TAG_KEY = 128;
/** Longest tag value, in characters. */
export const MAX_TAG_VALUE = 256;

/** Characters OSS documents as allowed in object tag keys and values. */
const TAG_CHARS = /^[A-Za-z0-9 +\-=._:/]*$/;

/** The storage classes OSS accepts in `x-oss-storage-class`, spelled as OSS spells them. */
export const STORAGE_CLASSES: readonly StorageClass[] = ['Standard', 'IA', 'Archive', 'ColdArchive', 'DeepColdArchive'];

/** Classes whose objects must be restored before their bytes can be read (RestoreObject is not supported here). */
const COLD_CLASSES: ReadonlySet<StorageClass> = new Set(['Archive', 'ColdArchive', 'DeepColdArchive']);

/** Length in characters (code points), as OSS counts tag lengths. */
function characters(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function invalidTag(message: string, ec: string): OssError {
  return new OssError('InvalidTag', { message, ec });
}

/**
 * Checks a tag set against OSS's limits.
 * @param tags - the tags, in request order
 * @param xml - true for a PutObjectTagging body (its length errors have their own EC), false for `x-oss-tagging`
 * @returns the same tags
 * @throws OssError InvalidTag for too many tags, a duplicate, empty or over-long key, an over-long value, or a
 *   character outside the documented set
 */
export function checkTags(tags: ObjectTags, xml: boolean): ObjectTags {
  if (tags.length > MAX_TAGS) throw invalidTag(`An object can have at most ${MAX_TAGS} tags.`, '0010-00000217');
  const seen = new Set<string>();
  for (const [key, value] of tags) {
    const keyLength = characters(key);
    if (keyLength === 0) throw invalidTag('A tag key cannot be empty.', '0010-00000217');
    if (keyLength > MAX_TAG_KEY) throw invalidTag(`The tag key is longer than ${MAX_TAG_KEY} characters.`, xml ? '0010-00000209' : '0010-00000217');
    if (characters(value) > MAX_TAG_VALUE) {
      throw invalidTag(`The tag value is longer than ${MAX_TAG_VALUE} characters.`, xml ? '0010-00000214' : '0010-00000217');
    }
    if (!TAG_CHARS.test(key) || !TAG_CHARS.test(value)) {
      throw invalidTag('Tag keys and values may only use letters, digits, space and + - = . _ : /', '0010-00000217');
    }
    if (seen.has(key)) throw invalidTag(`The tag key ${JSON.stringify(key)} is given more than once.`, '0010-00000217');
    seen.add(key);
  }
  return tags;
}

function decodeTagPart(text: string): string {
  try {
    // URL query encoding: `+` is a space, as in application/x-www-form-urlencoded.
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new OssError('InvalidArgument', { message: 'x-oss-tagging is not valid percent-encoded UTF-8.', ec: '0010-00000219' });
  }
}

/**
 * Reads `x-oss-tagging` (`k1=v1&k2=v2`, each part URL-encoded; a bare `k` is a tag with an empty value).
 * @param req - the request
 * @returns the tags, or undefined when the header is absent
 * @throws OssError InvalidArgument for a pair with more than one `=` or bad percent-encoding; InvalidTag (see
 *   {@link checkTags})
 */
export function requestedTags(req: http.IncomingMessage): ObjectTags | undefined {
  const header = headerValue(req.headers, 'x-oss-tagging');
  if (header === undefined) return undefined;
  if (header === '') return [];
  const tags = header.split('&').map((pair): readonly [string, string] => {
    const parts = pair.split('=');
    if (parts.length > 2) {
      throw new OssError('InvalidArgument', {
        message: 'x-oss-tagging must be key1=value1&key2=value2.',
        fields: [
          ['ArgumentName', 'x-oss-tagging'],
          ['ArgumentValue', header],
        ],
        ec: '0010-00000219',
      });
    }
    return [decodeTagPart(parts[0] ?? ''), decodeTagPart(parts[1] ?? '')];
  });
  return checkTags(tags, false);
}

/**
 * Reads `x-oss-storage-class`.
 * @param req - the request
 * @returns the class, or undefined when the header is absent
 * @throws OssError InvalidArgument for an empty or unknown class (the exact spellings of {@link STORAGE_CLASSES})
 */
export function requestedStorageClass(req: http.IncomingMessage): StorageClass | undefined {
  const value = headerValue(req.headers, 'x-oss-storage-class');
  if (value === undefined) return undefined;
  const found = STORAGE_CLASSES.find((c) => c === value);
  if (found === undefined) {
    throw new OssError('InvalidArgument', {
      message: value === '' ? 'x-oss-storage-class cannot be empty.' : `Invalid storage class ${JSON.stringify(value)}.`,
      fields: [
        ['ArgumentName', 'x-oss-storage-class'],
        ['ArgumentValue', value],
      ],
      ec: value === '' ? '0017-00000131' : '0013-00000101',
    });
  }
  return found;
}

/**
 * Tags and class of a new object, to spread into its {@link ObjectMeta} (nothing for none, so stored records of
 * Standard untagged objects look as they always did).
 * @param storageClass - the class, undefined for Standard
 * @param tags - the tags, undefined for none
 * @returns the fields to set
 */
export function classAndTags(storageClass: StorageClass | undefined, tags: ObjectTags | undefined): Pick<ObjectMeta, 'storageClass' | 'tags'> {
  return {
    ...(storageClass === undefined || storageClass === 'Standard' ? {} : { storageClass }),
    ...(tags === undefined || tags.length === 0 ? {} : { tags }),
  };
}

/**
 * @param meta - an object
 * @returns its storage class
 */
export function storageClassOf(meta: { readonly storageClass?: StorageClass }): StorageClass {
  return meta.storageClass ?? 'Standard';
}

/**
 * Refuses to read the bytes of an Archive / ColdArchive / DeepColdArchive object, as OSS does for one that is not
 * restored (this server has no RestoreObject, so none ever is).
 * @param meta - the object
 * @throws OssError InvalidObjectState (403)
 */
export function requireReadable(meta: ObjectMeta): void {
  if (COLD_CLASSES.has(storageClassOf(meta))) {
    throw new OssError('InvalidObjectState', {
      message: `The object is of storage class ${storageClassOf(meta)} and is not restored.`,
      ec: '0016-00000404',
    });
  }
}

/**
 * Which tags the destination of a CopyObject gets: `x-oss-tagging-directive: Copy` (the default) the source's,
 * `Replace` those of the request's `x-oss-tagging` (none without it).
 * @param req - the request
 * @param source - the source object's tags
 * @returns the destination's tags
 * @throws OssError InvalidArgument for another directive; see {@link requestedTags}
 */
export function copiedTags(req: http.IncomingMessage, source: ObjectTags | undefined): ObjectTags | undefined {
  const directive = headerValue(req.headers, 'x-oss-tagging-directive') ?? 'Copy';
  switch (directive.toLowerCase()) {
    case 'copy':
      return source;
    case 'replace':
      return requestedTags(req) ?? [];
    default:
      throw new OssError('InvalidArgument', {
        message: 'x-oss-tagging-directive must be Copy or Replace.',
        fields: [
          ['ArgumentName', 'x-oss-tagging-directive'],
          ['ArgumentValue', directive],
        ],
      });
  }
}

function requireObject(ctx: RequestContext, bucket: string, key: string): ObjectMeta {
  requireBucket(ctx, bucket);
  const meta = ctx.store.getObject(bucket, key);
  if (meta === undefined) throw new OssError('NoSuchKey', { fields: [['Key', key]], ec: '0026-00000001' });
  return meta;
}

function parseTagging(body: Buffer): ObjectTags {
  let root;
  try {
    root = parseXml(body.toString('utf8'));
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw new OssError('MalformedXML', { ec: '0010-00000101' });
    throw e;
  }
  const tagSet = root.name === 'Tagging' ? root.children.find((c) => c.name === 'TagSet') : undefined;
  if (tagSet === undefined) throw new OssError('MalformedXML', { ec: '0010-00000101' });
  return tagSet.children
    .filter((c) => c.name === 'Tag')
    .map((tag): readonly [string, string] => {
      const key = childText(tag, 'Key');
      if (key === undefined) throw new OssError('MalformedXML', { message: 'A Tag has no Key.', ec: '0010-00000101' });
      return [key, childText(tag, 'Value') ?? ''];
    });
}

/**
 * PutObjectTagging (`PUT /key?tagging`): replaces the object's whole tag set. Last-Modified and the ETag stay as they
 * are (OSS: changing tags does not update Last-Modified).
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 */
export async function putObjectTagging(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  requireObject(ctx, bucket, key);
  const tags = checkTags(parseTagging(await readSmallBody(ctx)), true);
  // Read again after the body: the object may have been replaced meanwhile, and the new one is the one tagged.
  const meta = requireObject(ctx, bucket, key);
  const { tags: _old, ...rest } = meta;
  await ctx.store
    .replaceMetadata(bucket, { ...rest, ...classAndTags(undefined, tags) })
    .catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
  sendEmpty(ctx, 200);
}

/**
 * GetObjectTagging (`GET /key?tagging`).
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 */
export function getObjectTagging(ctx: RequestContext, bucket: string, key: string): void {
  const meta = requireObject(ctx, bucket, key);
  const tags = (meta.tags ?? []).map(([k, v]): [string, [string, string][]] => [
    'Tag',
    [
      ['Key', k],
      ['Value', v],
    ],
  ]);
  sendXml(ctx, 'Tagging', [['TagSet', tags]]);
}

/**
 * DeleteObjectTagging (`DELETE /key?tagging`): 204, also for an object without tags.
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 */
export async function deleteObjectTagging(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  const meta = requireObject(ctx, bucket, key);
  if (meta.tags !== undefined) {
    const { tags: _old, ...rest } = meta;
    await ctx.store.replaceMetadata(bucket, rest).catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
  }
  sendEmpty(ctx, 204);
}
