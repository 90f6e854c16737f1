/**
 * Which headers cross the gateway. Requests: only what describes the object or the operation (never the client's
 * signature, date or token: upstream requests are signed anew), and never a client's own crypto headers (a client
 * must not be able to plant an envelope). Responses: everything OSS said, except hop-by-hop headers, and for
 * encrypted objects the values that describe the ciphertext rather than the plaintext.
 *
 * @packageDocumentation
 */

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { isCryptoHeader } from '../../src/format/envelope.js';

/** Prefix of every V2 crypto header, including names a future SDK may add. */
const V2_PREFIX = 'x-oss-meta-client-side-encryption-';

/** Standard request headers forwarded upstream. */
const FORWARDED = new Set([
  'content-type',
  'content-md5',
  'content-length',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'expires',
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
]);

/** `x-oss-*` request headers that belong to the client's own signature and are re-made by the upstream signer. */
const SIGNATURE_HEADERS = new Set(['x-oss-date', 'x-oss-content-sha256', 'x-oss-security-token', 'x-oss-signature-version']);

/** Response headers that describe a connection, not an object. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer']);

/**
 * True for any client-side-encryption header of any envelope family.
 * @param name - lower-case header name
 */
export function isEnvelopeHeader(name: string): boolean {
  return name.startsWith(V2_PREFIX) || isCryptoHeader(name);
}

/**
 * The request headers to send upstream, lower-case, joined when repeated.
 * @param headers - the client's request headers
 * @returns the headers to forward
 */
export function forwardedRequestHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const keep = FORWARDED.has(name) || (name.startsWith('x-oss-') && !SIGNATURE_HEADERS.has(name));
    if (!keep || isEnvelopeHeader(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** How {@link responseHeaders} treats an answer. */
export interface ResponseFilter {
  /** Drop the envelope headers (default true: clients see plaintext objects). */
  readonly hideEnvelope: boolean;
  /** The answer is about ciphertext the client sees decrypted: drop CRC-64 and Content-MD5 of the stored bytes. */
  readonly ciphertext: boolean;
}

/**
 * The upstream answer's headers as the gateway sends them on.
 * @param headers - upstream response headers (lower-case)
 * @param filter - what to hide
 * @returns headers for `writeHead`
 */
export function responseHeaders(headers: IncomingHttpHeaders, filter: ResponseFilter): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (filter.hideEnvelope && isEnvelopeHeader(name)) continue;
    // The stored bytes' CRC-64 and MD5 would fail every client check on the plaintext (ecosystem-facts "Gateway").
    if (filter.ciphertext && (name === 'x-oss-hash-crc64ecma' || name === 'content-md5')) continue;
    out[name] = value;
  }
  return out;
}

/**
 * One header as a string.
 * @param headers - request or response headers
 * @param name - lower-case name
 */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}
