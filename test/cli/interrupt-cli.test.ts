// Ctrl-C during `put` and `get`, through the real bin/oss-cse.js (built into dist/ by `npm test`) against an embedded
// server started here (its parts slowed down so that the signal lands mid-way): SIGINT aborts the client calls, the
// command exits 130 (128 + SIGINT, as shells report it) with one `error [ERR_CSE_ABORTED]: interrupted by SIGINT: …` line, and leaves nothing behind: no
// object and no unfinished multipart upload without a checkpoint; with --checkpoint the upload is kept and the same
// command continues it; an interrupted get leaves no file and no temporary file.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { BIN, cliEnv, runCli, type CliResult } from '../helpers/cli.js';
import { vectorKeys } from '../helpers/vectors.js';
import { ossFor } from '../transfer/support.js';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';

const BUCKET = 'transfer-tests';
const root = mkdtempSync(join(tmpdir(), 'oss-cse-interrupt-'));
const KIB100 = 102_400;
const data = Buffer.alloc(40 * KIB100, 7).map((_, i) => (i * 31 + (i >> 10)) & 0xff);
const file = join(root, 'big.bin');
/** Parts take this long each on the server: 40 parts, 2 at a time, take ~4 s; the signal comes well before. */
const PART_DELAY_MS = 200;
let server: RunningServer;
let client: EncryptionClient;
let env: NodeJS.ProcessEnv;

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET], kms: false, faults: {} });
  client = new EncryptionClient(ossFor(server), { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
  writeFileSync(file, data);
  env = cliEnv(server, join(root, 'home'));
});

afterEach(() => {
  server.faults?.clear();
  server.faults?.resetLog();
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

function online(args: readonly string[]): string[] {
  return [...args, '--endpoint', server.endpoint, '--private-key', vectorKeys.privatePath()];
}

/** Runs the CLI and sends it SIGINT once the server has seen `requests` requests of `operation` on `key`. */
async function interrupted(args: readonly string[], operation: 'UploadPart' | 'GetObject', key: string, requests: number): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...online(args)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const seen = (): number => (server.faults?.log() ?? []).filter((e) => e.operation === operation && e.key === key).length;
  const deadline = Date.now() + 30_000;
  while (seen() < requests && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(child.exitCode, null, `the command ended before it was interrupted: ${stderr}`);
  assert.ok(seen() >= requests, 'the transfer did not get going');
  child.kill('SIGINT');
  const code = await exited;
  return { code, stdout, stderr };
}

async function uploads(key: string): Promise<readonly { uploadId: string }[]> {
  return (await client.listUploads({ prefix: key })).uploads;
}

async function exists(key: string): Promise<boolean> {
  try {
    await client.head(key);
    return true;
  } catch {
    return false;
  }
}

/**
 * The one error line, last on stderr. urllib (under ali-oss) may print a `[urllib:warn] … callback twice!!!` block
 * before it when a request is destroyed by the abort just as its response completes: that is not ours to print, but
 * it is not an error line either; only one `error […]` line may appear.
 */
function assertAbortedLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.filter((l) => l.startsWith('error')).length, 1, stderr);
  const last = lines.at(-1) ?? '';
  assert.match(last, /^error \[ERR_CSE_ABORTED\]: interrupted by SIGINT[ :]/);
  assert.ok(stderr.endsWith(`${last}\n`));
  return last;
}

test('Ctrl-C during a multipart put aborts the upload on OSS: exit 130, one error line, no object, no upload left', async () => {
  const key = 'interrupt/put';
  server.faults?.set({ rules: [{ fault: { kind: 'slow', delayMs: PART_DELAY_MS }, operations: ['UploadPart'], key }] });
  const r = await interrupted(['put', file, `oss://${BUCKET}/${key}`, '--part-size', '100KiB', '--parallel', '2'], 'UploadPart', key, 3);
  assert.equal(r.code, 130, r.stderr);
  assert.match(assertAbortedLine(r.stderr), /multipart upload \S+ of oss:\/\/transfer-tests\/interrupt\/put was stopped by its abort signal after \d+ of 40 parts; upload \S+ was aborted on OSS; no object was written/);
  assert.equal(r.stdout, '');
  assert.equal(await exists(key), false);
  assert.deepEqual(await uploads(key), []);
});

test('Ctrl-C during a put with --checkpoint keeps the upload, and the same command continues it', async () => {
  const key = 'interrupt/put-checkpoint';
  const checkpoint = join(root, 'put.checkpoint.json');
  const args = ['put', file, `oss://${BUCKET}/${key}`, '--part-size', '100KiB', '--parallel', '2', '--checkpoint', checkpoint];
  server.faults?.set({ rules: [{ fault: { kind: 'slow', delayMs: PART_DELAY_MS }, operations: ['UploadPart'], key }] });
  const r = await interrupted(args, 'UploadPart', key, 3);
  assert.equal(r.code, 130, r.stderr);
  assert.match(assertAbortedLine(r.stderr), /^error \[ERR_CSE_ABORTED\]: interrupted by SIGINT \(run the same command again to continue\): .*is kept: resume it with the checkpoint \S*put\.checkpoint\.json/);
  assert.equal(await exists(key), false);
  assert.equal((await uploads(key)).length, 1, 'the upload is kept');
  assert.ok(JSON.parse(readFileSync(checkpoint, 'utf8')).parts.length >= 1);
  server.faults?.clear();
  const again = await runCli([...online(args), '--json'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).resumed, true);
  assert.ok((await client.get(key)).content.equals(data));
  assert.deepEqual(await uploads(key), []);
  assert.equal(existsSync(checkpoint), false);
});

test('Ctrl-C during a parallel get leaves no file and no temporary file', async () => {
  const key = 'interrupt/get';
  await client.put(key, data);
  const dir = join(root, 'get');
  mkdirSync(dir);
  server.faults?.set({ rules: [{ fault: { kind: 'slow', delayMs: PART_DELAY_MS }, operations: ['GetObject'], key }] });
  const r = await interrupted(['get', `oss://${BUCKET}/${key}`, join(dir, 'out.bin'), '--part-size', '100KiB', '--parallel', '2'], 'GetObject', key, 3);
  assert.equal(r.code, 130, r.stderr);
  assert.match(assertAbortedLine(r.stderr), /download of oss:\/\/transfer-tests\/interrupt\/get was aborted/);
  assert.deepEqual(readdirSync(dir), []);
});
