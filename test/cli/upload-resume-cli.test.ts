// A multipart upload started with only a public key can always be finished or cleaned up (issue 14, item 3), through
// the real bin/oss-cse.js against an embedded server whose UploadPart answers are slowed so that a SIGKILL lands
// mid-upload: put says at the start that resuming needs the private key (by fingerprint); the rerun with only the
// public key fails naming that key's --private-key or --restart and keeps the upload; --private-key finishes it,
// --restart aborts it and starts over; a recorded upload gone from OSS is reported complete when the object holds its
// envelope and size (nothing sent), refused when the object holds anything else, and started again (said on stderr)
// when there is no object; `uploads ls` / `uploads abort` list and clean up unfinished uploads.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { BIN, cliEnv, runCli, type CliResult } from '../helpers/cli.js';
import { vectorKeys } from '../helpers/vectors.js';
import { ossFor } from '../transfer/support.js';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';

const BUCKET = 'transfer-tests';
const root = mkdtempSync(join(tmpdir(), 'oss-cse-upload-resume-'));
const KIB100 = 102_400;
const data = Buffer.alloc(24 * KIB100 + 5).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
const file = join(root, 'big.bin');
const FINGERPRINT = createHash('sha256')
  .update(createPublicKey(vectorKeys.publicSpki()).export({ type: 'spki', format: 'der' }))
  .digest('hex');
const SENDING = new Set(['PutObject', 'InitiateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'CopyObject']);
let server: RunningServer;
let client: EncryptionClient;
let oss: ReturnType<typeof ossFor>;
let env: NodeJS.ProcessEnv;

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET], kms: false, faults: {} });
  oss = ossFor(server);
  client = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
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

function withPublic(args: readonly string[]): string[] {
  return [...args, '--endpoint', server.endpoint, '--public-key', vectorKeys.publicPath()];
}
function withPrivate(args: readonly string[]): string[] {
  return [...args, '--endpoint', server.endpoint, '--private-key', vectorKeys.privatePath()];
}

function putArgs(key: string, checkpoint: string): string[] {
  return ['put', file, `oss://${BUCKET}/${key}`, '--part-size', '100KiB', '--parallel', '2', '--checkpoint', checkpoint];
}

function recordedParts(checkpoint: string): number {
  try {
    return (JSON.parse(readFileSync(checkpoint, 'utf8')) as { parts: unknown[] }).parts.length;
  } catch {
    return 0;
  }
}

/** Runs a put with only the public key and SIGKILLs it once its checkpoint records two parts; returns its stderr. */
async function killedPut(key: string, checkpoint: string): Promise<string> {
  server.faults?.set({ rules: [{ fault: { kind: 'slow', delayMs: 150 }, operations: ['UploadPart'], key }] });
  const child = spawn(process.execPath, [BIN, ...withPublic(putArgs(key, checkpoint))], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.resume();
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (recordedParts(checkpoint) < 2 && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(child.exitCode, null, `the put ended before it was killed: ${stderr}`);
  child.kill('SIGKILL');
  await exited;
  server.faults?.clear();
  return stderr;
}

async function pending(key: string): Promise<string[]> {
  return (await client.listUploads({ prefix: key })).uploads.filter((u) => u.key === key).map((u) => u.uploadId);
}

async function content(key: string): Promise<Buffer> {
  return (await client.get(key)).content;
}

/** Runs the CLI and says whether it sent any data (uploads, puts, copies) to the server. */
async function runCounted(args: readonly string[]): Promise<CliResult & { sent: string[] }> {
  server.faults?.resetLog();
  const r = await runCli(args, env);
  const sent = (server.faults?.log() ?? []).filter((e) => SENDING.has(e.operation)).map((e) => e.operation);
  return { ...r, sent };
}

function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.startsWith('error'));
  assert.equal(lines.length, 1, stderr);
  return lines[0] ?? '';
}

