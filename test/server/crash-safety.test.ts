/**
 * Crash safety of the on-disk store: a server process killed with SIGKILL in the middle of uploads restarts on the
 * same data directory serving exactly what it had acknowledged: no partial object, no half-overwritten object, no
 * half-uploaded part, and no leftover temporary files.
 */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import OSS from 'ali-oss';
import { startServer } from '../../server/src/index.js';
import { crc64Reference, md5Etag, testBytes } from './support/reference.js';

const CHILD = fileURLToPath(new URL('./fixtures/serve-child.ts', import.meta.url));
const CREDENTIALS = { accessKeyId: 'LTAIcrashTestKey0000001', accessKeySecret: 'crash-test-secret-0123456789ab' };

interface Child {
  readonly process: ChildProcess;
  readonly endpoint: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startChild(dataDir: string): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, CREDENTIALS.accessKeyId, CREDENTIALS.accessKeySecret], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      reject(new Error(`server child did not start: ${stderr}`));
    }, 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { endpoint: string }).endpoint);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`server child exited early: ${stderr}`));
    });
  });
  return { process: child, endpoint, exited };
}

function client(endpoint: string): any {
  return new OSS({ endpoint, region: 'oss-cn-hangzhou', bucket: 'crash', ...CREDENTIALS, timeout: 30_000 });
}

async function filesUnder(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push({ path, size: (await stat(path)).size });
  }
  return out;
}

/** A body that sends `sent` bytes of a declared `total` and then stalls until destroyed. */
function stalledBody(sent: Buffer): Readable {
  let pushed = false;
  return new Readable({
    read() {
      if (!pushed) {
        pushed = true;
        this.push(sent);
      }
    },
  });
}

describe('crash safety of the on-disk store', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('SIGKILL mid-upload leaves no partial object, part or temp file; acknowledged data survives', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'oss-cse-crash-'));
    dirs.push(dataDir);
    const first = await startChild(dataDir);
    const c = client(first.endpoint);

    const kept = testBytes(150_000, 1);
    const overV1 = testBytes(5_000, 2);
    await c.put('kept.bin', kept);
    await c.put('over.bin', overV1);
    const donePart1 = testBytes(102400, 3);
    const donePart2 = testBytes(10, 4);
    const done = await c.initMultipartUpload('mp-done.bin');
    const d1 = await c.uploadPart('mp-done.bin', done.uploadId, 1, donePart1, 0, donePart1.length);
    const d2 = await c.uploadPart('mp-done.bin', done.uploadId, 2, donePart2, 0, donePart2.length);
    await c.completeMultipartUpload('mp-done.bin', done.uploadId, [
      { number: 1, etag: d1.etag },
      { number: 2, etag: d2.etag },
    ]);
    const pending = await c.initMultipartUpload('mp-pending.bin');
    const pendingPart1 = testBytes(102400, 5);
    const p1 = await c.uploadPart('mp-pending.bin', pending.uploadId, 1, pendingPart1, 0, pendingPart1.length);

    // Three uploads that will never finish: a new object, an overwrite, and a second part.
    const declared = 4 * 1024 * 1024;
    const inFlight = [
      c.putStream('partial.bin', stalledBody(testBytes(256 * 1024, 6)), { contentLength: declared }),
      c.putStream('over.bin', stalledBody(testBytes(256 * 1024, 7)), { contentLength: declared }),
      c._uploadPart('mp-pending.bin', pending.uploadId, 2, { stream: stalledBody(testBytes(256 * 1024, 8)), size: declared }),
    ].map(async (p: Promise<unknown>) => p.then(() => 'finished', () => 'failed'));

    // Wait until all three bodies are arriving on disk, then kill without warning.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const temps = (await filesUnder(join(dataDir, 'tmp'))).filter((f) => f.path.endsWith('.body.tmp') && f.size > 0);
      if (temps.length >= 3) break;
      assert.ok(Date.now() < deadline, 'uploads did not reach the server');
      await new Promise((r) => setTimeout(r, 20));
    }
    first.process.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    assert.deepEqual(await Promise.all(inFlight), ['failed', 'failed', 'failed']);

    const second = await startChild(dataDir);
    try {
      const c2 = client(second.endpoint);
      const gotKept = await c2.get('kept.bin');
      assert.deepEqual(Buffer.from(gotKept.content), kept);
      assert.equal(gotKept.res.headers.etag, md5Etag(kept));
      assert.equal(gotKept.res.headers['x-oss-hash-crc64ecma'], crc64Reference(kept).toString());
      assert.deepEqual(Buffer.from((await c2.get('over.bin')).content), overV1);
      assert.deepEqual(Buffer.from((await c2.get('mp-done.bin')).content), Buffer.concat([donePart1, donePart2]));
      await assert.rejects(c2.head('partial.bin'), (e: any) => e.code === 'NoSuchKey');
      const parts = await c2.listParts('mp-pending.bin', pending.uploadId, {}, {});
      // ali-oss returns a lone part as an object, not an array.
      assert.deepEqual([parts.parts].flat().map((p: any) => [Number(p.PartNumber), p.ETag]), [[1, p1.etag]]);
      const listed = await c2.list({ 'max-keys': 100 }, {});
      assert.deepEqual(listed.objects.map((o: any) => o.name), ['kept.bin', 'mp-done.bin', 'over.bin']);
      // Restart cleaned up: no temp files, and every body file on disk belongs to an object or a part.
      assert.deepEqual(await filesUnder(join(dataDir, 'tmp')), []);
      const bodies = (await filesUnder(join(dataDir, 'buckets'))).filter((f) => f.path.endsWith('.body'));
      assert.equal(bodies.length, 3 + 1);
    } finally {
      second.process.kill('SIGTERM');
      assert.equal((await second.exited).code, 0);
    }
  });

  it('a data directory in use by a live server is refused; a clean restart serves the same objects', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'oss-cse-lock-'));
    dirs.push(dataDir);
    const a = await startServer({ dataDir, buckets: ['lock'], kms: false });
    await assert.rejects(startServer({ dataDir, kms: false }), /in use by process/);
    const ca: any = new OSS({ endpoint: a.endpoint, region: 'oss-cn-hangzhou', bucket: 'lock', ...a.credentials });
    await ca.put('x', Buffer.from('survives'));
    await a.close();
    const b = await startServer({ dataDir, kms: false });
    try {
      assert.deepEqual(b.credentials, a.credentials);
      assert.equal(b.credentialsGenerated, false);
      const cb: any = new OSS({ endpoint: b.endpoint, region: 'oss-cn-hangzhou', bucket: 'lock', ...b.credentials });
      assert.equal(Buffer.from((await cb.get('x')).content).toString(), 'survives');
    } finally {
      await b.close();
    }
  });
});
