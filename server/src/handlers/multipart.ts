/**
 * Multipart upload: InitiateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts,
 * ListMultipartUploads; with OSS's client-side-encryption checks (oss-go-java.md §7; Alibaba Cloud error pages
 * 0005-00000401…420).
 *
 * @packageDocumentation
 */

import { createHash, randomBytes } from 'node:crypto';
import { isoTime, quoteEtag, readSmallBody, sendEmpty, sendXml, urlEncode, type RequestContext } from '../context.js';
import { crc64Combine } from '../crc64.js';
import { OssError } from '../errors.js';
import { headerValue } from '../request.js';
import type { CseUploadContext, ObjectMeta, PartInfo, UploadInfo } from '../store/types.js';
import { childText, parseXml, XmlSyntaxError, type XmlContent } from '../xml.js';
import {
  checkBodyLength,
  checkContentMd5,
  forbidOverwrite,
  MAX_OBJECT_SIZE,
  requestBody,
  requestedObjectHeaders,
  requireBucket,
  rethrowStoreError,
  wholeSeconds,
} from './common.js';
import { classAndTags, requestedStorageClass, requestedTags } from './tagging.js';

/** Smallest size of every part but the last (OSS: 100 KiB). */
export const MIN_PART_SIZE = 100 * 1024;
/** Highest part number. */
export const MAX_PART_NUMBER = 10000;

/** The client-side-encryption headers OSS looks at (names as stored: lower-case). */
const CSE = {
  prefix: 'x-oss-meta-client-side-encryption-',
  key: 'x-oss-meta-client-side-encryption-key',
  start: 'x-oss-meta-client-side-encryption-start',
  cekAlg: 'x-oss-meta-client-side-encryption-cek-alg',
  wrapAlg: 'x-oss-meta-client-side-encryption-wrap-alg',
  matdesc: 'x-oss-meta-client-side-encryption-matdesc',
  dataSize: 'x-oss-meta-client-side-encryption-data-size',
  partSize: 'x-oss-meta-client-side-encryption-part-size',
} as const;

function cseError(message: string, ec?: string): OssError {
  return new OssError('InvalidEncryptionRequest', ec === undefined ? { message } : { message, ec });
}

function parseSize(value: string, header: string, ec: string): number {
  if (!/^\d{1,15}$/.test(value.trim())) throw cseError(`${header} must be an integer, got ${JSON.stringify(value)}.`, ec);
  return Number(value.trim());
}

/** Reads the CSE context of an Initiate request; undefined when it carries no client-side-encryption header. */
function cseFromInitiate(ctx: RequestContext): CseUploadContext | undefined {
  const h = (name: string): string | undefined => headerValue(ctx.req.headers, name);
  if (!Object.keys(ctx.req.headers).some((name) => name.startsWith(CSE.prefix))) return undefined;
  const required = (name: string, ec: string): string => {
    const value = h(name);
    if (value === undefined || value === '') throw cseError(`Client-side encryption requires the ${name} header.`, ec);
    return value;
  };
  const key = required(CSE.key, '0005-00000401');
  const start = required(CSE.start, '0005-00000402');
  const cekAlg = required(CSE.cekAlg, '0005-00000403');
  const wrapAlg = required(CSE.wrapAlg, '0005-00000404');
  const partSize = parseSize(required(CSE.partSize, '0005-00000407'), CSE.partSize, '0005-00000409');
  if (partSize === 0) throw cseError(`${CSE.partSize} must be positive.`, '0005-00000409');
  // Go v1/v2 omit data-size when the total is unknown (oss-go-java.md §1), so it is optional here; when present it
  // must be an integer and every later check uses it.
  const dataSizeText = h(CSE.dataSize);
  const dataSize = dataSizeText === undefined ? -1 : parseSize(dataSizeText, CSE.dataSize, '0005-00000408');
  return { key, start, cekAlg, wrapAlg, matdesc: h(CSE.matdesc), dataSize, partSize };
}

/** Number of parts a CSE upload of known size has. */
function csePartCount(cse: CseUploadContext): number {
  return Math.max(1, Math.ceil(cse.dataSize / cse.partSize));
}

