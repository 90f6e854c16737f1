/**
 * Signature checks beyond what ali-oss exercises: requests signed by an independent implementation of the OSS V1
 * and V4 rules written here, clock skew, malformed headers, and the Host → bucket rule.
 */

import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { authenticate, type AuthInput } from '../../server/src/auth.js';
import { OssError } from '../../server/src/errors.js';
import { bucketFromHost, parseQuery } from '../../server/src/request.js';

const AK = 'LTAIunitTestKey000000001';
const SK = 'unit-test-secret-0123456789abcd';
const SECRETS = new Map([[AK, SK]]);
const NOW = Date.UTC(2025, 0, 15, 10, 30, 0);

function v1(input: Omit<AuthInput, 'headers'> & { headers: Record<string, string> }, subresource = ''): AuthInput {
  const h = input.headers;
  const oss = Object.keys(h).filter((k) => k.startsWith('x-oss-')).sort().map((k) => `${k}:${h[k]!}`);
  const resource = `/${input.bucket ?? ''}${input.bucket === undefined ? '' : '/'}${input.key ?? ''}${subresource}`;
  const sts = [input.method, h['content-md5'] ?? '', h['content-type'] ?? '', h.date ?? h['x-oss-date'] ?? '', ...oss, resource].join('\n');
  const signature = createHmac('sha1', SK).update(sts).digest('base64');
  return { ...input, headers: { ...h, authorization: `OSS ${AK}:${signature}` } };
}

