/**
 * Name and metadata rules (Alibaba Cloud docs "Bucket naming conventions", "Object naming conventions",
 * error pages 0016-00000002/3/5 and 0011-00000002/4), plus this server's own safety rules.
 *
 * @packageDocumentation
 */

import { OssError } from './errors.js';

/** Longest object key OSS accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1023;
/** Largest total user metadata (names and values of `x-oss-meta-*`), in bytes. */
export const MAX_USER_METADATA_BYTES = 8 * 1024;
/** The prefix of user metadata headers. */
export const USER_META_PREFIX = 'x-oss-meta-';

/**
 * Whether a bucket name follows OSS's rules: 3–63 characters of lowercase letters, digits and hyphens, starting and
 * ending with a letter or digit.
 * @param name - the candidate
 * @returns true when valid
 */
export function isValidBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name);
}

/**
 * @param name - the bucket name from Host or path
 * @throws OssError InvalidBucketName
 */
export function checkBucketName(name: string): void {
  if (!isValidBucketName(name)) {
    throw new OssError('InvalidBucketName', { fields: [['BucketName', name]], ec: '0015-00000001' });
  }
}

/**
 * Checks an object key: 1–1023 UTF-8 bytes, not starting with `/` or `\`, and (this server's rule, stricter than OSS)
 * no NUL and no `..` path segment, so no key can ever be read as a path.
 * @param key - the decoded key
 * @throws OssError InvalidObjectName
 */
export function checkObjectKey(key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes === 0 || bytes > MAX_KEY_BYTES) {
    throw new OssError('InvalidObjectName', {
      message: `The object name must be 1 to ${MAX_KEY_BYTES} bytes long.`,
      ec: '0016-00000003',
    });
  }
  if (key.startsWith('/') || key.startsWith('\\')) {
    throw new OssError('InvalidObjectName', {
      message: 'The object name must not start with / or \\.',
      ec: '0016-00000005',
    });
  }
  if (key.includes('\0')) {
    throw new OssError('InvalidObjectName', { message: 'The object name must not contain NUL.' });
  }
  if (key.split(/[/\\]/).some((segment) => segment === '..')) {
    throw new OssError('InvalidObjectName', { message: 'The object name must not contain a ".." path segment.' });
  }
  if (/[\ud800-\udfff]/.test(key.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) {
    throw new OssError('InvalidObjectName', { message: 'The object name must be valid UTF-8.', ec: '0016-00000002' });
  }
}

/**
 * Collects `x-oss-meta-*` headers (names lower-cased, as Node delivers them; values verbatim) and checks OSS's limits.
 * @param headers - the request headers
 * @returns `[fullHeaderName, value]` pairs, sorted by name
 * @throws OssError InvalidArgument when a name has characters other than letters, digits and `-`, or the total is
 *   over 8 KiB
 */
export function collectUserMetadata(headers: NodeJS.Dict<string | string[]>): [string, string][] {
  const out: [string, string][] = [];
  let total = 0;
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith(USER_META_PREFIX) || raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    const suffix = name.slice(USER_META_PREFIX.length);
    if (!/^[a-z0-9-]+$/.test(suffix)) {
      throw new OssError('InvalidArgument', {
        message: `The user metadata name ${JSON.stringify(name)} may only contain letters, digits and hyphens.`,
        ec: '0011-00000004',
      });
    }
    total += Buffer.byteLength(suffix, 'utf8') + Buffer.byteLength(value, 'latin1');
    out.push([name, value]);
  }
  if (total > MAX_USER_METADATA_BYTES) {
    throw new OssError('InvalidArgument', {
      message: `The user metadata is ${total} bytes; the limit is ${MAX_USER_METADATA_BYTES}.`,
      ec: '0011-00000002',
    });
  }
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}