/** UploadPart header checks: whatever CSE headers a part carries must equal the Initiate values (Java sends none). */
function checkPartHeaders(ctx: RequestContext, cse: CseUploadContext): void {
  const h = (name: string): string | undefined => headerValue(ctx.req.headers, name);
  const key = h(CSE.key);
  if (key !== undefined && key !== cse.key) throw cseError(`${CSE.key} differs from InitiateMultipartUpload.`);
  const start = h(CSE.start);
  if (start !== undefined && start !== cse.start) throw cseError(`${CSE.start} differs from InitiateMultipartUpload.`, '0005-00000413');
  const partSize = h(CSE.partSize);
  if (partSize !== undefined && parseSize(partSize, CSE.partSize, '0005-00000409') !== cse.partSize) {
    throw cseError(`${CSE.partSize} differs from InitiateMultipartUpload.`, '0005-00000418');
  }
  const dataSize = h(CSE.dataSize);
  if (dataSize !== undefined && parseSize(dataSize, CSE.dataSize, '0005-00000408') !== cse.dataSize) {
    throw cseError(`${CSE.dataSize} differs from InitiateMultipartUpload.`);
  }
}

/** UploadPart size checks against part-size and data-size. */
function checkPartSize(cse: CseUploadContext, partNumber: number, size: number): void {
  if (cse.dataSize < 0) {
    if (size > cse.partSize) throw cseError(`Part ${partNumber} is ${size} bytes, more than the part size ${cse.partSize}.`, '0005-00000419');
    return;
  }
  const count = csePartCount(cse);
  if (partNumber > count) {
    throw cseError(`Part ${partNumber} is beyond the ${count} parts that data size ${cse.dataSize} and part size ${cse.partSize} allow.`);
  }
  const expected = partNumber < count ? cse.partSize : cse.dataSize - (count - 1) * cse.partSize;
  if (size !== expected) {
    throw cseError(`Part ${partNumber} is ${size} bytes; client-side encryption expects ${expected}.`, '0005-00000419');
  }
}

function requireUpload(ctx: RequestContext, bucket: string, key: string, uploadId: string): UploadInfo {
  const upload = ctx.store.getUpload(bucket, uploadId);
  if (upload?.key !== key) throw new OssError('NoSuchUpload', { fields: [['UploadId', uploadId]], ec: '0042-00000002' });
  return upload;
}

function encodingIsUrl(ctx: RequestContext): boolean {
  const value = ctx.target.params.get('encoding-type');
  if (value === undefined || value === '') return false;
  if (value !== 'url') throw new OssError('InvalidArgument', { message: 'encoding-type must be url.' });
  return true;
}

/**
 * InitiateMultipartUpload.
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 */
export async function initiateUpload(ctx: RequestContext, bucket: string, key: string): Promise<void> {
  requireBucket(ctx, bucket);
  const requested = requestedObjectHeaders(ctx.req);
  const cse = cseFromInitiate(ctx);
  const url = encodingIsUrl(ctx);
  const info: UploadInfo = {
    uploadId: randomBytes(16).toString('hex').toUpperCase(),
    key,
    initiated: ctx.now,
    ...requested,
    cse,
    ...classAndTags(requestedStorageClass(ctx.req), requestedTags(ctx.req)),
  };
  await ctx.store.createUpload(bucket, info).catch((e: unknown) => rethrowStoreError(e, { bucket, key }));
  const content: [string, string][] = [];
  if (url) content.push(['EncodingType', 'url']);
  content.push(['Bucket', bucket], ['Key', url ? urlEncode(key) : key], ['UploadId', info.uploadId]);
  sendXml(ctx, 'InitiateMultipartUploadResult', content);
}

/**
 * UploadPart.
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 * @param uploadId - the upload
 * @param partNumberText - the `partNumber` query value
 */
