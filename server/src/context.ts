/**
 * Per-request context shared by the handlers, and the response helpers every answer goes through (request id, Date,
 * Server headers, XML bodies).
 *
 * @packageDocumentation
 */

import type * as http from 'node:http';
import { OssError } from './errors.js';
import { headerValue, type RequestTarget } from './request.js';
import type { Store } from './store/types.js';
import { xmlDocument, type XmlContent } from './xml.js';

/** The bucket owner reported in listings (this server has one account). */
export interface Owner {
  readonly id: string;
  readonly displayName: string;
}

/** Everything a handler needs. */
export interface RequestContext {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly target: RequestTarget;
  readonly requestId: string;
  readonly store: Store;
  readonly owner: Owner;
  /** Region name shown in ListBuckets (`Location` is `oss-<region>`). */
  readonly region: string;
  /** The current time, ms since the epoch (whole seconds for Last-Modified). */
  readonly now: number;
}

/** Largest in-memory request body (XML for CompleteMultipartUpload and DeleteMultipleObjects). */
export const MAX_XML_BODY = 4 * 1024 * 1024;

/**
 * Sends a response with no body.
 * @param ctx - the request
 * @param status - HTTP status
 * @param headers - extra headers
 */
export function sendEmpty(ctx: RequestContext, status: number, headers: http.OutgoingHttpHeaders = {}): void {
  ctx.res.writeHead(status, { ...headers, 'Content-Length': 0 });
  ctx.res.end();
}

/**
 * Sends an XML document.
 * @param ctx - the request
 * @param root - root element name
 * @param content - the root's children
 * @param headers - extra headers
 */
export function sendXml(ctx: RequestContext, root: string, content: XmlContent, headers: http.OutgoingHttpHeaders = {}): void {
  const body = Buffer.from(xmlDocument(root, content), 'utf8');
  ctx.res.writeHead(200, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': body.length });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : body);
}

/**
 * Reads a small request body (XML) into memory.
 * @param ctx - the request
 * @returns the body
 * @throws OssError EntityTooLarge when over {@link MAX_XML_BODY}
 */
export async function readSmallBody(ctx: RequestContext): Promise<Buffer> {
  const declared = Number(headerValue(ctx.req.headers, 'content-length') ?? '0');
  if (declared > MAX_XML_BODY) throw new OssError('EntityTooLarge', { message: `Request bodies of this kind are limited to ${MAX_XML_BODY} bytes.` });
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_XML_BODY) {
      throw new OssError('EntityTooLarge', { message: `Request bodies of this kind are limited to ${MAX_XML_BODY} bytes.` });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * ISO 8601 with milliseconds, as OSS writes times in XML (`2012-02-24T08:42:32.000Z`).
 * @param ms - ms since the epoch
 * @returns the text
 */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * RFC 1123 date, as in `Last-Modified`.
 * @param ms - ms since the epoch
 * @returns the text
 */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/**
 * Quotes an ETag for headers and XML.
 * @param etag - the bare tag
 * @returns `"TAG"`
 */
export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

/**
 * URL-encodes a value for `encoding-type=url` responses.
 * @param text - the raw value
 * @returns the encoded value
 */
export function urlEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
