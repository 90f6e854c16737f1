/**
 * Bucket CORS on the embedded server: PutBucketCors / GetBucketCors / DeleteBucketCors driven by the real ali-oss,
 * preflights (unsigned OPTIONS) and the Access-Control-* headers on actual answers, including errors, and the
 * server-wide `cors` option behind `oss-cse serve --cors`.
 */

import assert from 'node:assert/strict';
import * as http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OSS from 'ali-oss';
import { CSE_EXPOSE_HEADERS, startServer, type RunningServer } from '../../server/src/index.js';

interface Raw {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

async function raw(endpoint: string, method: string, path: string, headers: Record<string, string>): Promise<Raw> {
  const url = new URL(path, endpoint);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function client(server: RunningServer, bucket: string): OSS {
  return new OSS({ endpoint: server.endpoint, bucket, region: 'oss-cn-hangzhou', ...server.credentials });
}

describe('server CORS: bucket rules', () => {
  let server: RunningServer;
  let oss: OSS;
  before(async () => {
    server = await startServer({ memory: true, buckets: ['cors-a', 'cors-b'] });
    oss = client(server, 'cors-a');
  });
  after(async () => server.close());

  it('without any rule a preflight is refused with 403 AccessForbidden and no Allow-Origin', async () => {
    const r = await raw(server.endpoint, 'OPTIONS', '/cors-a/x', { Origin: 'http://page.test', 'Access-Control-Request-Method': 'PUT' });
    assert.equal(r.status, 403);
    assert.match(r.body, /<Code>AccessForbidden<\/Code>/);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  });

  it('GetBucketCors without a configuration is 404 NoSuchCORSConfiguration', async () => {
    await assert.rejects(oss.getBucketCORS('cors-a'), (e: { status?: number; code?: string }) => e.status === 404 && e.code === 'NoSuchCORSConfiguration');
  });

  it('PutBucketCors stores the rules; GetBucketCors returns them as sent', async () => {
    await oss.putBucketCORS('cors-a', [
      {
        allowedOrigin: ['http://page.test', 'https://*.example.com'],
        allowedMethod: ['GET', 'PUT', 'HEAD'],
        allowedHeader: ['x-oss-*', 'content-type', 'authorization', 'range'],
        exposeHeader: ['ETag', 'x-oss-hash-crc64ecma'],
        maxAgeSeconds: '120',
      },
    ]);
    const got = await oss.getBucketCORS('cors-a');
    assert.equal(got.rules.length, 1);
    const rule = got.rules[0] as unknown as Record<string, unknown>;
    assert.deepEqual(rule.allowedOrigin, ['http://page.test', 'https://*.example.com']);
    assert.deepEqual(rule.allowedMethod, ['GET', 'PUT', 'HEAD']);
    assert.deepEqual(rule.exposeHeader, ['ETag', 'x-oss-hash-crc64ecma']);
    assert.equal(String(rule.maxAgeSeconds), '120');
  });

  it('a preflight the rule allows gets the method list, the requested headers, the exposed list and max-age', async () => {
    const r = await raw(server.endpoint, 'OPTIONS', '/cors-a/some/key', {
      Origin: 'https://app.example.com',
      'Access-Control-Request-Method': 'PUT',
      'Access-Control-Request-Headers': 'x-oss-date, Content-Type, X-OSS-Meta-Client-Side-Encryption-Key',
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT, HEAD');
    assert.equal(r.headers['access-control-allow-headers'], 'x-oss-date, Content-Type, X-OSS-Meta-Client-Side-Encryption-Key');
    assert.equal(r.headers['access-control-expose-headers'], 'ETag, x-oss-hash-crc64ecma');
    assert.equal(r.headers['access-control-max-age'], '120');
  });

  it('a preflight for a method, header or origin outside the rule is refused', async () => {
    for (const headers of [
      { Origin: 'http://page.test', 'Access-Control-Request-Method': 'DELETE' },
      { Origin: 'http://page.test', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'x-custom' },
      { Origin: 'http://evil.test', 'Access-Control-Request-Method': 'GET' },
      { 'Access-Control-Request-Method': 'GET' },
      { Origin: 'http://page.test' },
    ]) {
      const r = await raw(server.endpoint, 'OPTIONS', '/cors-a/k', headers);
      assert.equal(r.status, 403, JSON.stringify(headers));
    }
  });

  it('rules are per bucket: the other bucket still refuses', async () => {
    const r = await raw(server.endpoint, 'OPTIONS', '/cors-b/k', { Origin: 'http://page.test', 'Access-Control-Request-Method': 'GET' });
    assert.equal(r.status, 403);
  });

  it('an actual cross-origin answer, an error included, carries Allow-Origin and the exposed list', async () => {
    await oss.put('obj', Buffer.from('hello'));
    // Unsigned GET of a private object: 403 from authentication, still readable by the page.
    const r = await raw(server.endpoint, 'GET', '/cors-a/obj', { Origin: 'http://page.test' });
    assert.equal(r.status, 403);
    assert.equal(r.headers['access-control-allow-origin'], 'http://page.test');
    assert.equal(r.headers['access-control-expose-headers'], 'ETag, x-oss-hash-crc64ecma');
    const other = await raw(server.endpoint, 'GET', '/cors-a/obj', { Origin: 'http://evil.test' });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  it('PutBucketCors refuses rules OSS refuses (bad method, two wildcards, wildcard expose header) and keeps the old rules', async () => {
    for (const rule of [
      { allowedOrigin: ['*'], allowedMethod: ['PATCH'] },
      { allowedOrigin: ['http://*.*.test'], allowedMethod: ['GET'] },
      { allowedOrigin: ['*'], allowedMethod: ['GET'], exposeHeader: ['x-oss-meta-*'] },
    ]) {
      await assert.rejects(oss.putBucketCORS('cors-a', [rule]), (e: { status?: number }) => e.status === 400, JSON.stringify(rule));
    }
    assert.equal((await oss.getBucketCORS('cors-a')).rules.length, 1);
  });

  it('DeleteBucketCors removes the rules; preflights are refused again', async () => {
    await oss.deleteBucketCORS('cors-a');
    await assert.rejects(oss.getBucketCORS('cors-a'), (e: { status?: number }) => e.status === 404);
    const r = await raw(server.endpoint, 'OPTIONS', '/cors-a/x', { Origin: 'http://page.test', 'Access-Control-Request-Method': 'GET' });
    assert.equal(r.status, 403);
  });

  it('PutBucketCors on a missing bucket is NoSuchBucket', async () => {
    await assert.rejects(oss.putBucketCORS('cors-missing', [{ allowedOrigin: ['*'], allowedMethod: ['GET'] }]), (e: { code?: string }) => e.code === 'NoSuchBucket');
  });
});

describe('server CORS: the server-wide rule (serve --cors)', () => {
  it('`cors: "*"` answers any origin, any header, and exposes ETag, CRC-64, request id and every CSE header', async () => {
    const server = await startServer({ memory: true, buckets: ['wide'], cors: '*' });
    try {
      const r = await raw(server.endpoint, 'OPTIONS', '/wide/k', {
        Origin: 'http://localhost:9999',
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'authorization, x-oss-date, x-oss-meta-client-side-encryption-key',
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers['access-control-allow-origin'], '*');
      const exposed = (r.headers['access-control-expose-headers'] ?? '').split(', ');
      for (const h of ['ETag', 'x-oss-hash-crc64ecma', 'x-oss-request-id', 'Content-Range']) assert.ok(exposed.includes(h), h);
      for (const n of ['key', 'start', 'cek-alg', 'wrap-alg', 'matdesc', 'unencrypted-content-length', 'data-size', 'part-size']) {
        assert.ok(exposed.includes(`x-oss-meta-client-side-encryption-${n}`), n);
      }
      assert.deepEqual(exposed, [...CSE_EXPOSE_HEADERS]);
    } finally {
      await server.close();
    }
  });

  it('a named origin is answered and another is refused; a bucket rule overrides the server-wide one', async () => {
    const server = await startServer({ memory: true, buckets: ['wide'], cors: 'http://127.0.0.1:8080' });
    try {
      const ok = await raw(server.endpoint, 'OPTIONS', '/wide/k', { Origin: 'http://127.0.0.1:8080', 'Access-Control-Request-Method': 'GET' });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['access-control-allow-origin'], 'http://127.0.0.1:8080');
      const no = await raw(server.endpoint, 'OPTIONS', '/wide/k', { Origin: 'http://127.0.0.1:8081', 'Access-Control-Request-Method': 'GET' });
      assert.equal(no.status, 403);
      await client(server, 'wide').putBucketCORS('wide', [{ allowedOrigin: ['http://127.0.0.1:8081'], allowedMethod: ['GET'] }]);
      const now = await raw(server.endpoint, 'OPTIONS', '/wide/k', { Origin: 'http://127.0.0.1:8081', 'Access-Control-Request-Method': 'GET' });
      assert.equal(now.status, 200);
      const before = await raw(server.endpoint, 'OPTIONS', '/wide/k', { Origin: 'http://127.0.0.1:8080', 'Access-Control-Request-Method': 'GET' });
      assert.equal(before.status, 403);
    } finally {
      await server.close();
    }
  });

  it('bucket rules survive a restart on the same data directory and go with DeleteBucket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oss-cse-cors-'));
    try {
      let server = await startServer({ dataDir: dir, buckets: ['keep'] });
      await client(server, 'keep').putBucketCORS('keep', [{ allowedOrigin: ['http://a.test'], allowedMethod: ['GET'] }]);
      await server.close();
      server = await startServer({ dataDir: dir });
      const oss = client(server, 'keep');
      assert.equal((await oss.getBucketCORS('keep')).rules.length, 1);
      await oss.deleteBucket('keep');
      await oss.putBucket('keep');
      await assert.rejects(oss.getBucketCORS('keep'), (e: { status?: number }) => e.status === 404);
      await server.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('startServer refuses an origin with two wildcards', async () => {
    await assert.rejects(startServer({ memory: true, cors: 'http://*.*' }), /invalid CORS origin/);
  });
});

describe('oss-cse serve --cors ORIGIN (the CLI)', () => {
  it('answers preflights for that origin with the CSE headers exposed, and refuses other origins', async () => {
    const bin = new URL('../../bin/oss-cse.js', import.meta.url).pathname;
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [bin, 'serve', '--memory', '--bucket', 'cli-cors', '--cors', 'http://page.test'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m?.[1] !== undefined) resolve(m[1]);
        });
        child.once('exit', (code) => {
          reject(new Error(`serve exited ${String(code)}`));
        });
      });
      const ok = await raw(endpoint, 'OPTIONS', '/cli-cors/k', { Origin: 'http://page.test', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'x-oss-date' });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['access-control-allow-origin'], 'http://page.test');
      assert.deepEqual((ok.headers['access-control-expose-headers'] ?? '').split(', '), [...CSE_EXPOSE_HEADERS]);
      const no = await raw(endpoint, 'OPTIONS', '/cli-cors/k', { Origin: 'http://other.test', 'Access-Control-Request-Method': 'PUT' });
      assert.equal(no.status, 403);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
