/**
 * A full disk is answered, not reset (issue 14, item 7): ENOSPC in the on-disk store while a body streams in, or at
 * the commit, becomes a 507 `InsufficientStorage` OSS error document whose message says the server's disk is full;
 * the server logs it, leaves no partial body behind, stores nothing, and keeps serving. The ENOSPC comes from the
 * `disk-full` fault (server/src/faults-disk.ts), raised inside the store's own write pipeline.
 */

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OSS from 'ali-oss';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { testBytes } from './support/reference.js';

const BUCKET = 'diskfull';

describe('disk full (ENOSPC) in the on-disk store', () => {
  let dir: string;
  let server: RunningServer;
  let client: OSS;
  const logged: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oss-cse-diskfull-'));
    server = await startServer({ dataDir: dir, buckets: [BUCKET], kms: false, faults: {}, log: (line) => logged.push(line) });
    client = new OSS({ endpoint: server.endpoint, region: 'oss-cn-hangzhou', bucket: BUCKET, ...server.credentials, timeout: 20_000 });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function leftovers(): Promise<string[]> {
    return readdir(join(dir, 'tmp'));
  }

  async function rejection(call: Promise<unknown>): Promise<any> {
    try {
      await call;
    } catch (e) {
      return e;
    }
    assert.fail('the call succeeded on a full disk');
  }

  it('a PutObject whose body hits ENOSPC midway gets 507 InsufficientStorage saying the disk is full, and nothing is kept', async () => {
    logged.length = 0;
    server.faults!.set({ rules: [{ operations: ['PutObject'], fault: { kind: 'disk-full', afterBytes: 256 * 1024 } }] });
    const e = await rejection(client.put('big', testBytes(4 * 1024 * 1024, 1)));
    server.faults!.clear();
    assert.equal(e.status, 507, `${e.name}: ${e.message}`);
    assert.equal(e.code, 'InsufficientStorage');
    assert.match(e.message, /disk is full/);
    assert.match(e.requestId ?? '', /^[0-9A-F]{24}$/, 'an OSS error answer (request id), not a reset connection');
    assert.ok(logged.some((l) => /disk full \(ENOSPC\) on PUT \/big/.test(l)), `logged: ${logged.join(' | ')}`);
    assert.deepEqual(await leftovers(), [], 'the partial body was deleted');
    await assert.rejects(client.head('big'), (err: any) => err.status === 404);
    await client.put('big', Buffer.from('fits again'));
    assert.equal((await client.get('big')).content.toString(), 'fits again');
  });

  it('ENOSPC at the commit of a body that fit (PutObject, UploadPart, CompleteMultipartUpload) is 507 too', async () => {
    for (const operation of ['PutObject', 'UploadPart', 'CompleteMultipartUpload'] as const) {
      const key = `commit-${operation}`;
      const { uploadId } = await client.initMultipartUpload(key);
      const body = testBytes(100 * 1024, 2);
      let part: { etag: string } | undefined;
      if (operation === 'CompleteMultipartUpload') part = await client.uploadPart(key, uploadId, 1, body, 0, body.length);
      server.faults!.set({ rules: [{ operations: [operation], fault: { kind: 'disk-full', afterBytes: 10 * 1024 * 1024 } }] });
      const call =
        operation === 'PutObject'
          ? client.put(key, body)
          : operation === 'UploadPart'
            ? client.uploadPart(key, uploadId, 1, body, 0, body.length)
            : client.completeMultipartUpload(key, uploadId, [{ number: 1, etag: part!.etag }]);
      const e = await rejection(call);
      server.faults!.clear();
      assert.equal(e.status, 507, `${operation}: ${e.name}: ${e.message}`);
      assert.equal(e.code, 'InsufficientStorage', operation);
      assert.deepEqual(await leftovers(), [], `${operation}: nothing left in tmp/`);
      await client.abortMultipartUpload(key, uploadId);
    }
  });

  it('raw HTTP: the answer is a complete OSS error document, then the connection is closed (the rest of the body unread)', async () => {
    server.faults!.set({ rules: [{ operations: ['PutObject'], fault: { kind: 'disk-full', afterBytes: 0 } }] });
    // Path style on localhost: ali-oss presigns only for a host name.
    const signer = new OSS({ endpoint: `http://localhost:${server.port}`, sldEnable: true, region: 'oss-cn-hangzhou', bucket: BUCKET, ...server.credentials } as ConstructorParameters<typeof OSS>[0]);
    const presigned = new URL(signer.signatureUrl('raw', { method: 'PUT', expires: 300, 'Content-Type': 'application/octet-stream' }));
    presigned.hostname = '127.0.0.1';
    const url = presigned.toString();
    const answer = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request(url, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': 64 * 1024 * 1024 } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.on('error', (err) => {
        // Writing the rest of the body may fail once the server closes; the answer has arrived by then.
        if (!/EPIPE|ECONNRESET/.test(String(err))) reject(err);
      });
      req.write(Buffer.alloc(64 * 1024, 1));
    });
    server.faults!.clear();
    assert.equal(answer.status, 507);
    assert.equal(answer.headers.connection, 'close');
    assert.match(answer.body, /<Code>InsufficientStorage<\/Code>/);
    assert.match(answer.body, /<Message>The server disk is full: no space left/);
    assert.match(answer.body, /<Reason>ENOSPC<\/Reason>/);
  });
});
