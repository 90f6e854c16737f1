// The online CLI through the real bin/oss-cse.js (built into dist/ by `npm test`): put/get/cat/head/ls/rm/mb round
// trips on the embedded default (a fresh OSS_CSE_HOME: data persists between commands, a key pair is created once),
// the same against an --endpoint with credentials from the environment, keys files, failures, and the demo.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { main } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
import { vectorKeys } from '../helpers/vectors.js';

const ERROR_LINE = /^error \[ERR_CSE_[A-Z0-9_]+\]: [^\n]+\n$/;
const root = mkdtempSync(join(tmpdir(), 'oss-cse-online-'));

after(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A clean environment: no OSS target or key variables from the caller's shell. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const blank = ['OSS_ENDPOINT', 'OSS_REGION', 'OSS_CSE_PUBLIC_KEY', 'OSS_CSE_PRIVATE_KEY', 'OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET',
    'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'OSS_SESSION_TOKEN', 'ALIBABA_CLOUD_SECURITY_TOKEN'];
  return { ...Object.fromEntries(blank.map((k) => [k, ''])), ...extra };
}

describe('on the embedded default', () => {
  const home = join(root, 'home');
  const env = cleanEnv({ OSS_CSE_HOME: home });
  const work = join(root, 'work');
  mkdirSync(work, { recursive: true });
  const plaintext = randomBytes(200_003);
  writeFileSync(join(work, 'data.bin'), plaintext);

  test('mb, put, ls, head, get, cat (with ranges), rm: data persists between commands; the key pair is created once', async () => {
    let r = await runCli(['mb', 'oss://cli-bucket'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(join(home, 'keys')), 'mb needs no key and creates none');
    assert.ok(existsSync(join(home, 'server')));

    r = await runCli(['put', join(work, 'data.bin'), 'oss://cli-bucket/dir/', '--meta', 'owner=ops', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /created a new RSA key pair in .*keys/);
    assert.ok(existsSync(join(home, 'keys', 'private.pem')));
    const put = JSON.parse(r.stdout);
    assert.equal(put.object, 'oss://cli-bucket/dir/data.bin');
    assert.equal(put.size, plaintext.length);
    assert.equal(put.envelope.wrapAlgorithm, 'RSA/NONE/PKCS1Padding');

    r = await runCli(['ls', 'oss://cli-bucket'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /PRE\s+dir\//);
    r = await runCli(['ls', 'oss://cli-bucket/dir/', '--json'], env);
    assert.deepEqual(JSON.parse(r.stdout).objects.map((o: any) => [o.key, o.size]), [['dir/data.bin', plaintext.length]]);

    r = await runCli(['head', 'oss://cli-bucket/dir/data.bin', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.equal(info.encrypted, true);
    assert.equal(info.size, plaintext.length);
    assert.equal(info.unencryptedContentLength, plaintext.length);
    assert.deepEqual(info.meta, { owner: 'ops' });
    assert.ok(!r.stdout.includes('x-oss-meta-client-side-encryption-key'));

    r = await runCli(['get', 'oss://cli-bucket/dir/data.bin', join(work, 'out.bin')], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /downloaded 200003 bytes .* \(decrypted\)/);
    assert.ok(readFileSync(join(work, 'out.bin')).equals(plaintext));

    r = await runCli(['get', 'oss://cli-bucket/dir/data.bin', join(work, 'slice.bin'), '--range', '4097-5000', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).range, { start: 4097, end: 5000 });
    assert.ok(readFileSync(join(work, 'slice.bin')).equals(plaintext.subarray(4097, 5001)));

    // A directory as LOCAL takes the key's name.
    const into = join(work, 'into');
    mkdirSync(into);
    r = await runCli(['get', 'oss://cli-bucket/dir/data.bin', into, '--quiet'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.ok(readFileSync(join(into, 'data.bin')).equals(plaintext));

    r = await runCli(['put', '-', 'oss://cli-bucket/hello.txt'], env, 'hello, world\n');
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['cat', 'oss://cli-bucket/hello.txt'], env);
    assert.equal(r.stdout, 'hello, world\n');
    r = await runCli(['cat', 'oss://cli-bucket/hello.txt', '--range=-6'], env);
    assert.equal(r.stdout, 'world\n');
    r = await runCli(['cat', 'oss://cli-bucket/hello.txt', '--range', '7-100'], env);
    assert.equal(r.stdout, 'hello, world\n', 'a range past the end is ignored, as OSS does');
    r = await runCli(['cat', 'oss://cli-bucket/hello.txt', '--range', '20-', '--range-behavior', 'standard'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_CSE_RANGE_NOT_SATISFIABLE/);

    r = await runCli(['rm', 'oss://cli-bucket/dir/data.bin', 'oss://cli-bucket/hello.txt'], env);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['ls', 'oss://cli-bucket', '--recursive', '--json'], env);
    assert.deepEqual(JSON.parse(r.stdout).objects, []);
  });

  test('a failed download (wrong key) exits 1 with one typed error line and leaves no file', async () => {
    await runCli(['mb', 'oss://cli-bucket-2'], env);
    let r = await runCli(['put', join(work, 'data.bin'), 'oss://cli-bucket-2/x'], env);
    assert.equal(r.code, 0, r.stderr);
    const target = join(work, 'never.bin');
    r = await runCli(['get', 'oss://cli-bucket-2/x', target, '--private-key', vectorKeys.privatePath()], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, ERROR_LINE);
    assert.match(r.stderr, /ERR_CSE_NO_MATCHING_KEY/);
    assert.equal(existsSync(target), false);
    assert.ok(!readdirSync(work).some((f) => f.includes('never.bin')), 'no temporary file either');
    r = await runCli(['get', 'oss://cli-bucket-2/missing', target], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_CSE_TRANSFER.*NoSuchKey/);
    assert.equal(existsSync(target), false);
  });

  test('bad command lines exit 2 (checked before any request or key is touched)', async () => {
    for (const args of [
      ['put', join(work, 'data.bin')],
      ['put', join(work, 'data.bin'), 'https://bucket/key'],
      ['get', 'oss://cli-bucket/', join(work, 'x')],
      ['cat', 'oss://cli-bucket/x', '--range', '5-2'],
      ['cat', 'oss://cli-bucket/x', '--range-behavior', 'lenient'],
      ['ls', 'oss://Bad_Bucket'],
      ['rm', 'oss://cli-bucket'],
      ['mb', 'oss://cli-bucket/key'],
      ['put', join(work, 'data.bin'), 'oss://cli-bucket/k', '--meta', 'no-equals'],
      ['get', 'oss://cli-bucket/x', join(work, 'x'), '--key-selection', 'random'],
    ]) {
      let stderr = '';
      const io = {
        stdout: new Writable({ write: (_c, _e, done) => done() }),
        stderr: new Writable({ write: (c: Buffer, _e, done) => { stderr += c.toString(); done(); } }),
        env: { ...process.env, ...env, OSS_CSE_HOME: join(root, 'never-created') },
      };
      const code = await main(args, io);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, /^error: .*; run `oss-cse \w+ --help`\n$/);
    }
    assert.equal(existsSync(join(root, 'never-created')), false);
  });
});

describe('against an endpoint, with credentials from the environment', () => {
  let server: RunningServer;
  let env: Record<string, string>;
  const keysDir = join(root, 'keys');

  before(async () => {
    server = await startServer({ memory: true, buckets: ['remote'], kms: false });
    env = cleanEnv({
      OSS_CSE_HOME: join(root, 'remote-home'),
      OSS_ACCESS_KEY_ID: server.credentials.accessKeyId,
      OSS_ACCESS_KEY_SECRET: server.credentials.accessKeySecret,
    });
    let r = await runCli(['keygen', '--out', join(keysDir, 'old')]);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['keygen', '--out', join(keysDir, 'new')]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await server.close();
  });

  test('--endpoint (V1 signatures) and --endpoint with --region (V4); keys from flags, env and a keys file', async () => {
    const file = join(root, 'remote.bin');
    // Text, so that standard output compares exactly.
    const plaintext = Buffer.from(randomBytes(35_000).toString('hex'));
    writeFileSync(file, plaintext);
    const old = join(keysDir, 'old', 'private.pem');
    const fresh = join(keysDir, 'new', 'private.pem');

    let r = await runCli(['put', file, 'oss://remote/old', '--endpoint', server.endpoint, '--private-key', old, '--matdesc', '{"year":"2024"}'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(join(root, 'remote-home', 'keys')), 'no default key pair when keys are given');
    r = await runCli(['put', file, 'oss://remote/new', '--endpoint', server.endpoint, '--region', 'cn-hangzhou', '--public-key', join(keysDir, 'new', 'public.pem')], env);
    assert.equal(r.code, 0, r.stderr);

    // Both decrypt with both private keys given (repeatable), or from OSS_CSE_PRIVATE_KEY.
    for (const name of ['old', 'new']) {
      const out = join(root, `remote-${name}.out`);
      r = await runCli(['get', `oss://remote/${name}`, out, '--endpoint', server.endpoint, '--private-key', fresh, '--private-key', old], env);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(readFileSync(out).equals(plaintext));
      r = await runCli(['cat', `oss://remote/${name}`, '--range', '0-9', '--endpoint', server.endpoint], { ...env, OSS_CSE_PRIVATE_KEY: `${fresh}:${old}` });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, plaintext.subarray(0, 10).toString());
    }

    // A keys file: descriptions, which key encrypts, paths relative to the file.
    const keysFile = join(keysDir, 'keys.json');
    writeFileSync(keysFile, JSON.stringify({
      keys: [
        { privateKey: 'old/private.pem', description: { year: '2024' } },
        { privateKey: 'new/private.pem', description: { year: '2025' }, encrypt: true },
      ],
    }));
    r = await runCli(['put', file, 'oss://remote/via-keys-file', '--endpoint', server.endpoint, '--keys', keysFile], env);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['head', 'oss://remote/via-keys-file', '--endpoint', server.endpoint, '--keys', keysFile, '--json'], env);
    assert.deepEqual(JSON.parse(r.stdout).matdesc, { year: '2025' });
    // Each object's key is found by its description, so the strict policy reads both.
    for (const name of ['old', 'via-keys-file']) {
      r = await runCli(['get', `oss://remote/${name}`, '-', '--endpoint', server.endpoint, '--keys', keysFile, '--key-selection', 'strict'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, plaintext.toString());
    }
    // The old key alone cannot read what the new key wrote: a typed error.
    r = await runCli(['get', 'oss://remote/via-keys-file', '-', '--endpoint', server.endpoint, '--private-key', old, '--key-selection', 'strict'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_CSE_NO_MATCHING_KEY/);

    writeFileSync(join(keysDir, 'bad.json'), JSON.stringify({ keys: [{ privateKey: 'old/private.pem' }, { privateKey: 'new/private.pem' }] }));
    r = await runCli(['ls', 'oss://remote', '--endpoint', server.endpoint, '--keys', join(keysDir, 'bad.json')], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_CSE_INVALID_ARGUMENT.*"encrypt": true/);
  });

  test('an endpoint without credentials is a typed error naming the variables', async () => {
    const r = await runCli(['ls', 'oss://remote', '--endpoint', server.endpoint, '--private-key', vectorKeys.privatePath()], cleanEnv({}));
    assert.equal(r.code, 1);
    assert.match(r.stderr, ERROR_LINE);
    assert.match(r.stderr, /OSS_ACCESS_KEY_ID/);
  });
});

describe('the demo', () => {
  test('`npm run demo` runs on the embedded default in a temporary home and exits 0', async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('npm', ['run', '--silent', 'demo'], {
        cwd: new URL('../..', import.meta.url).pathname,
        env: { ...process.env, ...cleanEnv({ OSS_CSE_HOME: '' }) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /stored bytes equal the plaintext\? no/);
    assert.match(result.stdout, /x-oss-meta-client-side-encryption-wrap-alg: RSA\/NONE\/PKCS1Padding/);
    assert.match(result.stdout, /same SHA-256 as the original\? yes/);
    assert.match(result.stdout, /Content-Range bytes 1000-1099\//);
    assert.match(result.stdout, /Demo OK/);
    const home = /Home directory (\S+) \(temporary\)/.exec(result.stdout)?.[1];
    assert.ok(home !== undefined && !existsSync(home), 'the temporary home is removed');
  });

  test('with OSS_CSE_HOME set, the demo keeps its data there and runs again', async () => {
    const home = join(root, 'demo-home');
    for (let i = 0; i < 2; i++) {
      const r = await runCli(['demo'], cleanEnv({ OSS_CSE_HOME: home }));
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, i === 0 ? /Created bucket/ : /already exists/);
    }
    assert.ok(existsSync(join(home, 'keys', 'private.pem')));
  });
});