export async function uploadPart(ctx: RequestContext, bucket: string, key: string, uploadId: string, partNumberText: string): Promise<void> {
  requireBucket(ctx, bucket);
  if (!/^\d{1,5}$/.test(partNumberText) || Number(partNumberText) < 1 || Number(partNumberText) > MAX_PART_NUMBER) {
    throw new OssError('InvalidArgument', {
      message: `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive.`,
      fields: [
        ['ArgumentName', 'partNumber'],
        ['ArgumentValue', partNumberText],
      ],
    });
  }
  const partNumber = Number(partNumberText);
  const upload = requireUpload(ctx, bucket, key, uploadId);
  if (upload.cse !== undefined) checkPartHeaders(ctx, upload.cse);
  checkBodyLength(ctx, MAX_OBJECT_SIZE);
  const staged = await ctx.store
    .stageBody(requestBody(ctx), MAX_OBJECT_SIZE)
    .catch((e: unknown) => rethrowStoreError(e, { bucket, key, uploadId }));
  try {
    checkContentMd5(ctx, staged.digest.md5);
    if (upload.cse !== undefined) checkPartSize(upload.cse, partNumber, staged.digest.size);
    const part: PartInfo = {
      partNumber,
      size: staged.digest.size,
      etag: staged.digest.md5.toString('hex').toUpperCase(),
      md5: staged.digest.md5.toString('base64'),
      crc64: staged.digest.crc64.toString(),
      lastModified: wholeSeconds(ctx.now),
    };
    await ctx.store.putPart(bucket, uploadId, staged, part).catch((e: unknown) => rethrowStoreError(e, { bucket, key, uploadId }));
    sendEmpty(ctx, 200, {
      ETag: quoteEtag(part.etag),
      'Content-MD5': part.md5,
      'x-oss-hash-crc64ecma': part.crc64,
    });
  } finally {
    await staged.discard();
  }
}

function normalizeEtag(tag: string): string {
  return tag.trim().replace(/^"(.*)"$/, '$1').toUpperCase();
}

async function requestedParts(ctx: RequestContext, bucket: string, uploadId: string): Promise<{ partNumber: number; etag: string }[]> {
  const body = await readSmallBody(ctx);
  if ((headerValue(ctx.req.headers, 'x-oss-complete-all') ?? '').toLowerCase() === 'yes') {
    if (body.length > 0) {
      throw new OssError('InvalidArgument', { message: 'With x-oss-complete-all: yes the request body must be empty.' });
    }
    return ctx.store.listParts(bucket, uploadId).map((p) => ({ partNumber: p.partNumber, etag: p.etag }));
  }
  let root;
  try {
    root = parseXml(body.toString('utf8'));
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw new OssError('MalformedXML', { ec: '0042-00000201' });
    throw e;
  }
  if (root.name !== 'CompleteMultipartUpload') throw new OssError('MalformedXML', { ec: '0042-00000201' });
  const parts = root.children
    .filter((c) => c.name === 'Part')
    .map((p) => {
      const number = childText(p, 'PartNumber')?.trim() ?? '';
      const etag = childText(p, 'ETag');
      if (!/^\d{1,5}$/.test(number) || etag === undefined) throw new OssError('MalformedXML', { ec: '0042-00000201' });
      return { partNumber: Number(number), etag: normalizeEtag(etag) };
    });
  if (parts.length === 0) throw new OssError('MalformedXML', { message: 'The part list is empty.', ec: '0042-00000201' });
  return parts;
}

/**
 * CompleteMultipartUpload: parts ascending (InvalidPartOrder), each uploaded with the given ETag (InvalidPart), every
 * part but the last ≥ 100 KiB (EntityTooSmall), and for CSE uploads part-size/data-size agreement
 * (InvalidEncryptionRequest). The object's ETag is the MD5 of the concatenated binary part MD5s plus `-<count>`, its
 * CRC-64 the combination of the part CRCs.
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 * @param uploadId - the upload
 */
