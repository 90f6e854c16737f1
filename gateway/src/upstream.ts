/**
 * The upstream half of the gateway: one raw request to OSS through the `ali-oss` client's own request layer, which
 * signs it (V1, or V4 with a region; STS token included) with the real credentials. The gateway never builds a
 * signature for upstream itself, and clients' signatures are never forwarded.
 *
 * Why raw requests and not `EncryptionClient`: CTR keeps every byte at its offset, so for everything except the
 * body bytes OSS's own answer (status, Range/If-* evaluation, listings, error XML) is already the right answer on the
 * plaintext. The gateway forwards it and only swaps the body through the cipher (see docs/gateway.md).
 *
 * @packageDocumentation
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { V1_SIGNED_SUBRESOURCES } from '../../server/src/auth.js';
import type { QueryParam } from '../../server/src/request.js';
import type { AliOssClient } from '../../src/client.js';

/** The `ali-oss` request parameters used here (`lib/common/utils/createRequest.js`). */
interface AliRequestParams {
  object: string | undefined;
  bucket: string;
  method: string;
  headers: Record<string, string>;
  subres: Record<string, string> | undefined;
  query: Record<string, string> | undefined;
  successStatuses: readonly number[];
  customResponse: boolean;
  xmlResponse: boolean;
  stream: Readable | undefined;
  content: Buffer | undefined;
  mime: string | undefined;
  timeout: number | undefined;
  disabledMD5: boolean;
}

interface AliRawResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  res: Readable;
}

interface AliInternals {
  options: Record<string, unknown>;
  request(params: AliRequestParams): Promise<AliRawResult>;
}

/** Query parameters of the client's presigned-URL signature: never forwarded (the upstream request is signed anew). */
const CLIENT_SIGNATURE_QUERY = new Set([
  'OSSAccessKeyId', 'Expires', 'Signature', 'security-token',
  'x-oss-signature-version', 'x-oss-credential', 'x-oss-date', 'x-oss-expires', 'x-oss-signature', 'x-oss-additional-headers',
]);

/** Every status: upstream errors are answered to the client as OSS sent them. */
const ANY_STATUS: readonly number[] = Array.from({ length: 500 }, (_, i) => i + 100);

/** One upstream request. */
export interface UpstreamRequest {
  readonly method: 'GET' | 'PUT' | 'HEAD' | 'DELETE' | 'POST';
  /** '' for service-level requests (ListBuckets). */
  readonly bucket: string;
  readonly key: string | undefined;
  /** Query parameters (sub-resources are told apart here, as OSS signs only those in V1). */
  readonly query: readonly QueryParam[];
  /** Headers to send (already filtered). */
  readonly headers: Readonly<Record<string, string>>;
  /** Body stream, sent with the `Content-Length` in `headers` (or chunked without one). */
  readonly body?: Readable | undefined;
  /** Small in-memory body (XML). */
  readonly content?: Buffer | undefined;
}

/** An upstream answer; `body` must be consumed or destroyed. */
export interface UpstreamResponse {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
}

/** Raw requests to the upstream OSS endpoint. */
export class Upstream {
  readonly #client: AliInternals;
  readonly #timeout: number | undefined;

  /**
   * @param client - an `ali-oss` client (from `createOssClient`) holding the real credentials
   * @param timeout - per-request timeout in ms (default: the client's)
   * @throws TypeError when `client` is not an `ali-oss` client
   */
  constructor(client: AliOssClient, timeout?: number) {
    const internals = client as unknown as Partial<AliInternals> | null;
    if (typeof internals !== 'object' || internals === null || typeof internals.request !== 'function') {
      throw new TypeError('expected an ali-oss client instance');
    }
    this.#client = internals as AliInternals;
    this.#timeout = timeout;
  }

  /**
   * Sends one request.
   * @returns the answer, whatever its status
   * @throws Error for a network failure (no answer at all)
   */
  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const subres: Record<string, string> = {};
    const query: Record<string, string> = {};
    for (const p of request.query) {
      if (CLIENT_SIGNATURE_QUERY.has(p.name)) continue;
      if (V1_SIGNED_SUBRESOURCES.has(p.name)) subres[p.name] ??= p.value;
      else query[p.name] ??= p.value;
    }
    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined && headers['content-length'] === undefined) headers['Transfer-Encoding'] = 'chunked';
    const params: AliRequestParams = {
      object: request.key,
      bucket: request.bucket,
      method: request.method,
      headers,
      subres: Object.keys(subres).length > 0 ? subres : undefined,
      query: Object.keys(query).length > 0 ? query : undefined,
      successStatuses: ANY_STATUS,
      customResponse: true,
      xmlResponse: false,
      stream: request.body,
      content: request.content,
      // ali-oss would otherwise guess a Content-Type from the key's extension: send exactly what the client sent.
      mime: undefined,
      timeout: this.#timeout,
      disabledMD5: true,
    };
    const result = await this.#client.request(params);
    // urllib reports a connection that failed mid-request as status -1 (ali-oss passes it on with our status list).
    if (result.status < 100) {
      result.res.destroy();
      throw new Error(`${request.method} ${request.bucket}/${request.key ?? ''}: the upstream connection failed`);
    }
    return { status: result.status, headers: lowerCase(result.headers), body: result.res };
  }
}

function lowerCase(raw: Record<string, string | string[] | undefined>): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) out[name.toLowerCase()] = value;
  }
  return out;
}
