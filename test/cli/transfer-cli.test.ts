// The CLI's parallel, resumable transfers (in process, against the embedded server with an endpoint): put/get with
// --part-size/--parallel, large files taking the parallel path by themselves, an interrupted put and get continued
// with --resume (default checkpoint under $OSS_CSE_HOME/checkpoints) and --checkpoint FILE, and bad flags.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { main } from '../../src/cli/main.js';
import { MULTIPART_UPLOAD_THRESHOLD, PARALLEL_DOWNLOAD_THRESHOLD, PARALLEL_THRESHOLD, useParallelTransfer } from '../../src/cli/transfer-options.js';
import { vectorKeys } from '../helpers/vectors.js';

const root = mkdtempSync(join(tmpdir(), 'oss-cse-transfer-cli-'));
const home = join(root, 'home');
let server: RunningServer;
let env: NodeJS.ProcessEnv;

before(async () => {
  server = await startServer({ memory: true, buckets: ['cli-transfer'], kms: false, faults: {} });
  env = {
    ...process.env,
    OSS_CSE_HOME: home,
    OSS_ENDPOINT: '',
    OSS_REGION: '',
    OSS_CSE_PUBLIC_KEY: '',
    OSS_CSE_PRIVATE_KEY: '',
    OSS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    OSS_ACCESS_KEY_SECRET: server.credentials.accessKeySecret,
  };
});

afterEach(() => {
  server.faults?.clear();
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: new Writable({
      write: (c: Buffer, _e, done) => {
        stdout += c.toString();
        done();
      },
    }),
    stderr: new Writable({
      write: (c: Buffer, _e, done) => {
        stderr += c.toString();
        done();
      },
    }),
    env,
  };
  const code = await main([...args, '--endpoint', server.endpoint, '--private-key', vectorKeys.privatePath()], io);
  return { code, stdout, stderr };
}

function bytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

test('put and get with --part-size and --parallel go through multipart upload and ranged download', async () => {
  const data = bytes(5 * 102_400 + 99, 1);
  const file = join(root, 'flags.bin');
  writeFileSync(file, data);
  let r = await cli('put', file, 'oss://cli-transfer/flags.bin', '--part-size', '100KiB', '--parallel', '2', '--json');
  assert.equal(r.code, 0, r.stderr);
  const put = JSON.parse(r.stdout);
  assert.equal(put.method, 'multipart');
  assert.equal(put.parts, 6);
  assert.equal(put.partSize, 102_400);
  assert.equal(put.envelope.partSize, 102_400);
  const out = join(root, 'flags.out');
  r = await cli('get', 'oss://cli-transfer/flags.bin', out, '--part-size', '65536', '--parallel', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.parts, Math.ceil(data.length / 65_536));
  assert.equal(got.resumed, false);
  assert.ok(readFileSync(out).equals(data));
  r = await cli('get', 'oss://cli-transfer/flags.bin', join(root, 'flags.txt.out'), '--parallel', '2');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /downloaded 512099 bytes .* \(decrypted; 1 range\)/);
});

test('below the measured thresholds a 32 MiB file goes up in one PUT and comes back in one GET without flags', async () => {
  const data = bytes(32 * 1024 * 1024 + 5, 2);
  const file = join(root, 'large.bin');
  writeFileSync(file, data);
  let r = await cli('put', file, 'oss://cli-transfer/large.bin', '--json');
  assert.equal(r.code, 0, r.stderr);
  const put = JSON.parse(r.stdout);
  assert.equal(put.uploadId, undefined, 'one PutObject: no multipart upload id');
  assert.equal(put.parts, undefined);
  assert.equal(put.size, data.length);
  const out = join(root, 'large.out');
  r = await cli('get', 'oss://cli-transfer/large.bin', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.parts, undefined, 'one GET, not ranged parts');
  assert.equal(got.size, data.length);
  assert.ok(readFileSync(out).equals(data));
  rmSync(file);
  rmSync(out);
});

test('useParallelTransfer: flags force the parallel path; otherwise the size decides at each direction\'s threshold', () => {
  const none = { explicit: false };
  assert.equal(useParallelTransfer('upload', MULTIPART_UPLOAD_THRESHOLD - 1, none), false);
  assert.equal(useParallelTransfer('upload', MULTIPART_UPLOAD_THRESHOLD, none), true);
  assert.equal(useParallelTransfer('download', PARALLEL_DOWNLOAD_THRESHOLD - 1, none), false);
  assert.equal(useParallelTransfer('download', PARALLEL_DOWNLOAD_THRESHOLD, none), true);
  assert.equal(useParallelTransfer('download', undefined, none), false);
  assert.equal(useParallelTransfer('upload', 1, { explicit: true }), true);
  assert.equal(useParallelTransfer('download', undefined, { explicit: true }), true);
  assert.equal(PARALLEL_THRESHOLD, Math.min(MULTIPART_UPLOAD_THRESHOLD, PARALLEL_DOWNLOAD_THRESHOLD));
});

