/**
 * Reading the request line and Host: which bucket and key are addressed (virtual-host or path style) and the decoded
 * query. The path is split by hand, never through `new URL()`, which would fold `..` segments and change the key.
 *
 * @packageDocumentation
 */

import type * as http from 'node:http';
import { isIP } from 'node:net';
import { OssError } from './errors.js';

/** One decoded query parameter. A bare `?uploads` has value `''`. */
export interface QueryParam {
  readonly name: string;
  readonly value: string;
}

/** Where a request is addressed. */
export interface RequestTarget {
  /** The Host header as sent (used as HostId in errors). */
  readonly host: string;
  /** Bucket, or undefined for service-level requests (ListBuckets). */
  readonly bucket: string | undefined;
  /** Object key, or undefined for bucket- and service-level requests. */
  readonly key: string | undefined;
  /** How the bucket was found. */
  readonly style: 'virtual-host' | 'path';
  /** Query parameters in request order. */
  readonly query: readonly QueryParam[];
  /** First value of each query parameter. */
  readonly params: ReadonlyMap<string, string>;
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new OssError('InvalidURI', { message: `Could not decode the ${what} in the request URI.` });
  }
}

/**
 * Splits a raw query string into decoded parameters (`+` is a space, as form encoding has it).
 * @param raw - the text after `?`, without it
 * @returns the parameters in order
 * @throws OssError InvalidURI when a parameter is not valid percent-encoded UTF-8
 */
export function parseQuery(raw: string): QueryParam[] {
  const out: QueryParam[] = [];
  if (raw === '') return out;
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = decode((eq < 0 ? piece : piece.slice(0, eq)).replace(/\+/g, ' '), 'query');
    const value = eq < 0 ? '' : decode(piece.slice(eq + 1).replace(/\+/g, ' '), 'query');
    out.push({ name, value });
  }
  return out;
}

/**
 * Finds the bucket in the Host header. Virtual-host style when the host name is neither an IP address nor `localhost`
 * and has a bucket label in front of an endpoint (`bucket.oss-cn-hangzhou.aliyuncs.com`, `bucket.localhost`,
 * `bucket.example.com`); `oss-<region>.aliyuncs.com`, two-label names and IPs are path style. A host starting with a
 * dot (what `ali-oss` sends for ListBuckets with an IP endpoint: `.oss-cn-hangzhou.aliyuncs.com`) has no bucket.
 * @param host - the Host header
 * @returns the bucket label, `null` for "virtual host without bucket", or undefined for path style
 */
export function bucketFromHost(host: string): string | null | undefined {
  let hostname = host.trim().toLowerCase();
  if (hostname.startsWith('[')) return undefined; // IPv6 literal
  const colon = hostname.lastIndexOf(':');
  if (colon >= 0) hostname = hostname.slice(0, colon);
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1);
  if (hostname === '' || hostname === 'localhost' || isIP(hostname) !== 0) return undefined;
  if (hostname.startsWith('.')) return null;
  const labels = hostname.split('.');
  if (hostname.endsWith('.localhost')) return labels[0];
  if (labels.length < 3) return undefined;
  if (labels.length === 3 && (labels[0] ?? '').startsWith('oss-')) return undefined;
  return labels[0];
}

/**
 * Reads the bucket, key and query of a request.
 * @param req - the request
 * @returns the target
 * @throws OssError InvalidURI for an undecodable path or query
 */
export function parseTarget(req: http.IncomingMessage): RequestTarget {
  const host = headerValue(req.headers, 'host') ?? '';
  let raw = req.url ?? '/';
  // Absolute-form request target (proxies): keep only the path and query.
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(raw);
  if (absolute !== null) raw = raw.slice(absolute[0].length) || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = parseQuery(q < 0 ? '' : raw.slice(q + 1));
  const params = new Map<string, string>();
  for (const p of query) if (!params.has(p.name)) params.set(p.name, p.value);
  if (!path.startsWith('/')) throw new OssError('InvalidURI');

  const hostBucket = bucketFromHost(host);
  if (typeof hostBucket === 'string') {
    const key = decode(path.slice(1), 'object name');
    return { host, bucket: hostBucket, key: key === '' ? undefined : key, style: 'virtual-host', query, params };
  }
  const rest = path.slice(1);
  if (rest === '') return { host, bucket: undefined, key: undefined, style: 'path', query, params };
  const slash = rest.indexOf('/');
  const bucket = decode(slash < 0 ? rest : rest.slice(0, slash), 'bucket name');
  const key = slash < 0 ? '' : decode(rest.slice(slash + 1), 'object name');
  return { host, bucket, key: key === '' ? undefined : key, style: 'path', query, params };
}

/**
 * One header as a string (repeated headers joined with `, `, as Node does for most).
 * @param headers - the request headers
 * @param name - lower-case header name
 * @returns the value, or undefined when absent
 */
export function headerValue(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}