export async function completeUpload(ctx: RequestContext, bucket: string, key: string, uploadId: string): Promise<void> {
  requireBucket(ctx, bucket);
  const url = encodingIsUrl(ctx);
  const upload = requireUpload(ctx, bucket, key, uploadId);
  const wanted = await requestedParts(ctx, bucket, uploadId);
  for (let i = 1; i < wanted.length; i++) {
    if ((wanted[i]?.partNumber ?? 0) <= (wanted[i - 1]?.partNumber ?? 0)) {
      throw new OssError('InvalidPartOrder', { fields: [['UploadId', uploadId]], ec: '0042-00000310' });
    }
  }
  const uploaded = new Map(ctx.store.listParts(bucket, uploadId).map((p) => [p.partNumber, p]));
  const parts: PartInfo[] = wanted.map((w) => {
    const part = uploaded.get(w.partNumber);
    if (part?.etag !== w.etag) {
      throw new OssError('InvalidPart', {
        fields: [
          ['UploadId', uploadId],
          ['PartNumber', String(w.partNumber)],
          ['ETag', w.etag],
        ],
        ec: '0042-00000311',
      });
    }
    return part;
  });
  parts.forEach((part, i) => {
    if (i < parts.length - 1 && part.size < MIN_PART_SIZE) {
      throw new OssError('EntityTooSmall', {
        fields: [
          ['MinSizeAllowed', String(MIN_PART_SIZE)],
          ['ProposedSize', String(part.size)],
          ['PartNumber', String(part.partNumber)],
        ],
        ec: '0042-00000312',
      });
    }
  });
  const total = parts.reduce((sum, p) => sum + p.size, 0);
  if (upload.cse !== undefined) {
    const { partSize, dataSize } = upload.cse;
    parts.forEach((part, i) => {
      if (i < parts.length - 1 && part.size !== partSize) {
        throw cseError(`Part ${part.partNumber} is ${part.size} bytes, not the part size ${partSize}.`, '0005-00000419');
      }
    });
    if (dataSize >= 0 && total !== dataSize) {
      throw cseError(`The parts add up to ${total} bytes, not the data size ${dataSize}.`, '0005-00000420');
    }
  }
  const md5s = createHash('md5');
  let crc = 0n;
  for (const part of parts) {
    md5s.update(Buffer.from(part.md5, 'base64'));
    crc = crc64Combine(crc, BigInt(part.crc64), part.size);
  }
  const meta: ObjectMeta = {
    key,
    size: total,
    etag: `${md5s.digest('hex').toUpperCase()}-${parts.length}`,
    crc64: crc.toString(),
    lastModified: wholeSeconds(ctx.now),
    type: 'Multipart',
    contentType: upload.contentType,
    headers: upload.headers,
    userMeta: upload.userMeta,
    // Tags and class given at Initiate belong to the object from Complete on.
    ...classAndTags(upload.storageClass, upload.tags),
  };
  await ctx.store
    .completeUpload(bucket, uploadId, parts, meta, forbidOverwrite(ctx.req))
    .catch((e: unknown) => rethrowStoreError(e, { bucket, key, uploadId }));
  const location = ctx.target.style === 'virtual-host'
    ? `http://${ctx.target.host}/${urlEncode(key).replace(/%2F/g, '/')}`
    : `http://${ctx.target.host}/${bucket}/${urlEncode(key).replace(/%2F/g, '/')}`;
  const content: [string, string][] = [];
  if (url) content.push(['EncodingType', 'url']);
  content.push(['Location', location], ['Bucket', bucket], ['Key', url ? urlEncode(key) : key], ['ETag', quoteEtag(meta.etag)]);
  sendXml(ctx, 'CompleteMultipartUploadResult', content, { ETag: quoteEtag(meta.etag), 'x-oss-hash-crc64ecma': meta.crc64 });
}

/**
 * AbortMultipartUpload.
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 * @param uploadId - the upload
 */
export async function abortUpload(ctx: RequestContext, bucket: string, key: string, uploadId: string): Promise<void> {
  requireBucket(ctx, bucket);
  requireUpload(ctx, bucket, key, uploadId);
  await ctx.store.abortUpload(bucket, uploadId).catch((e: unknown) => rethrowStoreError(e, { bucket, key, uploadId }));
  sendEmpty(ctx, 204);
}

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

/**
 * ListParts, with the `ClientEncryption*` elements for uploads initiated with client-side encryption.
 * @param ctx - the request
 * @param bucket - bucket name
 * @param key - object key
 * @param uploadId - the upload
 */
