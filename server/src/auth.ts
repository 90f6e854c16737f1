/**
 * Request authentication as OSS does it, for what `ali-oss` sends:
 *
 * - V1 header: `Authorization: OSS <AccessKeyId>:<base64 HMAC-SHA1>` over
 *   `VERB\nContent-MD5\nContent-Type\nDate\n<x-oss-* headers>\n<resource>`. `ali-oss` sends no `Date` and puts its
 *   `x-oss-date` in the date slot, so both are tried.
 * - V1 presigned URL: `OSSAccessKeyId`, `Expires`, `Signature` query parameters; `Expires` fills the date slot.
 * - V4 header: `OSS4-HMAC-SHA256 Credential=<ak>/<yyyymmdd>/<region>/oss/aliyun_v4_request[,AdditionalHeaders=…],
 *   Signature=<hex>` over a canonical request (verb, URI-encoded `/bucket/key`, sorted encoded query, `content-type`,
 *   `content-md5`, `x-oss-*` and additional headers, additional header names, `x-oss-content-sha256`).
 * - V4 presigned URL: `x-oss-signature-version`, `x-oss-credential`, `x-oss-date`, `x-oss-expires`,
 *   `x-oss-signature` query parameters.
 *
 * Any region in the V4 scope is accepted (this server is region-less). Signatures are compared in constant time.
 *
 * @packageDocumentation
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';
import { OssError } from './errors.js';
import { headerValue, type QueryParam } from './request.js';

/** Largest clock difference OSS tolerates for header-signed requests. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** Longest lifetime of a V4 presigned URL (7 days). */
export const MAX_V4_EXPIRES_SECONDS = 7 * 24 * 3600;

/**
 * Query parameters OSS treats as sub-resources: the only ones that enter a V1 signature (OSS API docs, "Include
 * signatures in the Authorization header", CanonicalizedResource).
 */
export const V1_SIGNED_SUBRESOURCES: ReadonlySet<string> = new Set([
  'acl', 'append', 'asyncFetch', 'bucketInfo', 'callback', 'callback-var', 'cname', 'comp', 'continuation-token',
  'cors', 'delete', 'encryption', 'endTime', 'img', 'inventory', 'inventoryId', 'lifecycle', 'live', 'location',
  'logging', 'metaQuery', 'objectMeta', 'partNumber', 'policy', 'position', 'qos', 'referer', 'replication',
  'replicationLocation', 'replicationProgress', 'requestPayment', 'resourceGroup', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding', 'response-content-language', 'response-content-type',
  'response-expires', 'restore', 'security-token', 'sequential', 'startTime', 'stat', 'status', 'style', 'styleName',
  'symlink', 'tagging', 'transferAcceleration', 'udf', 'udfApplication', 'udfApplicationLog', 'udfId', 'udfImage',
  'udfImageDesc', 'udfName', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'vod', 'website', 'worm',
  'wormExtend', 'wormId', 'x-oss-ac-forward-allow', 'x-oss-ac-source-ip', 'x-oss-ac-subnet-mask', 'x-oss-ac-vpc-id',
  'x-oss-process', 'x-oss-request-payer', 'x-oss-traffic-limit',
]);

/** What authentication needs to know about a request. */
export interface AuthInput {
  readonly method: string;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
  readonly query: readonly QueryParam[];
}

/** Who signed a request and how. */
export interface AuthResult {
  readonly accessKeyId: string;
  readonly scheme: 'v1' | 'v1-presigned' | 'v4' | 'v4-presigned';
}

function param(query: readonly QueryParam[], name: string): string | undefined {
  return query.find((p) => p.name === name)?.value;
}

