/**
 * Maps a request (method, bucket, key, sub-resources, copy header) to its OSS operation. A sub-resource this server
 * does not implement (`?acl`, bucket `?tagging`, `?append`, …) gets 501 NotImplemented instead of being mistaken for a plain
 * object or bucket request.
 *
 * @packageDocumentation
 */

import { V1_SIGNED_SUBRESOURCES } from './auth.js';
import type { RequestContext } from './context.js';
import { OssError } from './errors.js';
import * as bucketOps from './handlers/bucket.js';
import * as multipart from './handlers/multipart.js';
import * as objectOps from './handlers/object.js';
import * as tagging from './handlers/tagging.js';
import { headerValue } from './request.js';
import { checkBucketName, checkObjectKey } from './validate.js';

/** Sub-resources that never select an operation. */
const NEUTRAL = new Set(['security-token']);
const RESPONSE_OVERRIDES = [
  'response-content-type',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
];

function methodNotAllowed(ctx: RequestContext): OssError {
  return new OssError('MethodNotAllowed', { fields: [['Method', ctx.req.method ?? '']] });
}

/**
 * Runs the operation a request asks for.
 * @param ctx - the authenticated request
 * @throws OssError for anything OSS would refuse
 */
export async function route(ctx: RequestContext): Promise<void> {
  const { bucket, key, params } = ctx.target;
  const method = ctx.req.method ?? 'GET';
  const subresources = [...params.keys()].filter((n) => V1_SIGNED_SUBRESOURCES.has(n) && !NEUTRAL.has(n));
  const only = (...allowed: string[]): void => {
    const extra = subresources.find((s) => !allowed.includes(s));
    if (extra !== undefined) {
      throw new OssError('NotImplemented', { message: `The ${extra} sub-resource is not supported by this server.` });
    }
  };

  if (bucket === undefined) {
    if (method !== 'GET') throw methodNotAllowed(ctx);
    only();
    bucketOps.listBuckets(ctx);
    return;
  }
  checkBucketName(bucket);

  if (key === undefined) {
    switch (method) {
      case 'PUT':
        only();
        return bucketOps.putBucket(ctx, bucket);
      case 'DELETE':
        only();
        return bucketOps.deleteBucket(ctx, bucket);
      case 'HEAD':
        only();
        bucketOps.headBucket(ctx, bucket);
        return;
      case 'GET':
        if (params.has('uploads')) {
          only('uploads');
          multipart.listUploads(ctx, bucket);
        } else if (params.get('list-type') === '2') {
          only('continuation-token');
          bucketOps.listObjectsV2(ctx, bucket);
        } else {
          only();
          bucketOps.listObjectsV1(ctx, bucket);
        }
        return;
      case 'POST':
        if (params.has('delete')) {
          only('delete');
          return bucketOps.deleteMultiple(ctx, bucket);
        }
        only();
        throw methodNotAllowed(ctx);
      default:
        throw methodNotAllowed(ctx);
    }
  }
  checkObjectKey(key);

  switch (method) {
    case 'PUT': {
      const copySource = headerValue(ctx.req.headers, 'x-oss-copy-source');
      if (params.has('uploadId') || params.has('partNumber')) {
        if (copySource !== undefined) throw new OssError('NotImplemented', { message: 'UploadPartCopy is not supported by this server.' });
        only('uploadId', 'partNumber');
        return multipart.uploadPart(ctx, bucket, key, params.get('uploadId') ?? '', params.get('partNumber') ?? '');
      }
      if (params.has('tagging')) {
        only('tagging');
        return tagging.putObjectTagging(ctx, bucket, key);
      }
      only();
      if (copySource !== undefined) return objectOps.copyObject(ctx, bucket, key, copySource);
      return objectOps.putObject(ctx, bucket, key);
    }
    case 'GET':
      if (params.has('uploadId')) {
        only('uploadId');
        multipart.listParts(ctx, bucket, key, params.get('uploadId') ?? '');
        return;
      }
      if (params.has('tagging')) {
        only('tagging');
        tagging.getObjectTagging(ctx, bucket, key);
        return;
      }
      only(...RESPONSE_OVERRIDES);
      return objectOps.getObject(ctx, bucket, key);
    case 'HEAD':
      if (params.has('objectMeta')) {
        only('objectMeta');
        objectOps.getObjectMeta(ctx, bucket, key);
        return;
      }
      only();
      return objectOps.getObject(ctx, bucket, key);
    case 'DELETE':
      if (params.has('uploadId')) {
        only('uploadId');
        return multipart.abortUpload(ctx, bucket, key, params.get('uploadId') ?? '');
      }
      if (params.has('tagging')) {
        only('tagging');
        return tagging.deleteObjectTagging(ctx, bucket, key);
      }
      only();
      return objectOps.deleteObject(ctx, bucket, key);
    case 'POST':
      if (params.has('uploads')) {
        only('uploads');
        return multipart.initiateUpload(ctx, bucket, key);
      }
      if (params.has('uploadId')) {
        only('uploadId');
        return multipart.completeUpload(ctx, bucket, key, params.get('uploadId') ?? '');
      }
      only();
      throw methodNotAllowed(ctx);
    default:
      throw methodNotAllowed(ctx);
  }
}
