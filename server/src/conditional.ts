/**
 * Conditional requests (`If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since` on GET/HEAD, and the
 * `x-oss-copy-source-if-*` forms on CopyObject), evaluated in RFC 7232 §6 order: If-Match, else If-Unmodified-Since
 * (412); then If-None-Match, else If-Modified-Since (304).
 *
 * @packageDocumentation
 */

import type * as http from 'node:http';
import { OssError } from './errors.js';
import { headerValue } from './request.js';
import type { ObjectMeta } from './store/types.js';

/** Outcome of the conditions. */
export type ConditionOutcome = 'proceed' | 'not-modified';

function normalizeEtag(tag: string): string {
  return tag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1').toUpperCase();
}

function etagMatches(list: string, etag: string): boolean {
  const mine = etag.toUpperCase();
  return list.split(',').some((t) => t.trim() === '*' || normalizeEtag(t) === mine);
}

/**
 * Evaluates the conditional headers against an object.
 * @param headers - the request headers
 * @param meta - the object
 * @param prefix - `''` for GET/HEAD, `'x-oss-copy-source-'` for the copy source of CopyObject
 * @returns whether to proceed or answer 304
 * @throws OssError PreconditionFailed (412) naming the failed condition
 */
export function evaluateConditions(headers: http.IncomingHttpHeaders, meta: ObjectMeta, prefix: '' | 'x-oss-copy-source-'): ConditionOutcome {
  const name = (h: string): string => `${prefix}${h}`;
  const ifMatch = headerValue(headers, name('if-match'));
  const ifNoneMatch = headerValue(headers, name('if-none-match'));
  const ifModifiedSince = headerValue(headers, name('if-modified-since'));
  const ifUnmodifiedSince = headerValue(headers, name('if-unmodified-since'));
  const failed = (condition: string): OssError =>
    new OssError('PreconditionFailed', { fields: [['Condition', condition]], ec: '0026-00000001' });

  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, meta.etag)) throw failed(prefix === '' ? 'If-Match' : 'x-oss-copy-source-if-match');
  } else if (ifUnmodifiedSince !== undefined) {
    const t = Date.parse(ifUnmodifiedSince);
    if (!Number.isNaN(t) && meta.lastModified > t) {
      throw failed(prefix === '' ? 'If-Unmodified-Since' : 'x-oss-copy-source-if-unmodified-since');
    }
  }
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, meta.etag)) return 'not-modified';
  } else if (ifModifiedSince !== undefined) {
    const t = Date.parse(ifModifiedSince);
    if (!Number.isNaN(t) && meta.lastModified <= t) return 'not-modified';
  }
  return 'proceed';
}