function secretFor(secrets: ReadonlyMap<string, string>, accessKeyId: string): string {
  const secret = secrets.get(accessKeyId);
  if (secret === undefined) {
    throw new OssError('InvalidAccessKeyId', { fields: [['OSSAccessKeyId', accessKeyId]], ec: '0002-00000902' });
  }
  return secret;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function signatureMismatch(accessKeyId: string, stringToSign: string, canonicalRequest?: string): OssError {
  const fields: [string, string][] = [
    ['OSSAccessKeyId', accessKeyId],
    ['StringToSign', stringToSign],
    ['StringToSignBytes', Buffer.from(stringToSign, 'utf8').toString('hex').replace(/(..)(?!$)/g, '$1 ')],
  ];
  if (canonicalRequest !== undefined) fields.push(['CanonicalRequest', canonicalRequest]);
  return new OssError('SignatureDoesNotMatch', { fields, ec: '0002-00000040' });
}

function checkSkew(dateMs: number, now: number): void {
  if (Number.isNaN(dateMs)) {
    throw new OssError('AccessDenied', { message: 'The request date is not a valid HTTP date.' });
  }
  if (Math.abs(now - dateMs) > MAX_CLOCK_SKEW_MS) {
    throw new OssError('RequestTimeTooSkewed', {
      fields: [
        ['RequestTime', new Date(dateMs).toISOString()],
        ['ServerTime', new Date(now).toISOString()],
      ],
      ec: '0002-00000504',
    });
  }
}

function expired(expiresAtMs: number, now: number, ec = '0002-00000069'): OssError {
  return new OssError('AccessDenied', {
    message: 'Request has expired.',
    fields: [
      ['Expires', new Date(expiresAtMs).toISOString()],
      ['ServerTime', new Date(now).toISOString()],
    ],
    ec,
  });
}

/**
 * A V4 presigned URL used more than {@link MAX_CLOCK_SKEW_MS} before its `x-oss-date`: OSS refuses it (EC
 * 0002-00000235, "earlier than the start time of the validity period"), so a URL dated in the future cannot stretch
 * its life past the 7-day `x-oss-expires` limit.
 */
function notYetValid(signedAtMs: number, now: number): OssError {
  return new OssError('AccessDenied', {
    message: 'Request is not valid yet: x-oss-date is more than 15 minutes after the server time.',
    fields: [
      ['RequestTime', new Date(signedAtMs).toISOString()],
      ['ServerTime', new Date(now).toISOString()],
    ],
    ec: '0002-00000235',
  });
}

// ---------------------------------------------------------------------------------------------------------- V1 ---

function v1Resource(input: AuthInput): string {
  let resource = '/';
  if (input.bucket !== undefined) resource += `${input.bucket}/`;
  if (input.key !== undefined) resource += input.key;
  const subresources = input.query
    .filter((p) => V1_SIGNED_SUBRESOURCES.has(p.name))
    .map((p) => p.name)
    .filter((name, i, all) => all.indexOf(name) === i)
    .sort();
  if (subresources.length > 0) {
    resource +=
      '?' +
      subresources
        .map((name) => {
          const value = param(input.query, name) ?? '';
          return value === '' ? name : `${name}=${value}`;
        })
        .join('&');
  }
  return resource;
}

function v1OssHeaders(headers: http.IncomingHttpHeaders): string[] {
  return Object.keys(headers)
    .filter((name) => name.startsWith('x-oss-'))
    .sort()
    .map((name) => `${name}:${(headerValue(headers, name) ?? '').trim()}`);
}

function v1StringToSign(input: AuthInput, dateSlot: string): string {
  return [
    input.method.toUpperCase(),
    headerValue(input.headers, 'content-md5') ?? '',
    headerValue(input.headers, 'content-type') ?? '',
    dateSlot,
    ...v1OssHeaders(input.headers),
    v1Resource(input),
  ].join('\n');
}

function v1Sign(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64');
}

function verifyV1Header(input: AuthInput, authorization: string, secrets: ReadonlyMap<string, string>, now: number): AuthResult {
  const m = /^OSS ([^:\s]+):(\S+)$/.exec(authorization.trim());
  if (m === null) throw new OssError('InvalidArgument', { message: 'Authorization header is invalid.' });
  const [, accessKeyId = '', signature = ''] = m;
  const secret = secretFor(secrets, accessKeyId);
  const date = headerValue(input.headers, 'date');
  const ossDate = headerValue(input.headers, 'x-oss-date');
  const when = ossDate ?? date;
  if (when === undefined) {
    throw new OssError('AccessDenied', { message: 'The request has neither a Date nor an x-oss-date header.' });
  }
  checkSkew(Date.parse(when), now);
  const slots = [...new Set([date, ossDate].filter((d): d is string => d !== undefined))];
  const candidates = slots.map((slot) => v1StringToSign(input, slot));
  for (const candidate of candidates) {
    if (safeEqual(v1Sign(secret, candidate), signature)) return { accessKeyId, scheme: 'v1' };
  }
  throw signatureMismatch(accessKeyId, candidates[0] ?? '');
}

function verifyV1Presigned(input: AuthInput, secrets: ReadonlyMap<string, string>, now: number): AuthResult {
  const accessKeyId = param(input.query, 'OSSAccessKeyId') ?? '';
  const expires = param(input.query, 'Expires') ?? '';
  const signature = param(input.query, 'Signature') ?? '';
  if (!/^\d{1,12}$/.test(expires) || signature === '') {
    throw new OssError('InvalidArgument', { message: 'The presigned URL has no valid Expires or Signature.' });
  }
  const secret = secretFor(secrets, accessKeyId);
  const expiresAt = Number(expires) * 1000;
  const stringToSign = v1StringToSign(input, expires);
  if (!safeEqual(v1Sign(secret, stringToSign), signature)) throw signatureMismatch(accessKeyId, stringToSign);
  if (now > expiresAt) throw expired(expiresAt, now);
  return { accessKeyId, scheme: 'v1-presigned' };
}

// ---------------------------------------------------------------------------------------------------------- V4 ---

/** RFC 3986 encoding as OSS V4 uses it (encodeURIComponent plus `!'()*`). */
function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function v4CanonicalUri(input: AuthInput): string {
  let path = '/';
  if (input.bucket !== undefined) path += `${input.bucket}/`;
  if (input.key !== undefined) path += input.key;
  return encodeRfc3986(path).replace(/%2F/g, '/');
}

/**
 * Canonical query strings to try. OSS's rule writes a parameter with an empty value as its bare name; `ali-oss` does
 * that for sub-resources but writes `name=` for other empty parameters, and sorts with `localeCompare`. Every variant
 * is a faithful encoding of the same parameters, so trying them does not weaken the check.
 */
function v4CanonicalQueries(query: readonly QueryParam[]): string[] {
  const params = query.filter((p) => p.name !== 'x-oss-signature');
  const encoded = params.map((p) => ({
    raw: p.name,
    name: encodeRfc3986(p.name),
    value: encodeRfc3986(p.value),
    sub: V1_SIGNED_SUBRESOURCES.has(p.name),
  }));
  type E = (typeof encoded)[number];
  const byBytes = [...encoded].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const byLocale = [...encoded].sort((a, b) => a.raw.localeCompare(b.raw));
  const render = (list: E[], bare: (e: E) => boolean): string =>
    list.map((e) => (e.value === '' && bare(e) ? e.name : `${e.name}=${e.value}`)).join('&');
  const variants = new Set<string>();
  for (const list of [byBytes, byLocale]) {
    variants.add(render(list, () => true));
    variants.add(render(list, (e) => e.sub));
    variants.add(render(list, () => false));
  }
  return [...variants];
}

function v4CanonicalHeaders(headers: http.IncomingHttpHeaders, additional: readonly string[]): string {
  const names = new Set<string>();
  for (const name of Object.keys(headers)) {
    if (name === 'content-type' || name === 'content-md5' || name.startsWith('x-oss-')) names.add(name);
  }
  for (const name of additional) {
    if (headerValue(headers, name) === undefined) {
      throw new OssError('InvalidArgument', { message: `Additional header ${name} is not in the request.` });
    }
    names.add(name);
  }
  return [...names]
    .sort()
    .map((name) => `${name}:${(headerValue(headers, name) ?? '').trim()}\n`)
    .join('');
}

function v4SigningKey(secret: string, date: string, region: string, product: string): Buffer {
  const kDate = createHmac('sha256', `aliyun_v4${secret}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kProduct = createHmac('sha256', kRegion).update(product).digest();
  return createHmac('sha256', kProduct).update('aliyun_v4_request').digest();
}

interface V4Parts {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly product: string;
  readonly additional: readonly string[];
  readonly signature: string;
  readonly timestamp: string;
  readonly payloadHash: string;
  readonly presigned: boolean;
}

function parseCredential(credential: string): { accessKeyId: string; date: string; region: string; product: string } {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aliyun_v4_request' || !/^\d{8}$/.test(parts[1] ?? '')) {
    throw new OssError('InvalidArgument', { message: `Invalid V4 credential scope ${JSON.stringify(credential)}.` });
  }
  const [accessKeyId = '', date = '', region = '', product = ''] = parts;
  if (product !== 'oss' && product !== 'oss-cloudbox') {
    throw new OssError('InvalidArgument', { message: `Invalid V4 product ${JSON.stringify(product)}.` });
  }
  return { accessKeyId, date, region, product };
}

function parseV4Timestamp(timestamp: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(timestamp);
  if (m === null) throw new OssError('InvalidArgument', { message: 'x-oss-date must be yyyymmddTHHMMSSZ.' });
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function verifyV4(input: AuthInput, v4: V4Parts, secrets: ReadonlyMap<string, string>): AuthResult {
  const secret = secretFor(secrets, v4.accessKeyId);
  if (!v4.timestamp.startsWith(v4.date)) {
    throw new OssError('InvalidArgument', { message: 'The credential date does not match x-oss-date.' });
  }
  const scope = `${v4.date}/${v4.region}/${v4.product}/aliyun_v4_request`;
  const key = v4SigningKey(secret, v4.date, v4.region, v4.product);
  const headers = v4CanonicalHeaders(input.headers, v4.additional);
  const requests = v4CanonicalQueries(input.query).map((q) =>
    [input.method.toUpperCase(), v4CanonicalUri(input), q, headers, v4.additional.join(';'), v4.payloadHash].join('\n'),
  );
  let first: { request: string; stringToSign: string } | undefined;
  for (const request of requests) {
    const stringToSign = ['OSS4-HMAC-SHA256', v4.timestamp, scope, createHash('sha256').update(request).digest('hex')].join('\n');
    first ??= { request, stringToSign };
    const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
    if (safeEqual(signature, v4.signature)) {
      return { accessKeyId: v4.accessKeyId, scheme: v4.presigned ? 'v4-presigned' : 'v4' };
    }
  }
  throw signatureMismatch(v4.accessKeyId, first?.stringToSign ?? '', first?.request);
}

function verifyV4Header(input: AuthInput, authorization: string, secrets: ReadonlyMap<string, string>, now: number): AuthResult {
  const fields = new Map<string, string>();
  for (const piece of authorization.trim().slice('OSS4-HMAC-SHA256'.length).split(',')) {
    const eq = piece.indexOf('=');
    if (eq > 0) fields.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signature = fields.get('Signature');
  if (credential === undefined || signature === undefined) {
    throw new OssError('InvalidArgument', { message: 'Authorization header is invalid.' });
  }
  const timestamp = headerValue(input.headers, 'x-oss-date');
  if (timestamp === undefined) {
    throw new OssError('AccessDenied', { message: 'V4 signed requests need an x-oss-date header.' });
  }
  checkSkew(parseV4Timestamp(timestamp), now);
  const payloadHash = headerValue(input.headers, 'x-oss-content-sha256');
  if (payloadHash === undefined) {
    throw new OssError('InvalidArgument', { message: 'V4 signed requests need an x-oss-content-sha256 header.' });
  }
  if (payloadHash !== 'UNSIGNED-PAYLOAD') {
    throw new OssError('NotImplemented', { message: 'Only x-oss-content-sha256: UNSIGNED-PAYLOAD is supported.' });
  }
  const additional = (fields.get('AdditionalHeaders') ?? '')
    .split(';')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  return verifyV4(
    input,
    { ...parseCredential(credential), additional, signature, timestamp, payloadHash, presigned: false },
    secrets,
  );
}

function verifyV4Presigned(input: AuthInput, secrets: ReadonlyMap<string, string>, now: number): AuthResult {
  const credential = param(input.query, 'x-oss-credential');
  const timestamp = param(input.query, 'x-oss-date');
  const expires = param(input.query, 'x-oss-expires');
  const signature = param(input.query, 'x-oss-signature');
  if (credential === undefined || timestamp === undefined || expires === undefined || signature === undefined) {
    throw new OssError('InvalidArgument', { message: 'The V4 presigned URL lacks a required parameter.' });
  }
  if (!/^\d{1,7}$/.test(expires) || Number(expires) > MAX_V4_EXPIRES_SECONDS) {
    throw new OssError('InvalidArgument', { message: `x-oss-expires must be 1..${MAX_V4_EXPIRES_SECONDS} seconds.` });
  }
  const signedAt = parseV4Timestamp(timestamp);
  const additional = (param(input.query, 'x-oss-additional-headers') ?? '')
    .split(';')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  const result = verifyV4(
    input,
    {
      ...parseCredential(credential),
      additional,
      signature,
      timestamp,
      payloadHash: 'UNSIGNED-PAYLOAD',
      presigned: true,
    },
    secrets,
  );
  // Validity is [x-oss-date - 15 min, x-oss-date + x-oss-expires]; the lower bound keeps a future-dated URL from
  // outliving the 7-day cap.
  if (signedAt - now > MAX_CLOCK_SKEW_MS) throw notYetValid(signedAt, now);
  const expiresAt = signedAt + Number(expires) * 1000;
  if (now > expiresAt) throw expired(expiresAt, now, '0002-00000236');
  return result;
}

/**
 * Verifies a request's signature.
 * @param input - method, bucket, key, headers, query
 * @param secrets - AccessKeyId → AccessKeySecret
 * @param now - the current time (ms since the epoch)
 * @returns who signed it
 * @throws OssError AccessDenied (unsigned, expired presigned URL, V4 presigned URL dated more than 15 minutes ahead),
 *   SignatureDoesNotMatch, InvalidAccessKeyId,
 *   RequestTimeTooSkewed, InvalidArgument (malformed authorization)
 */
export function authenticate(input: AuthInput, secrets: ReadonlyMap<string, string>, now: number): AuthResult {
  const authorization = headerValue(input.headers, 'authorization');
  if (authorization !== undefined) {
    if (authorization.trim().startsWith('OSS4-HMAC-SHA256')) return verifyV4Header(input, authorization, secrets, now);
    if (authorization.trim().startsWith('OSS ')) return verifyV1Header(input, authorization, secrets, now);
    throw new OssError('InvalidArgument', { message: 'Authorization header is invalid.' });
  }
  if (param(input.query, 'x-oss-signature-version') === 'OSS4-HMAC-SHA256') return verifyV4Presigned(input, secrets, now);
  if (param(input.query, 'OSSAccessKeyId') !== undefined) return verifyV1Presigned(input, secrets, now);
  throw new OssError('AccessDenied', { message: 'You have no right to access this object because of bucket acl.', ec: '0003-00000001' });
}
