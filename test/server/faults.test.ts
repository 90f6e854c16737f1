/**
 * Fault injection in the embedded server (issue 9, item 1): each fault kind, driven through the real `ali-oss`
 * client, is observable exactly as documented in CONFORMANCE.md "Fault injection (test-only)", and leaves stored
 * state as the real failure would.
 */

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import OSS from 'ali-oss';
import { startServer, type FaultController, type FaultPlan, type RunningServer } from '../../server/src/index.js';
import { crc64Reference, md5Etag, testBytes } from './support/reference.js';

const BUCKET = 'faults';

interface Armed {
  readonly server: RunningServer;
  readonly faults: FaultController;
  /** What the server logged (unexpected internal errors); must stay empty. */
  readonly logged: string[];
  readonly client: any;
}

async function arm(plan: FaultPlan = {}, dataDir?: string): Promise<Armed> {
  const logged: string[] = [];
  const server = await startServer({
    ...(dataDir === undefined ? { memory: true } : { dataDir }),
    buckets: [BUCKET],
    kms: false,
    faults: plan,
    log: (line) => logged.push(line),
  });
  assert.ok(server.faults !== undefined);
  const client = new OSS({
    endpoint: server.endpoint,
    region: 'oss-cn-hangzhou',
    bucket: BUCKET,
    ...server.credentials,
    authorizationV4: true,
    secure: false,
    timeout: 20_000,
  });
  return { server, faults: server.faults, logged, client };
}

async function rejection(call: Promise<unknown>): Promise<any> {
  try {
    await call;
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

/** A broken connection as Node reports it to `ali-oss` (reset, or closed before the declared length). */
function assertBrokenConnection(error: any): void {
  const text = `${error?.code ?? ''} ${error?.name ?? ''} ${error?.message ?? ''}`;
  assert.match(text, /ECONNRESET|EPIPE|socket hang up|aborted/i, `expected a broken connection, got: ${text.slice(0, 300)}`);
}

async function drain(stream: Readable): Promise<{ bytes: Buffer; error: any }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { bytes: Buffer.concat(chunks), error: undefined };
  } catch (e) {
    return { bytes: Buffer.concat(chunks), error: e };
  }
}

const SIZE = 256 * 1024;
const BODY = testBytes(SIZE, 9);