function enc(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** OSS V4 as the OSS API reference describes it, with `host` as an additional signed header. */
function v4(input: Omit<AuthInput, 'headers'> & { headers: Record<string, string> }, timestamp: string, region = 'cn-shanghai'): AuthInput {
  const h = { ...input.headers, 'x-oss-date': timestamp, 'x-oss-content-sha256': 'UNSIGNED-PAYLOAD' };
  const additional = ['host'];
  const signedNames = Object.keys(h).filter((k) => k === 'content-type' || k === 'content-md5' || k.startsWith('x-oss-') || additional.includes(k)).sort();
  const query = [...input.query]
    .map((p) => [enc(p.name), enc(p.value)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    .join('&');
  const canonical = [
    input.method,
    enc(`/${input.bucket ?? ''}${input.bucket === undefined ? '' : '/'}${input.key ?? ''}`).replace(/%2F/g, '/'),
    query,
    signedNames.map((k) => `${k}:${(h as Record<string, string>)[k]!.trim()}\n`).join(''),
    additional.join(';'),
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const day = timestamp.slice(0, 8);
  const scope = `${day}/${region}/oss/aliyun_v4_request`;
  const sts = ['OSS4-HMAC-SHA256', timestamp, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `aliyun_v4${SK}`).update(day).digest();
  for (const part of [region, 'oss', 'aliyun_v4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(sts).digest('hex');
  return {
    ...input,
    headers: { ...h, authorization: `OSS4-HMAC-SHA256 Credential=${AK}/${scope}, AdditionalHeaders=host, Signature=${signature}` },
  };
}

/** A V4 presigned URL's query, signed as the OSS API reference describes (no additional headers). */
function v4Presigned(input: { method: string; bucket: string; key: string }, timestamp: string, expires: number): AuthInput {
  const day = timestamp.slice(0, 8);
  const region = 'cn-hangzhou';
  const scope = `${day}/${region}/oss/aliyun_v4_request`;
  const params: [string, string][] = [
    ['x-oss-credential', `${AK}/${scope}`],
    ['x-oss-date', timestamp],
    ['x-oss-expires', String(expires)],
    ['x-oss-signature-version', 'OSS4-HMAC-SHA256'],
  ];
  const canonicalQuery = params.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  const canonical = [input.method, enc(`/${input.bucket}/${input.key}`).replace(/%2F/g, '/'), canonicalQuery, '', '', 'UNSIGNED-PAYLOAD'].join('\n');
  const sts = ['OSS4-HMAC-SHA256', timestamp, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `aliyun_v4${SK}`).update(day).digest();
  for (const part of [region, 'oss', 'aliyun_v4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(sts).digest('hex');
  const signed: [string, string][] = [...params, ['x-oss-signature', signature]];
  const query = parseQuery(signed.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&'));
  return { ...input, query, headers: {} };
}

function rejectsWith(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OssError);
    assert.equal(e.code, code, e.message);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

const base = { method: 'GET', bucket: 'demo', key: 'dir/a b+c.txt', query: parseQuery('uploadId=ABC&max-parts=10') };

describe('request authentication', () => {
  it('accepts V1 signed with a Date header and a sub-resource, and refuses a changed key', () => {
    const signed = v1({ ...base, headers: { date: new Date(NOW).toUTCString(), 'x-oss-meta-a': 'x' } }, '?uploadId=ABC');
    assert.equal(authenticate(signed, SECRETS, NOW).scheme, 'v1');
    rejectsWith(() => authenticate({ ...signed, key: 'dir/other' }, SECRETS, NOW), 'SignatureDoesNotMatch');
  });

  it('refuses V1 requests more than 15 minutes off, or without any date', () => {
    const old = v1({ ...base, headers: { date: new Date(NOW - 16 * 60_000).toUTCString() } }, '?uploadId=ABC');
    rejectsWith(() => authenticate(old, SECRETS, NOW), 'RequestTimeTooSkewed');
    rejectsWith(() => authenticate({ ...base, headers: { authorization: `OSS ${AK}:abc` } }, SECRETS, NOW), 'AccessDenied');
  });

  it('accepts V4 from an independent signer (any region, AdditionalHeaders with spaces after commas)', () => {
    const signed = v4({ ...base, headers: { host: 'demo.oss-cn-shanghai.aliyuncs.com', 'content-type': 'text/plain' } }, '20250115T103000Z');
    assert.equal(authenticate(signed, SECRETS, NOW).scheme, 'v4');
    rejectsWith(
      () => authenticate({ ...signed, headers: { ...signed.headers, host: 'evil.example.com' } }, SECRETS, NOW),
      'SignatureDoesNotMatch',
    );
  });

  it('refuses V4 with a credential date unlike x-oss-date, or with a signed payload hash', () => {
    const signed = v4({ ...base, headers: { host: 'h' } }, '20250115T103000Z');
    const auth = String(signed.headers.authorization).replace('20250115/', '20250114/');
    rejectsWith(() => authenticate({ ...signed, headers: { ...signed.headers, authorization: auth } }, SECRETS, NOW), 'InvalidArgument');
    rejectsWith(
      () => authenticate({ ...signed, headers: { ...signed.headers, 'x-oss-content-sha256': 'ab'.repeat(32) } }, SECRETS, NOW),
      'NotImplemented',
    );
  });

  it('refuses V4 presigned URLs valid for more than 7 days', () => {
    const query = parseQuery(
      `x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=${AK}%2F20250115%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-date=20250115T103000Z&x-oss-expires=604801&x-oss-signature=00`,
    );
    rejectsWith(() => authenticate({ ...base, query, headers: {} }, SECRETS, NOW), 'InvalidArgument', /x-oss-expires/);
  });

  it('refuses a V4 presigned URL dated more than 15 minutes ahead, so x-oss-date cannot stretch the 7-day limit', () => {
    const at = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    // Signed "6 days from now" for 7 days: without the lower bound it would be usable for 13 days from NOW.
    const future = v4Presigned({ method: 'GET', bucket: 'demo', key: 'k' }, at(NOW + 6 * 86_400_000), 604_800);
    rejectsWith(() => authenticate(future, SECRETS, NOW), 'AccessDenied', /not valid yet/);
    assert.throws(() => authenticate(future, SECRETS, NOW), (e: unknown) => e instanceof OssError && e.ec === '0002-00000235');
    // Usable from 15 minutes before its date (OSS's clock allowance) until date + expires, not a second longer.
    const soon = v4Presigned({ method: 'GET', bucket: 'demo', key: 'k' }, at(NOW + 15 * 60_000), 60);
    assert.equal(authenticate(soon, SECRETS, NOW).scheme, 'v4-presigned');
    const later = v4Presigned({ method: 'GET', bucket: 'demo', key: 'k' }, at(NOW + 15 * 60_000 + 1000), 60);
    rejectsWith(() => authenticate(later, SECRETS, NOW), 'AccessDenied', /not valid yet/);
    const past = v4Presigned({ method: 'GET', bucket: 'demo', key: 'k' }, at(NOW - 61_000), 60);
    rejectsWith(() => authenticate(past, SECRETS, NOW), 'AccessDenied', /expired/);
  });

  it('refuses malformed Authorization headers and unknown schemes', () => {
    for (const authorization of ['OSS nocolon', 'Bearer token', 'OSS4-HMAC-SHA256 Signature=00']) {
      rejectsWith(() => authenticate({ ...base, headers: { authorization, date: new Date(NOW).toUTCString(), 'x-oss-date': '20250115T103000Z' } }, SECRETS, NOW), 'InvalidArgument');
    }
    rejectsWith(() => authenticate({ ...base, headers: {} }, SECRETS, NOW), 'AccessDenied');
  });
});

describe('Host → bucket', () => {
  it('is virtual-host style only when a bucket label precedes an endpoint', () => {
    const cases: [string, string | null | undefined][] = [
      ['127.0.0.1:8080', undefined],
      ['localhost:9000', undefined],
      ['[::1]:9000', undefined],
      ['demo.oss-cn-hangzhou.aliyuncs.com', 'demo'],
      ['oss-cn-hangzhou.aliyuncs.com', undefined],
      ['.oss-cn-hangzhou.aliyuncs.com', null],
      ['demo.localhost:9000', 'demo'],
      ['demo.example.com', 'demo'],
      ['example.com', undefined],
      ['DEMO.OSS-CN-HANGZHOU.ALIYUNCS.COM.', 'demo'],
    ];
    for (const [host, bucket] of cases) assert.equal(bucketFromHost(host), bucket, host);
  });
});
