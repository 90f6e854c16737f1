/**
 * OSS upload callbacks (the `callback` option of ali-oss's `put` and `multipartUpload`): after storing the object,
 * OSS calls the application server named in the `x-oss-callback` header and returns that server's answer as the
 * response body. The headers are encoded as ali-oss encodes them (`lib/common/callback.js`: base64 of the JSON
 * `{ callbackUrl, callbackBody, callbackHost?, callbackBodyType?, callbackSNI? }`, custom variables as `x:<name>` in
 * `x-oss-callback-var`), so a server written for ali-oss uploads sees the same request.
 *
 * Encryption is unaffected: OSS computes `${size}`, `${etag}`, `${mimeType}` etc. over the stored ciphertext, which
 * has the plaintext's size (CTR adds no bytes).
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';

/** ali-oss's `callback` option. */
export interface UploadCallback {
  /** The URL OSS calls after the upload. */
  readonly url: string;
  /** The Host header of the callback request. */
  readonly host?: string;
  /** The callback request body, with OSS variables (`bucket=${bucket}&object=${object}&size=${size}`, …). */
  readonly body: string;
  /** The callback body's Content-Type (`application/x-www-form-urlencoded` by default, or `application/json`). */
  readonly contentType?: string;
  /** Whether OSS sends SNI to the callback host. */
  readonly callbackSNI?: boolean;
  /** Custom variables, sent as `x:<name>` and usable in `body` as `${x:<name>}`. */
  readonly customValue?: Readonly<Record<string, string | number | boolean>>;
}

/** The request header naming the callback. */
export const CALLBACK_HEADER = 'x-oss-callback';
/** The request header carrying the callback's custom variables. */
export const CALLBACK_VAR_HEADER = 'x-oss-callback-var';

/**
 * The headers ali-oss sends for `callback`, unless `headers` already carries an `x-oss-callback` (ali-oss keeps a
 * caller's own header too).
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when `callback` has no `url` or no `body`
 */
export function callbackHeaders(
  callback: UploadCallback | undefined,
  headers: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = { ...(headers ?? {}) };
  if (callback === undefined || hasCallback(out)) return out;
  const given = callback as Partial<UploadCallback> | null;
  if (typeof given !== 'object' || given === null || typeof given.url !== 'string' || given.url === '' || typeof given.body !== 'string') {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'options.callback needs a url and a body (ali-oss callback option)');
  }
  const json: Record<string, unknown> = { callbackUrl: encodeURI(callback.url), callbackBody: callback.body };
  if (callback.host !== undefined && callback.host !== '') json.callbackHost = callback.host;
  if (callback.contentType !== undefined && callback.contentType !== '') json.callbackBodyType = callback.contentType;
  if (callback.callbackSNI === true) json.callbackSNI = true;
  out[CALLBACK_HEADER] = Buffer.from(JSON.stringify(json)).toString('base64');
  if (callback.customValue !== undefined) {
    const vars: Record<string, string> = {};
    for (const [name, value] of Object.entries(callback.customValue)) vars[`x:${name}`] = String(value);
    out[CALLBACK_VAR_HEADER] = Buffer.from(JSON.stringify(vars)).toString('base64');
  }
  return out;
}

/** True when the headers ask OSS for an upload callback. */
export function hasCallback(headers: Readonly<Record<string, string>> | undefined): boolean {
  return Object.keys(headers ?? {}).some((name) => name.toLowerCase() === CALLBACK_HEADER);
}

/**
 * The callback server's answer as ali-oss returns it in `data`: parsed JSON, or the text when it is not JSON.
 * @throws nothing: a body that is not JSON is returned as text
 */
export function callbackData(body: Uint8Array | undefined): unknown {
  if (body === undefined) return undefined;
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
