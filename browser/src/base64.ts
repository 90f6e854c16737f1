/**
 * Browser twin of `src/format/base64.ts` (same exports, same strictness) on `atob`/`btoa` instead of Node's
 * `Buffer`. The bundle build (scripts/build-browser.mjs) substitutes this file for the Node one, so the shared
 * envelope parser runs unchanged in the page.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../../src/errors.js';

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True when `s` is canonical-alphabet, padded base64 (the empty string counts). */
export function isStrictBase64(s: string): boolean {
  return STRICT_BASE64.test(s);
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
  const text = atob(s);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Encodes bytes as standard padded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  let text = '';
  // Chunks keep String.fromCharCode's argument list short.
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
