/**
 * The slice of the user's ali-oss client the browser entry calls (its browser build, `OSS` from
 * `ali-oss/dist/aliyun-oss-sdk.min.js`, or the bundled package). Typed structurally: the entry never imports
 * ali-oss. Also the small response helpers every operation shares.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode, TransferError } from '../../src/errors.js';

/** A response as ali-oss reports it (`result.res`). */
export interface OssResponse {
  /** HTTP status. */
  readonly status: number;
  /** Response headers, lower-case names (only those the bucket's CORS rule exposes, plus the safelisted ones). */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Anything else ali-oss puts there. */
  readonly [other: string]: unknown;
}

/** Per-request options the entry passes to ali-oss. */
export interface OssRequestOptions {
  readonly headers?: Record<string, string>;
  readonly mime?: string;
  readonly timeout?: number;
  /** ali-oss: skip its Content-MD5 (a pure-JavaScript MD5 over the whole body; the CRC-64 check covers integrity). */
  readonly disabledMD5?: boolean;
}

/** A part as ali-oss's `listParts` reports it. */
export interface OssListedPart {
  readonly PartNumber: string | number;
  readonly ETag: string;
  readonly Size: string | number;
}

/** The ali-oss methods used. */
export interface OssLike {
  put(name: string, file: Blob, options?: OssRequestOptions): Promise<{ readonly name: string; readonly url?: string; readonly res: OssResponse }>;
  get(name: string, options?: OssRequestOptions): Promise<{ readonly content?: unknown; readonly res: OssResponse }>;
  head(name: string, options?: OssRequestOptions): Promise<{ readonly status: number; readonly meta?: unknown; readonly res: OssResponse }>;
  initMultipartUpload(name: string, options?: OssRequestOptions): Promise<{ readonly uploadId: string; readonly res: OssResponse }>;
  uploadPart(
    name: string,
    uploadId: string,
    partNo: number,
    file: Blob,
    start: number,
    end: number,
    options?: OssRequestOptions,
  ): Promise<{ readonly etag: string; readonly res: OssResponse }>;
  completeMultipartUpload(
    name: string,
    uploadId: string,
    parts: ReadonlyArray<{ number: number; etag: string }>,
    options?: OssRequestOptions,
  ): Promise<{ readonly res: OssResponse; readonly data?: unknown }>;
  abortMultipartUpload(name: string, uploadId: string, options?: OssRequestOptions): Promise<unknown>;
  listParts(
    name: string,
    uploadId: string,
    query?: Record<string, string | number>,
    options?: OssRequestOptions,
  ): Promise<{ readonly parts?: readonly OssListedPart[]; readonly nextPartNumberMarker?: string | number; readonly isTruncated?: boolean; readonly res: OssResponse }>;
  /** A presigned URL (ali-oss refuses IP endpoints here: it throws). */
  signatureUrl?(name: string, options: Record<string, unknown>): string;
  /** The same, refreshing STS credentials first (ali-oss ≥ 6.17). */
  asyncSignatureUrl?(name: string, options: Record<string, unknown>): Promise<string>;
  /** ali-oss keeps its options here; the bucket name keys checkpoints. */
  readonly options?: { readonly bucket?: string | null };
}

/** @returns the header's value (names matched case-insensitively), or undefined */
export function header(res: OssResponse | undefined, name: string): string | undefined {
  if (res === undefined) return undefined;
  const direct = res.headers[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(res.headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

interface AliOssError {
  readonly status?: unknown;
  readonly code?: unknown;
  readonly requestId?: unknown;
  readonly name?: unknown;
  readonly message?: unknown;
}

/**
 * An ali-oss failure as a TransferError (status, OSS code, request id kept); CseErrors pass through.
 * @param e - what ali-oss threw
 * @param what - the operation, e.g. `GET photos/a.jpg`
 * @param object - the object key
 * @returns the error to throw
 */
export function transferError(e: unknown, what: string, object: string): Error {
  if (e instanceof CseError) return e;
  const err = (typeof e === 'object' && e !== null ? e : {}) as AliOssError;
  const status = typeof err.status === 'number' && err.status > 0 ? err.status : undefined;
  const ossCode = typeof err.code === 'string' && err.code !== '' ? err.code : undefined;
  const requestId = typeof err.requestId === 'string' && err.requestId !== '' ? err.requestId : undefined;
  const message = typeof err.message === 'string' ? err.message : String(e);
  return new TransferError(`${what} failed${status === undefined ? '' : ` (${status}${ossCode === undefined ? '' : ` ${ossCode}`})`}: ${message}`, {
    object,
    cause: e,
    retryable: status === undefined || status >= 500,
    ...(status === undefined ? {} : { status }),
    ...(ossCode === undefined ? {} : { ossCode }),
    ...(requestId === undefined ? {} : { requestId }),
  });
}

/**
 * Bytes from what ali-oss's `get` returns as `content` (its browser `Buffer`, an `ArrayBuffer`, or a string for an
 * empty body).
 * @throws CseError ERR_CSE_TRANSFER for anything else
 */
export function contentBytes(content: unknown, object: string): Uint8Array {
  if (content instanceof Uint8Array) return content;
  if (content instanceof ArrayBuffer) return new Uint8Array(content);
  if (content === undefined || content === null || content === '') return new Uint8Array(0);
  throw new CseError(ErrorCode.TRANSFER, `ali-oss returned a body of an unexpected type (${typeof content})`, { object });
}

/**
 * Throws ERR_CSE_ABORTED when the signal has fired.
 * @throws CseError ERR_CSE_ABORTED
 */
export function checkAborted(signal: AbortSignal | undefined, object: string): void {
  if (signal?.aborted === true) throw new CseError(ErrorCode.ABORTED, 'the operation was aborted', { object, cause: signal.reason });
}

/**
 * Races a promise against the signal, so an abort returns at once (the request itself finishes in the background;
 * ali-oss offers no per-request cancel in the browser).
 * @throws CseError ERR_CSE_ABORTED; whatever `p` rejects with
 */
export async function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined, object: string): Promise<T> {
  if (signal === undefined) return p;
  checkAborted(signal, object);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => {
      reject(new CseError(ErrorCode.ABORTED, 'the operation was aborted', { object, cause: signal.reason }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([p, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    p.catch(() => undefined);
  }
}