test('a public-key-only put says resuming needs the private key; a killed one is resumed by --private-key, not by the public key', async () => {
  const key = 'resume/public-only';
  const checkpoint = join(root, 'public-only.json');
  const started = await killedPut(key, checkpoint);
  const notes = started.split('\n').filter((l) => l.includes('resuming it will need the private key'));
  assert.equal(notes.length, 1, `said once at the start: ${started}`);
  assert.ok(notes[0]?.includes(FINGERPRINT), notes[0]);
  const [uploadId] = await pending(key);
  assert.ok(uploadId !== undefined, 'the killed upload is on OSS');
  assert.equal((JSON.parse(readFileSync(checkpoint, 'utf8')) as { wrappedBy: { fingerprint: string } }).wrappedBy.fingerprint, FINGERPRINT);

  // The same command again: it cannot unwrap; the error says exactly what to do, nothing is sent, the upload is kept.
  let r = await runCounted(withPublic(putArgs(key, checkpoint)));
  assert.equal(r.code, 1, r.stderr);
  const line = oneErrorLine(r.stderr);
  assert.match(line, /^error \[ERR_CSE_(NO_MATCHING_KEY|KEY_UNUSABLE)\]: cannot resume upload \S+ of oss:\/\/transfer-tests\/resume\/public-only recorded in /);
  assert.ok(line.includes(`--private-key FILE (the private key of fingerprint ${FINGERPRINT}`), line);
  assert.ok(line.includes('--restart'), line);
  assert.deepEqual(r.sent, []);
  assert.deepEqual(await pending(key), [uploadId]);
  assert.ok(existsSync(checkpoint));

  // With the private key of that pair it finishes, sending only the missing parts.
  r = await runCounted([...withPrivate(putArgs(key, checkpoint)), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { resumed: boolean; partsSent: number; parts: number; uploadId: string };
  assert.equal(out.resumed, true);
  assert.equal(out.uploadId, uploadId);
  assert.ok(out.partsSent < out.parts);
  assert.ok((await content(key)).equals(data));
  assert.deepEqual(await pending(key), []);
  assert.equal(existsSync(checkpoint), false);
});

test('--restart aborts the recorded upload on OSS, deletes the checkpoint and uploads from the start with the public key alone', async () => {
  const key = 'resume/restart';
  const checkpoint = join(root, 'restart.json');
  await killedPut(key, checkpoint);
  const [old] = await pending(key);
  assert.ok(old !== undefined);
  const r = await runCounted([...withPublic(putArgs(key, checkpoint)), '--restart', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`--restart: aborted upload ${old} recorded in `));
  const out = JSON.parse(r.stdout) as { resumed: boolean; uploadId: string };
  assert.equal(out.resumed, false);
  assert.notEqual(out.uploadId, old);
  assert.deepEqual(await pending(key), [], 'the old upload is aborted, the new one completed');
  assert.equal(existsSync(checkpoint), false);
  assert.ok((await content(key)).equals(data));
  const usage = await runCli(withPublic(['put', file, `oss://${BUCKET}/${key}`, '--restart']), env);
  assert.equal(usage.code, 2, usage.stderr);
});

test('a recorded upload gone from OSS: complete when the object holds its envelope and size, refused when it holds another, restarted when absent', async () => {
  const key = 'resume/gone';
  const checkpoint = join(root, 'gone.json');
  const kept = join(root, 'gone.kept.json');
  await killedPut(key, checkpoint);
  copyFileSync(checkpoint, kept);
  // The killed run's Complete reached OSS but its end was lost: finished here, then the checkpoint put back.
  let r = await runCounted(withPrivate(putArgs(key, checkpoint)));
  assert.equal(r.code, 0, r.stderr);
  copyFileSync(kept, checkpoint);

  r = await runCounted([...withPublic(putArgs(key, checkpoint)), '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.sent, [], 'nothing sent');
  const done = JSON.parse(r.stdout) as { alreadyComplete: boolean; partsSent: number; size: number };
  assert.equal(done.alreadyComplete, true);
  assert.equal(done.partsSent, 0);
  assert.equal(done.size, data.length);
  assert.equal(existsSync(checkpoint), false);
  copyFileSync(kept, checkpoint);
  r = await runCounted(withPublic(putArgs(key, checkpoint)));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /is already complete: upload \S+ was finished by an earlier run; nothing sent/);

  // Someone wrote the key since: nothing is sent, the checkpoint is kept, --restart replaces it.
  await client.put(key, Buffer.from('a newer object'));
  copyFileSync(kept, checkpoint);
  r = await runCounted(withPublic(putArgs(key, checkpoint)));
  assert.equal(r.code, 1, r.stderr);
  assert.match(oneErrorLine(r.stderr), /^error \[ERR_CSE_MULTIPART\]: upload \S+ recorded in .* no longer exists on OSS, and oss:\/\/transfer-tests\/resume\/gone exists but is not its result/);
  assert.deepEqual(r.sent, []);
  assert.ok(existsSync(checkpoint));
  assert.equal((await content(key)).toString(), 'a newer object');
  r = await runCounted([...withPublic(putArgs(key, checkpoint)), '--restart']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await content(key)).equals(data));

  // No object at all (the upload was aborted or expired): a new upload, said on stderr.
  await client.delete(key);
  copyFileSync(kept, checkpoint);
  r = await runCounted([...withPublic(putArgs(key, checkpoint)), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const again = JSON.parse(r.stdout) as { restartedFrom: string | null; resumed: boolean };
  assert.equal(again.resumed, false);
  assert.equal(again.restartedFrom, (JSON.parse(readFileSync(kept, 'utf8')) as { uploadId: string }).uploadId);
  assert.match(r.stderr, /no longer existed on OSS \(aborted or expired\) and oss:\/\/transfer-tests\/resume\/gone did not exist: uploaded again from the start/);
  assert.ok((await content(key)).equals(data));
});

test('uploads ls lists unfinished uploads (encrypted or not, parts); uploads abort removes one by id, or all under a prefix', async () => {
  const prefix = 'pending/';
  const checkpoint = join(root, 'pending.json');
  await killedPut(`${prefix}encrypted`, checkpoint);
  const plain = await oss.initMultipartUpload(`${prefix}plain`);
  await oss.uploadPart(`${prefix}plain`, plain.uploadId, 1, file, 0, KIB100);
  const other = await oss.initMultipartUpload('elsewhere/x');

  let r = await runCli(['uploads', 'ls', `oss://${BUCKET}/${prefix}`, '--json', '--endpoint', server.endpoint], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(join(root, 'home', 'keys')), false, 'uploads needs no key and creates none');
  const listed = JSON.parse(r.stdout) as { bucket: string; prefix: string; uploads: { key: string; uploadId: string; initiated: string; encrypted: boolean; parts: number; bytes: number }[] };
  assert.equal(listed.bucket, BUCKET);
  assert.equal(listed.prefix, prefix);
  assert.deepEqual(listed.uploads.map((u) => [u.key, u.encrypted]).sort(), [[`${prefix}encrypted`, true], [`${prefix}plain`, false]]);
  const encrypted = listed.uploads.find((u) => u.encrypted);
  assert.ok(encrypted !== undefined && encrypted.parts >= 2 && encrypted.bytes === encrypted.parts * KIB100, JSON.stringify(encrypted));
  assert.equal(listed.uploads.find((u) => !u.encrypted)?.parts, 1);
  assert.ok(listed.uploads.every((u) => u.initiated !== ''));

  r = await runCli(['uploads', 'ls', `oss://${BUCKET}/${prefix}`, '--endpoint', server.endpoint], env);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.ok(lines.some((l) => l.includes(plain.uploadId) && /\bplain\b/.test(l) && l.endsWith(`${prefix}plain`)), r.stdout);
  assert.ok(lines.some((l) => /\bencrypted\b/.test(l) && l.endsWith(`${prefix}encrypted`)), r.stdout);

  r = await runCli(['uploads', 'abort', `oss://${BUCKET}/${prefix}plain`, '--upload-id', plain.uploadId, '--json', '--endpoint', server.endpoint], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { bucket: BUCKET, aborted: [{ key: `${prefix}plain`, uploadId: plain.uploadId }], failed: [] });
  assert.deepEqual(await pending(`${prefix}plain`), []);

  r = await runCli(['uploads', 'abort', `oss://${BUCKET}/${prefix}`, '--all', '--endpoint', server.endpoint], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^aborted upload \S+ of oss:\/\/transfer-tests\/pending\/encrypted\n$/);
  assert.deepEqual((await client.listUploads({ prefix })).uploads, []);
  assert.deepEqual((await client.listUploads({ prefix: 'elsewhere/' })).uploads.map((u) => u.uploadId), [other.uploadId], 'outside the prefix: kept');

  // An upload that does not exist: one error line, exit 1.
  r = await runCli(['uploads', 'abort', `oss://${BUCKET}/${prefix}plain`, '--upload-id', plain.uploadId, '--endpoint', server.endpoint], env);
  assert.equal(r.code, 1, r.stderr);
  assert.match(oneErrorLine(r.stderr), /^error \[ERR_CSE_TRANSFER\]: 1 of 1 abort failed/);
  // The failure names oss-cse's stable code (cseCode), not OSS's NoSuchUpload, in the text and in --json.
  assert.match(oneErrorLine(r.stderr), new RegExp(`first: upload ${plain.uploadId} of oss://${BUCKET}/${prefix}plain: ERR_CSE_TRANSFER: `));
  r = await runCli(['uploads', 'abort', `oss://${BUCKET}/${prefix}plain`, '--upload-id', plain.uploadId, '--json', '--endpoint', server.endpoint], env);
  assert.equal(r.code, 1, r.stderr);
  const failedJson = (JSON.parse(r.stdout.split('\n')[0] ?? '') as { failed: { uploadId: string; error: string }[] }).failed;
  assert.deepEqual(failedJson.map((f) => f.uploadId), [plain.uploadId]);
  for (const f of failedJson) {
    assert.match(f.error, /^ERR_CSE_TRANSFER: /);
    assert.doesNotMatch(f.error, /^NoSuchUpload/);
  }

  for (const bad of [
    ['uploads', 'abort', `oss://${BUCKET}/${prefix}plain`],
    ['uploads', 'abort', `oss://${BUCKET}/${prefix}plain`, '--upload-id', 'x', '--all'],
    ['uploads', 'abort', `oss://${BUCKET}/`, '--upload-id', 'x'],
    ['uploads', 'ls', `oss://${BUCKET}`, '--all'],
    ['uploads', 'list', `oss://${BUCKET}`],
    ['uploads'],
  ]) {
    r = await runCli([...bad, '--endpoint', server.endpoint], env);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error: .*; run `oss-cse uploads --help`\n$/);
  }
});
