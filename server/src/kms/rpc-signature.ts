/**
 * Alibaba Cloud RPC signature, version 1.0 (HMAC-SHA1), as KMS checks it.
 *
 * String to sign: `METHOD&%2F&` + percentEncode(canonical query), where the canonical query is every request
 * parameter except `Signature`, sorted by name, each `percentEncode(name)=percentEncode(value)` joined by `&`.
 * percentEncode is RFC 3986 (only `A-Za-z0-9-_.~` left as is, space as `%20`). The key is `AccessKeySecret + '&'`,
 * the signature is base64(HMAC-SHA1). This is what `@alicloud/rpc-client` (used by `@alicloud/kms20160120` 1.x)
 * computes in `rpc-util` `getSignatureV1` (KMS.md §"Request signing").
 *
 * @packageDocumentation
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Percent-encodes one name or value the way the RPC signature needs (RFC 3986 unreserved characters kept).
 *
 * @param text - the raw (decoded) text
 * @returns the encoded text
 * @throws URIError when `text` holds a lone UTF-16 surrogate (cannot come from a decoded URL)
 */
export function percentEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Builds the string to sign.
 *
 * @param method - the HTTP method, upper case (`POST` or `GET`)
 * @param params - every request parameter (query and form body), decoded, `Signature` excluded
 * @returns `METHOD&%2F&encoded-canonical-query`
 */
export function stringToSign(method: string, params: ReadonlyMap<string, string>): string {
  // The client sorts the raw names with the default (UTF-16 code unit) order; for the ASCII names KMS uses this is
  // the same as sorting the encoded names.
  const names = [...params.keys()].sort();
  const canonical = names.map((name) => `${percentEncode(name)}=${percentEncode(params.get(name) ?? '')}`).join('&');
  return `${method}&${percentEncode('/')}&${percentEncode(canonical)}`;
}

/**
 * Computes the RPC v1 signature.
 *
 * @param toSign - the output of {@link stringToSign}
 * @param secret - the access key secret
 * @returns base64(HMAC-SHA1(secret + '&', toSign))
 */
export function computeSignature(toSign: string, secret: string): string {
  return createHmac('sha1', `${secret}&`).update(toSign, 'utf8').digest('base64');
}

/**
 * Compares a received signature with the expected one in constant time (for equal lengths).
 *
 * @param received - the `Signature` parameter as sent
 * @param expected - the output of {@link computeSignature}
 * @returns true when they are identical
 */
export function signaturesEqual(received: string, expected: string): boolean {
  const a = Buffer.from(received, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