describe('fault kinds through ali-oss', () => {
  let a: Armed;
  before(async () => {
    a = await arm();
    await a.client.put('obj', BODY);
  });
  after(async () => {
    assert.deepEqual(a.logged, [], 'no unexpected internal errors');
    await a.server.close();
  });

  it('internal-error answers 500 InternalError before the operation runs, so nothing is stored', async () => {
    a.faults.set({ rules: [{ operations: ['PutObject'], fault: 'internal-error' }] });
    const e = await rejection(a.client.put('err/put', BODY));
    assert.equal(e.status, 500);
    assert.equal(e.code, 'InternalError');
    assert.match(e.requestId, /^[0-9A-F]{24}$/);
    a.faults.clear();
    assert.equal((await rejection(a.client.head('err/put'))).status, 404);
  });

  it('service-unavailable answers 503 ServiceUnavailable, also on HEAD through x-oss-err', async () => {
    a.faults.set({ rules: [{ operations: ['GetObject', 'HeadObject'], fault: 'service-unavailable' }] });
    const get = await rejection(a.client.get('obj'));
    assert.equal(get.status, 503);
    assert.equal(get.code, 'ServiceUnavailable');
    const head = await rejection(a.client.head('obj'));
    assert.equal(head.status, 503);
    assert.equal(head.code, 'ServiceUnavailable');
    a.faults.clear();
  });

  it('internal-error with afterCommit stores the object and still answers 500', async () => {
    a.faults.set({ rules: [{ operations: ['PutObject'], fault: { kind: 'internal-error', afterCommit: true } }] });
    const e = await rejection(a.client.put('err/committed', BODY));
    assert.equal(e.code, 'InternalError');
    a.faults.clear();
    const got = await a.client.get('err/committed');
    assert.ok(Buffer.from(got.content).equals(BODY));
  });

  it('lost-response commits CompleteMultipartUpload, resets the connection, and a retry finds NoSuchUpload', async () => {
    const part = testBytes(100 * 1024, 3);
    const init = await a.client.initMultipartUpload('lost/mp');
    const p1 = await a.client.uploadPart('lost/mp', init.uploadId, 1, part, 0, part.length);
    const p2 = await a.client.uploadPart('lost/mp', init.uploadId, 2, part, 0, part.length);
    const parts = [
      { number: 1, etag: p1.etag },
      { number: 2, etag: p2.etag },
    ];
    a.faults.set({ rules: [{ operations: ['CompleteMultipartUpload'], fault: 'lost-response' }] });
    assertBrokenConnection(await rejection(a.client.completeMultipartUpload('lost/mp', init.uploadId, parts)));
    a.faults.clear();
    const head = await a.client.head('lost/mp');
    assert.equal(head.res.headers['content-length'], String(2 * part.length));
    assert.equal((await rejection(a.client.completeMultipartUpload('lost/mp', init.uploadId, parts))).code, 'NoSuchUpload');
  });

  it('reset-request cuts a PutObject mid-upload with a connection reset and stores nothing', async () => {
    a.faults.set({ rules: [{ operations: ['PutObject'], fault: { kind: 'reset-request', afterBytes: 64 * 1024 } }] });
    assertBrokenConnection(await rejection(a.client.put('reset/put', BODY)));
    a.faults.clear();
    assert.equal((await rejection(a.client.head('reset/put'))).status, 404);
  });

  it('reset-request cuts an UploadPart and the part is not listed', async () => {
    const init = await a.client.initMultipartUpload('reset/mp');
    const part = testBytes(100 * 1024, 4);
    await a.client.uploadPart('reset/mp', init.uploadId, 1, part, 0, part.length);
    a.faults.set({ rules: [{ operations: ['UploadPart'], fault: { kind: 'reset-request', afterBytes: 1000 } }] });
    assertBrokenConnection(await rejection(a.client.uploadPart('reset/mp', init.uploadId, 2, part, 0, part.length)));
    a.faults.clear();
    const listed = await a.client.listParts('reset/mp', init.uploadId);
    // ali-oss gives a single part as an object rather than a list.
    assert.deepEqual(
      [listed.parts].flat().map((p: any) => Number(p.PartNumber)),
      [1],
    );
    await a.client.abortMultipartUpload('reset/mp', init.uploadId);
  });

  it('reset-response delivers at most afterBytes of the body, then the connection resets', async () => {
    a.faults.set({ rules: [{ operations: ['GetObject'], fault: { kind: 'reset-response', afterBytes: 100_000 } }] });
    const { stream, res } = await a.client.getStream('obj');
    assert.equal(res.headers['content-length'], String(SIZE));
    const { bytes, error } = await drain(stream);
    assertBrokenConnection(error);
    assert.ok(bytes.length <= 100_000, `received ${bytes.length} bytes`);
    assert.ok(bytes.equals(BODY.subarray(0, bytes.length)), 'what arrived is a prefix of the object');
    a.faults.clear();
  });

  it('truncate sends fewer bytes than the correct Content-Length, then closes; only counting shows it', async () => {
    a.faults.set({ rules: [{ operations: ['GetObject'], fault: { kind: 'truncate', keepBytes: 12_345 } }] });
    const { stream, res } = await a.client.getStream('obj');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(SIZE), 'the declared length is the real one');
    const got = await drain(stream);
    assert.equal(got.bytes.length, 12_345);
    assert.ok(got.bytes.equals(BODY.subarray(0, 12_345)));
    assertBrokenConnection(got.error); // Node notices the missing bytes; a client must too
    a.faults.set({ rules: [{ operations: ['GetObject'], fault: 'truncate' }] });
    const half = await drain((await a.client.getStream('obj')).stream);
    assert.equal(half.bytes.length, SIZE / 2, 'default: half the body');
    assertBrokenConnection(half.error);
    a.faults.clear();
  });

  it('slow delays the headers and throttles the body, within its bounds', async () => {
    a.faults.set({ rules: [{ operations: ['GetObject'], fault: { kind: 'slow', delayMs: 300, bytesPerSecond: 512 * 1024 } }] });
    let started = Date.now();
    const got = await a.client.get('obj');
    const elapsed = Date.now() - started;
    assert.ok(Buffer.from(got.content).equals(BODY));
    // 300 ms before the headers + 256 KiB at 512 KiB/s ≈ 800 ms.
    assert.ok(elapsed >= 700, `took ${elapsed} ms`);
    a.faults.set({ rules: [{ operations: ['GetObject'], fault: { kind: 'slow', delayMs: 0, bytesPerSecond: 1, maxThrottleMs: 200 } }] });
    started = Date.now();
    const bounded = await a.client.get('obj');
    assert.ok(Buffer.from(bounded.content).equals(BODY));
    assert.ok(Date.now() - started < 3_000, 'throttling stops at maxThrottleMs');
    a.faults.clear();
  });

  it('wrong-crc changes x-oss-hash-crc64ecma on PutObject, GetObject, HeadObject and UploadPart, not the bytes', async () => {
    const real = crc64Reference(BODY).toString();
    a.faults.set({ rules: [{ fault: 'wrong-crc' }] });
    const put = await a.client.put('crc/obj', BODY);
    assert.match(put.res.headers['x-oss-hash-crc64ecma'], /^\d+$/);
    assert.notEqual(put.res.headers['x-oss-hash-crc64ecma'], real);
    const get = await a.client.get('crc/obj');
    assert.notEqual(get.res.headers['x-oss-hash-crc64ecma'], real);
    assert.ok(Buffer.from(get.content).equals(BODY));
    const head = await a.client.head('crc/obj');
    assert.notEqual(head.res.headers['x-oss-hash-crc64ecma'], real);
    const init = await a.client.initMultipartUpload('crc/mp');
    const part = await a.client.uploadPart('crc/mp', init.uploadId, 1, BODY, 0, BODY.length);
    assert.notEqual(part.res.headers['x-oss-hash-crc64ecma'], real);
    a.faults.clear();
    assert.equal((await a.client.head('crc/obj')).res.headers['x-oss-hash-crc64ecma'], real);
    await a.client.abortMultipartUpload('crc/mp', init.uploadId);
  });

  it('wrong-etag lies in the ETag header only: If-Match with the real tag still succeeds', async () => {
    const real = md5Etag(BODY);
    a.faults.set({ rules: [{ operations: ['HeadObject', 'GetObject'], fault: 'wrong-etag' }] });
    const head = await a.client.head('obj');
    assert.notEqual(head.res.headers.etag, real);
    assert.match(head.res.headers.etag, /^"[0-9A-F]{32}"$/);
    const got = await a.client.get('obj', { headers: { 'If-Match': real } });
    assert.ok(Buffer.from(got.content).equals(BODY));
    a.faults.clear();
  });

  it('replace-object changes the object between ranged GETs: If-Match with the old ETag fails with 412', async () => {
    await a.client.put('mid/obj', BODY);
    const first = await a.client.get('mid/obj', { headers: { Range: 'bytes=0-65535' } });
    const etag = first.res.headers.etag;
    assert.equal(etag, md5Etag(BODY));
    a.faults.set({ rules: [{ operations: ['GetObject'], key: 'mid/obj', fault: 'replace-object', times: 1 }] });
    const second = await rejection(a.client.get('mid/obj', { headers: { Range: 'bytes=65536-131071', 'If-Match': etag } }));
    assert.equal(second.status, 412);
    assert.equal(second.code, 'PreconditionFailed');
    a.faults.clear();
    const now = await a.client.get('mid/obj');
    const flipped = Buffer.from(BODY.map((b) => b ^ 0xff));
    assert.ok(Buffer.from(now.content).equals(flipped), 'the object was replaced by its flipped bytes');
    assert.equal(now.res.headers.etag, md5Etag(flipped));
    assert.equal(now.res.headers['x-oss-hash-crc64ecma'], crc64Reference(flipped).toString());
  });

  it('lying-range answers another range with a matching Content-Range', async () => {
    a.faults.set({ rules: [{ operations: ['GetObject'], fault: { kind: 'lying-range', shift: 10 } }] });
    const got = await a.client.get('obj', { headers: { Range: 'bytes=100-199' } });
    assert.equal(got.res.status, 206);
    assert.equal(got.res.headers['content-range'], `bytes 110-209/${SIZE}`);
    assert.ok(Buffer.from(got.content).equals(BODY.subarray(110, 210)));
    // At the end of the object the range moves the other way.
    const tail = await a.client.get('obj', { headers: { Range: `bytes=${SIZE - 50}-${SIZE - 1}` } });
    assert.equal(tail.res.headers['content-range'], `bytes ${SIZE - 60}-${SIZE - 11}/${SIZE}`);
    a.faults.clear();
  });

  it('extra-bytes sends a chunked body longer than the object and its Content-Range', async () => {
    a.faults.set({ rules: [{ operations: ['GetObject'], fault: { kind: 'extra-bytes', count: 7 } }] });
    const { stream, res } = await a.client.getStream('obj', { headers: { Range: 'bytes=0-999' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers['content-length'], undefined);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.headers['content-range'], `bytes 0-999/${SIZE}`);
    const ranged = await drain(stream);
    assert.equal(ranged.error, undefined);
    assert.equal(ranged.bytes.length, 1007);
    assert.ok(ranged.bytes.subarray(0, 1000).equals(BODY.subarray(0, 1000)));
    const got = await a.client.get('obj');
    assert.equal(got.content.length, SIZE + 7);
    a.faults.clear();
  });

  it('body faults never touch error answers; they are logged as not applied', async () => {
    a.faults.resetLog();
    a.faults.set({ rules: [{ operations: ['GetObject'], fault: 'truncate' }] });
    const e = await rejection(a.client.get('no/such/key'));
    assert.equal(e.code, 'NoSuchKey');
    const [entry] = a.faults.log();
    assert.equal(entry?.kind, 'truncate');
    assert.equal(entry.applied, false);
    a.faults.clear();
  });
});

describe('fault injection on the disk store', () => {
  let dir: string;
  let a: Armed;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oss-cse-faults-'));
    a = await arm({}, dir);
  });
  after(async () => {
    await a.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a reset during upload leaves no object and no temporary body behind', async () => {
    await a.client.put('keep', BODY);
    a.faults.set({ rules: [{ operations: ['PutObject'], fault: { kind: 'reset-request', afterBytes: 100_000 } }] });
    assertBrokenConnection(await rejection(a.client.put('keep', testBytes(SIZE, 77))));
    assertBrokenConnection(await rejection(a.client.put('gone', BODY)));
    a.faults.clear();
    const kept = await a.client.get('keep');
    assert.ok(Buffer.from(kept.content).equals(BODY), 'the previous version is intact');
    assert.equal((await rejection(a.client.head('gone'))).status, 404);
    let temps: string[] = [];
    for (let i = 0; i < 50; i++) {
      temps = (await readdir(join(dir, 'tmp'))).filter((n) => n.endsWith('.tmp'));
      if (temps.length === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(temps, []);
    assert.deepEqual(a.logged, []);
  });
});