test('an interrupted put continues with --resume; the default checkpoint is gone afterwards', async () => {
  const data = bytes(6 * 102_400, 3);
  const file = join(root, 'resume.bin');
  writeFileSync(file, data);
  // Parallel 1: matches 3..6 are part 3's four attempts (three retries): it fails for good.
  server.faults?.set({ rules: [{ fault: 'internal-error', operations: ['UploadPart'], key: 'resume.bin', nth: [3, 4, 5, 6] }] });
  let r = await cli('put', file, 'oss://cli-transfer/resume.bin', '--part-size', '100KiB', '--parallel', '1', '--resume');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error \[ERR_CSE_MULTIPART\]: .*part 3: .*resume it with the checkpoint/);
  const checkpoints = join(home, 'checkpoints');
  assert.equal(readdirSync(checkpoints).length, 1);
  const saved = readFileSync(join(checkpoints, readdirSync(checkpoints)[0] ?? ''), 'utf8');
  assert.equal(JSON.parse(saved).parts.length, 2);
  server.faults?.clear();
  r = await cli('put', file, 'oss://cli-transfer/resume.bin', '--part-size', '100KiB', '--resume', '--json');
  assert.equal(r.code, 0, r.stderr);
  const put = JSON.parse(r.stdout);
  assert.equal(put.resumed, true);
  assert.equal(put.partsSent, 4);
  assert.deepEqual(readdirSync(checkpoints), []);
  const out = join(root, 'resume.out');
  r = await cli('get', 'oss://cli-transfer/resume.bin', out);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(out).equals(data));
});

test('an interrupted get continues with --checkpoint FILE and fetches only the missing ranges', async () => {
  const data = bytes(4 * 102_400 + 1, 4);
  const file = join(root, 'dl.bin');
  writeFileSync(file, data);
  let r = await cli('put', file, 'oss://cli-transfer/dl.bin', '--part-size', '100KiB');
  assert.equal(r.code, 0, r.stderr);
  const out = join(root, 'dl.out');
  const checkpoint = join(root, 'dl.checkpoint.json');
  server.faults?.set({ rules: [{ fault: 'service-unavailable', operations: ['GetObject'], key: 'dl.bin', nth: [3, 4, 5, 6] }] });
  r = await cli('get', 'oss://cli-transfer/dl.bin', out, '--part-size', '100000', '--parallel', '1', '--checkpoint', checkpoint);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error \[ERR_CSE_TRANSFER\]: .*range 3: .*resume it with the checkpoint/);
  assert.equal(existsSync(out), false);
  server.faults?.clear();
  r = await cli('get', 'oss://cli-transfer/dl.bin', out, '--part-size', '100000', '--checkpoint', checkpoint, '--json');
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.resumed, true);
  assert.equal(got.partsFetched, got.parts - 2);
  assert.ok(readFileSync(out).equals(data));
  assert.equal(existsSync(checkpoint), false);
});

test('bad transfer flags are usage errors', async () => {
  const file = join(root, 'usage.bin');
  writeFileSync(file, 'x');
  for (const args of [
    ['put', file, 'oss://cli-transfer/u', '--part-size', 'lots'],
    ['put', file, 'oss://cli-transfer/u', '--part-size', '0'],
    ['put', file, 'oss://cli-transfer/u', '--parallel', '0'],
    ['put', file, 'oss://cli-transfer/u', '--parallel', '65'],
    ['put', file, 'oss://cli-transfer/u', '--resume', '--checkpoint', join(root, 'c.json')],
    ['put', '-', 'oss://cli-transfer/u', '--parallel', '2'],
    ['get', 'oss://cli-transfer/u', join(root, 'u.out'), '--range', '0-1', '--parallel', '2'],
    ['get', 'oss://cli-transfer/u', '-', '--resume'],
  ]) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  const r = await cli('put', file, 'oss://cli-transfer/u', '--part-size', '100001');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ERR_CSE_INVALID_ARGUMENT.*multiple of 16/);
});