export function listParts(ctx: RequestContext, bucket: string, key: string, uploadId: string): void {
  requireBucket(ctx, bucket);
  const url = encodingIsUrl(ctx);
  const upload = requireUpload(ctx, bucket, key, uploadId);
  const maxParts = boundedInt(ctx, 'max-parts', 1000, 1, 1000);
  const marker = boundedInt(ctx, 'part-number-marker', 0, 0, MAX_PART_NUMBER);
  const all = ctx.store.listParts(bucket, uploadId).filter((p) => p.partNumber > marker);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  const content: [string, XmlContent | string | number | boolean][] = [];
  if (url) content.push(['EncodingType', 'url']);
  content.push(
    ['Bucket', bucket],
    ['Key', url ? urlEncode(key) : key],
    ['UploadId', uploadId],
    ['StorageClass', upload.storageClass ?? 'Standard'],
    ['PartNumberMarker', marker],
    ['NextPartNumberMarker', page.at(-1)?.partNumber ?? marker],
    ['MaxParts', maxParts],
    ['IsTruncated', truncated],
  );
  const cse = upload.cse;
  if (cse !== undefined) {
    content.push(
      ['ClientEncryptionKey', cse.key],
      ['ClientEncryptionStart', cse.start],
      ['ClientEncryptionCekAlg', cse.cekAlg],
      ['ClientEncryptionWrapAlg', cse.wrapAlg],
    );
    if (cse.dataSize >= 0) content.push(['ClientEncryptionDataSize', cse.dataSize]);
    content.push(['ClientEncryptionPartSize', cse.partSize]);
  }
  for (const part of page) {
    content.push([
      'Part',
      [
        ['PartNumber', part.partNumber],
        ['LastModified', isoTime(part.lastModified)],
        ['ETag', quoteEtag(part.etag)],
        ['HashCrc64ecma', part.crc64],
        ['Size', part.size],
      ],
    ]);
  }
  sendXml(ctx, 'ListPartsResult', content);
}

/**
 * ListMultipartUploads with prefix, delimiter, key-marker, upload-id-marker and max-uploads.
 * @param ctx - the request
 * @param bucket - bucket name
 */
export function listUploads(ctx: RequestContext, bucket: string): void {
  requireBucket(ctx, bucket);
  const url = encodingIsUrl(ctx);
  const enc = (s: string): string => (url ? urlEncode(s) : s);
  const p = ctx.target.params;
  const prefix = p.get('prefix') ?? '';
  const delimiter = p.get('delimiter') ?? '';
  const keyMarker = p.get('key-marker') ?? '';
  const uploadIdMarker = p.get('upload-id-marker') ?? '';
  const maxUploads = boundedInt(ctx, 'max-uploads', 1000, 1, 1000);
  const uploads = ctx.store.listUploads(bucket);
  let startIndex = 0;
  if (keyMarker !== '') {
    const exact = uploadIdMarker === '' ? -1 : uploads.findIndex((u) => u.key === keyMarker && u.uploadId === uploadIdMarker);
    startIndex = exact >= 0 ? exact + 1 : uploads.findIndex((u) => u.key > keyMarker);
    if (startIndex < 0) startIndex = uploads.length;
  }
  const entries: XmlContent[number][] = [];
  const seenPrefixes = new Set<string>();
  let count = 0;
  let truncated = false;
  let nextKey = '';
  let nextUploadId = '';
  for (let i = startIndex; i < uploads.length; i++) {
    const u = uploads[i];
    if (u === undefined || !u.key.startsWith(prefix)) continue;
    const cut = delimiter === '' ? -1 : u.key.indexOf(delimiter, prefix.length);
    if (cut >= 0) {
      const common = u.key.slice(0, cut + delimiter.length);
      if (seenPrefixes.has(common)) continue;
      if (count === maxUploads) {
        truncated = true;
        break;
      }
      seenPrefixes.add(common);
      entries.push(['CommonPrefixes', [['Prefix', enc(common)]]]);
      nextKey = common;
      nextUploadId = '';
      count++;
      continue;
    }
    if (count === maxUploads) {
      truncated = true;
      break;
    }
    entries.push([
      'Upload',
      [
        ['Key', enc(u.key)],
        ['UploadId', u.uploadId],
        ['StorageClass', u.storageClass ?? 'Standard'],
        ['Initiated', isoTime(u.initiated)],
      ],
    ]);
    nextKey = u.key;
    nextUploadId = u.uploadId;
    count++;
  }
  const content: XmlContent[number][] = [];
  if (url) content.push(['EncodingType', 'url']);
  content.push(
    ['Bucket', bucket],
    ['KeyMarker', enc(keyMarker)],
    ['UploadIdMarker', uploadIdMarker],
    ['NextKeyMarker', truncated ? enc(nextKey) : ''],
    ['NextUploadIdMarker', truncated ? nextUploadId : ''],
    ['Delimiter', enc(delimiter)],
    ['Prefix', enc(prefix)],
    ['MaxUploads', maxUploads],
    ['IsTruncated', truncated],
    ...entries,
  );
  sendXml(ctx, 'ListMultipartUploadsResult', content);
}
