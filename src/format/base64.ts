/**
 * Strict base64 (standard alphabet, padded, no whitespace), as every SDK writes header values. Node's decoder
 * silently skips bad characters, so we validate first: a header that is not exact base64 is a malformed envelope,
 * never something to guess at.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';

/**
 * Alphabet characters, then at most two `=`. With a length that is a multiple of 4 this is exactly padded base64:
 * one `=` leaves 4k + 3 alphabet characters, two leave 4k + 2. (The grouped form
 * `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$` says the same and took ~2× as long: every read
 * checks several 344-character RSA values.)
 */
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** True when `s` is canonical-alphabet, padded base64 (the empty string counts). */
export function isStrictBase64(s: string): boolean {
  return s.length % 4 === 0 && BASE64_CHARS.test(s);
}

/**
 * Decodes strict base64.
 * @param s - the text
 * @param header - the header it came from, for the error message
 * @throws CseError ERR_CSE_ENVELOPE_BAD_BASE64 when `s` is not strict base64
 */
export function decodeBase64Strict(s: string, header?: string): Uint8Array {
  if (!isStrictBase64(s)) {
    throw new CseError(ErrorCode.ENVELOPE_BAD_BASE64, 'value is not valid base64', header === undefined ? {} : { header });
  }
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/** Encodes bytes as standard padded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
