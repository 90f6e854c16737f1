/**
 * Which operation a client request is, and what the gateway does with it: encrypt/decrypt (objects, multipart),
 * forward unchanged (listings, deletes, bucket requests), or refuse with the reason (append, part copy, image
 * processing, select: they need the server to read or extend plaintext it never has).
 *
 * @packageDocumentation
 */

import { V1_SIGNED_SUBRESOURCES } from '../../server/src/auth.js';
import { checkBucketName, checkObjectKey } from '../../server/src/validate.js';
import { relay, type GatewayContext } from './context.js';
import { GatewayError, refused } from './errors.js';
import { forwardedRequestHeaders, header } from './headers.js';
import * as multipart from './multipart.js';
import { copyObject, getObject, putObject } from './objects.js';

/** Sub-resources that never select an operation. */
const NEUTRAL = new Set(['security-token']);

/** Object sub-resources forwarded as they are: they touch metadata OSS keeps apart from the envelope. */
const OBJECT_PASSTHROUGH = new Set(['acl', 'tagging', 'objectMeta', 'restore']);

const REFUSALS: ReadonlyArray<readonly [string, string, string]> = [
  ['append', 'AppendObject', 'an appended body would need the counter and the envelope of the object it extends, and OSS would store it without either'],
  ['x-oss-process', 'image processing and SelectObject', 'OSS would process the ciphertext it stores, not the plaintext'],
  ['symlink', 'symlinks', 'the gateway does not serve them'],
  ['select', 'SelectObject', 'OSS would scan the ciphertext it stores, not the plaintext'],
];

/**
 * Runs the operation of an authenticated request.
 * @throws GatewayError, OssError (bad names), CseError, network errors
 */
export async function route(ctx: GatewayContext): Promise<void> {
  const { bucket, key, params, query } = ctx.target;
  const method = ctx.req.method ?? 'GET';
  const subresources = [...params.keys()].filter((n) => V1_SIGNED_SUBRESOURCES.has(n) && !NEUTRAL.has(n) && !n.startsWith('response-'));
  for (const [name, operation, reason] of REFUSALS) {
    if (params.has(name)) throw refused(operation, reason);
  }
  if (/select/i.test(params.get('x-oss-process') ?? '')) throw refused('SelectObject', 'OSS would scan the ciphertext');

  const forward = async (filterCiphertext: boolean): Promise<void> => {
    const headers = forwardedRequestHeaders(ctx.req.headers);
    const length = header(ctx.req.headers, 'content-length');
    const hasBody = length !== undefined ? length !== '0' : /chunked/i.test(header(ctx.req.headers, 'transfer-encoding') ?? '');
    const up = await ctx.upstream.send({
      method: method as 'GET',
      bucket: bucket ?? '',
      key,
      query,
      headers,
      body: hasBody ? ctx.req : undefined,
    });
    await relay(ctx, up, { hideEnvelope: !ctx.crypto.showEnvelope, ciphertext: filterCiphertext });
  };

  if (bucket === undefined) {
    if (method !== 'GET') throw new GatewayError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    await forward(false);
    return;
  }
  checkBucketName(bucket);
  if (key === undefined) {
    if (method === 'GET' && params.has('uploads')) {
      await multipart.listUploads(ctx, bucket);
      return;
    }
    // Listings (sizes of CTR objects are their plaintext sizes), DeleteMultipleObjects, bucket settings.
    await forward(true);
    return;
  }
  checkObjectKey(key);
  if (key.split('/').some((s) => s === '.' || s === '..')) {
    throw new GatewayError(400, 'InvalidObjectName', 'The gateway refuses keys with "." or ".." segments: its upstream client would resolve them to another object.');
  }
  const passthrough = subresources.find((s) => OBJECT_PASSTHROUGH.has(s));
  if (passthrough !== undefined) {
    await forward(true);
    return;
  }
  const copySource = header(ctx.req.headers, 'x-oss-copy-source');
  const uploadId = params.get('uploadId');
  switch (method) {
    case 'PUT':
      if (uploadId !== undefined || params.has('partNumber')) {
        if (copySource !== undefined) {
          throw refused('UploadPartCopy', 'a copied range would keep the counters of its source object, not those of its place in the new one');
        }
        return multipart.uploadPart(ctx, bucket, key, uploadId ?? '', params.get('partNumber') ?? '');
      }
      if (copySource !== undefined) return copyObject(ctx, bucket, key, copySource);
      return putObject(ctx, bucket, key);
    case 'GET':
      if (uploadId !== undefined) return multipart.listParts(ctx, bucket, key, uploadId);
      return getObject(ctx, bucket, key);
    case 'HEAD':
      return getObject(ctx, bucket, key);
    case 'DELETE':
      if (uploadId !== undefined) return multipart.abortUpload(ctx, bucket, key, uploadId);
      return forward(true);
    case 'POST':
      if (params.has('uploads')) return multipart.initiateUpload(ctx, bucket, key);
      if (uploadId !== undefined) return multipart.completeUpload(ctx, bucket, key, uploadId);
      throw refused(`POST ${subresources.join(',') || 'object'}`, 'this operation is not supported on encrypted objects');
    default:
      throw new GatewayError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }
}
