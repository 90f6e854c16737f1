/**
 * Independent reference computations for the server tests: CRC-64/ECMA-182 (OSS flavour) bit by bit, MD5 ETags and
 * the multipart ETag. Written separately from server/src so a bug cannot agree with itself.
 */

import { createHash } from 'node:crypto';

/**
 * CRC-64 bit by bit on two 32-bit halves: reflected polynomial 0xC96C5795D7870F42, init and xorout all ones.
 * Slow and obvious on purpose.
 */
export function crc64Reference(data: Uint8Array): bigint {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  for (const byte of data) {
    lo = (lo ^ byte) >>> 0;
    for (let bit = 0; bit < 8; bit++) {
      const lsb = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (lsb === 1) {
        hi = (hi ^ 0xc96c5795) >>> 0;
        lo = (lo ^ 0xd7870f42) >>> 0;
      }
    }
  }
  return (BigInt((hi ^ 0xffffffff) >>> 0) << 32n) | BigInt((lo ^ 0xffffffff) >>> 0);
}

/** The quoted, upper-case MD5 ETag OSS gives a simple object. */
export function md5Etag(data: Uint8Array): string {
  return `"${createHash('md5').update(data).digest('hex').toUpperCase()}"`;
}

/** Base64 MD5, as in Content-MD5. */
export function md5Base64(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

/** The ETag of a multipart object: MD5 of the concatenated binary part MD5s, upper-case hex, `-<count>`, quoted. */
export function multipartEtag(parts: readonly Uint8Array[]): string {
  const outer = createHash('md5');
  for (const part of parts) outer.update(createHash('md5').update(part).digest());
  return `"${outer.digest('hex').toUpperCase()}-${parts.length}"`;
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function testBytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
