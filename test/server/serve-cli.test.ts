/**
 * `oss-cse serve` as users run it: a separate process started from the build (`node bin/oss-cse.js serve`), used by
 * ali-oss (both signature versions) and the official KMS client from this process, stopped with SIGTERM / SIGINT.
 * Needs `npm run build` first (`npm test` builds before testing).
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Kms from '@alicloud/kms20160120';
import OSS from 'ali-oss';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'oss-cse.js');
const BUILT = existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'));
const SKIP = BUILT ? undefined : 'needs the build output: run `npm run build` (npm test does)';

interface Served {
  readonly child: ChildProcess;
  readonly endpoint: string;
  /** Lines printed once ready (the listening line, then credentials if any). */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

async function serve(args: string[], env: NodeJS.ProcessEnv = process.env, expectLines = 3): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.once('exit', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
  const lines = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`serve did not get ready: ${stderr}`));
    }, 20_000);
    const check = (): void => {
      const done = stdout.split('\n').slice(0, -1);
      if (done.length >= expectLines) {
        clearTimeout(timer);
        resolve(done);
      }
    };
    child.stdout.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`serve exited early: ${stderr}`));
    });
  });
  const m = /^oss-cse server listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(lines[0] ?? '');
  assert.ok(m, `first line: ${lines[0]}`);
  return { child, endpoint: m[1]!, lines, exited };
}

function credentialsFrom(lines: string[]): { accessKeyId: string; accessKeySecret: string } {
  const id = /^OSS_ACCESS_KEY_ID=(\S+)$/.exec(lines[1] ?? '');
  const secret = /^OSS_ACCESS_KEY_SECRET=(\S+)$/.exec(lines[2] ?? '');
  assert.ok(id && secret, `credential lines: ${lines.slice(1).join(' | ')}`);
  return { accessKeyId: id[1]!, accessKeySecret: secret[1]! };
}

function ossFor(endpoint: string, bucket: string, credentials: { accessKeyId: string; accessKeySecret: string }, v4 = false): any {
  return new OSS({ endpoint, region: 'oss-cn-hangzhou', bucket, ...credentials, authorizationV4: v4 });
}

describe('oss-cse serve', { skip: SKIP }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'oss-cse-serve-'));
    dirs.push(dir);
    return dir;
  };

  it('prints the ready line and generated credentials, serves ali-oss and KMS, and exits 0 on SIGTERM', async () => {
    const data = join(await tempDir(), 'srv');
    const first = await serve(['--port', '0', '--data', data, '--bucket', 'cli-test']);
    const credentials = credentialsFrom(first.lines);
    const stored = JSON.parse(await readFile(join(data, 'credentials.json'), 'utf8'));
    assert.deepEqual(stored, credentials);
    assert.equal((await stat(join(data, 'credentials.json'))).mode & 0o777, 0o600);

    for (const v4 of [false, true]) {
      const c = ossFor(first.endpoint, 'cli-test', credentials, v4);
      await c.put(`hello-${String(v4)}.txt`, Buffer.from('from another process'));
      assert.equal(Buffer.from((await c.get(`hello-${String(v4)}.txt`)).content).toString(), 'from another process');
    }
    // The KMS emulator answers on the same port with the same credentials.
    const kms: any = new Kms.default({ ...credentials, endpoint: new URL(first.endpoint).host, protocol: 'http', regionId: 'cn-hangzhou' } as any);
    const key = await kms.createKey(new Kms.CreateKeyRequest({ description: 'serve test' }));
    const encrypted = await kms.encrypt(new Kms.EncryptRequest({ keyId: key.keyMetadata.keyId, plaintext: 'aGVsbG8=' }));
    const decrypted = await kms.decrypt(new Kms.DecryptRequest({ ciphertextBlob: encrypted.ciphertextBlob }));
    assert.equal(decrypted.plaintext, 'aGVsbG8=');

    first.child.kill('SIGTERM');
    const end = await first.exited;
    assert.equal(end.code, 0, end.stderr);
    assert.equal(end.stdout.split('\n').filter((l) => l !== '').length, 3, end.stdout);
    assert.doesNotMatch(end.stderr, /error/i);

    // Restart: same stored credentials, same objects; SIGINT also stops cleanly.
    const second = await serve(['--data', data]);
    assert.deepEqual(credentialsFrom(second.lines), credentials);
    const c = ossFor(second.endpoint, 'cli-test', credentials);
    assert.equal(Buffer.from((await c.get('hello-true.txt')).content).toString(), 'from another process');
    second.child.kill('SIGINT');
    assert.equal((await second.exited).code, 0);
  });

  it('uses given credentials without printing them; --memory keeps nothing on disk', async () => {
    const home = await tempDir();
    const credentials = { accessKeyId: 'LTAIgivenOnTheCommandLn', accessKeySecret: 'given-secret-for-the-serve-test' };
    const s = await serve(
      ['--memory', '--access-key-id', credentials.accessKeyId, '--access-key-secret', credentials.accessKeySecret, '--bucket', 'b-one', '--bucket', 'b-two'],
      { ...process.env, OSS_CSE_HOME: home },
      1,
    );
    const c = ossFor(s.endpoint, 'b-two', credentials, true);
    await c.put('k', Buffer.from('v'));
    const listed = await ossFor(s.endpoint, 'b-one', credentials).listBuckets({});
    assert.deepEqual(listed.buckets.map((b: any) => b.name), ['b-one', 'b-two']);
    const wrong = ossFor(s.endpoint, 'b-two', { ...credentials, accessKeySecret: 'nope' });
    await assert.rejects(wrong.get('k'), (e: any) => e.code === 'SignatureDoesNotMatch');
    s.child.kill('SIGTERM');
    const end = await s.exited;
    assert.equal(end.code, 0, end.stderr);
    assert.equal(end.stdout, `oss-cse server listening on ${s.endpoint}\n`);
    assert.equal(existsSync(join(home, 'server')), false);
  });

  it('defaults the data directory to $OSS_CSE_HOME/server', async () => {
    const home = await tempDir();
    const s = await serve([], { ...process.env, OSS_CSE_HOME: home });
    assert.deepEqual(JSON.parse(await readFile(join(home, 'server', 'credentials.json'), 'utf8')), credentialsFrom(s.lines));
    s.child.kill('SIGTERM');
    assert.equal((await s.exited).code, 0);
  });

  it('rejects bad command lines with exit code 2', () => {
    for (const args of [
      ['--port', 'abc'],
      ['--port', '70000'],
      ['--access-key-id', 'only-the-id'],
      ['--bucket', 'Bad_Name'],
      ['--memory', '--data', '/tmp/x'],
      ['--no-such-flag'],
    ]) {
      const r = spawnSync(process.execPath, [BIN, 'serve', ...args], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: .*oss-cse serve --help/m);
    }
    const help = spawnSync(process.execPath, [BIN, 'serve', '--help'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /oss-cse server listening on http:\/\/HOST:PORT/);
  });

  it('fails with exit code 1 when the data directory is in use', async () => {
    const data = join(await tempDir(), 'busy');
    const s = await serve(['--data', data]);
    try {
      const r = spawnSync(process.execPath, [BIN, 'serve', '--data', data], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /in use by process/);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});
