// No key is ever created silently for real OSS (issue 14, item 4), through the real bin/oss-cse.js: the automatic key
// pair in $OSS_CSE_HOME/keys is created only for the embedded server, by a command that encrypts or decrypts; against
// an --endpoint/--region (or OSS_ENDPOINT) with no key given a command that needs one exits 2 saying how to give one;
// ls, mb, rm, head and uploads never create a key; every key created is announced on stderr with where it is and that
// it must be backed up, even with --quiet or --json.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { runCli } from '../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'oss-cse-keycreate-'));
const file = join(root, 'data.txt');
const CREATED = /^oss-cse: created a new RSA key pair in (.+keys) \(private\.pem decrypts your objects: back it up; without it they cannot be read\)$/m;
let server: RunningServer;

function env(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const blank = ['OSS_ENDPOINT', 'OSS_REGION', 'OSS_CSE_PUBLIC_KEY', 'OSS_CSE_PRIVATE_KEY', 'OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET',
    'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'OSS_SESSION_TOKEN', 'ALIBABA_CLOUD_SECURITY_TOKEN'];
  return { ...Object.fromEntries(blank.map((k) => [k, ''])), OSS_CSE_HOME: join(root, home), ...extra };
}

function remoteEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return env(home, { OSS_ACCESS_KEY_ID: server.credentials.accessKeyId, OSS_ACCESS_KEY_SECRET: server.credentials.accessKeySecret, ...extra });
}

before(async () => {
  server = await startServer({ memory: true, buckets: ['remote'], kms: false });
  writeFileSync(file, 'some plaintext\n');
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** The exit-2 message names every way to give a key. */
function assertHowToGiveKey(stderr: string): void {
  assert.match(stderr, /^error: no key given for /);
  for (const way of ['--public-key', '--private-key', '--kms-key-id', '--keys', 'oss-cse keygen']) assert.ok(stderr.includes(way), `${way} in ${stderr}`);
  assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
}

test('against an --endpoint, --region or OSS_ENDPOINT with no key given, put/get/cat exit 2 saying how to give a key; no key is created', async () => {
  const home = 'remote-fresh';
  const cases: [string[], Record<string, string>][] = [
    [['put', file, 'oss://remote/x', '--endpoint', server.endpoint], {}],
    [['put', file, 'oss://remote/x', '--quiet', '--endpoint', server.endpoint, '--region', 'cn-hangzhou'], {}],
    // No request is sent: the command line is refused before any client exists (so no traffic leaves loopback).
    [['put', file, 'oss://remote/x', '--region', 'cn-hangzhou'], {}],
    [['put', file, 'oss://remote/x'], { OSS_ENDPOINT: server.endpoint }],
    [['get', 'oss://remote/x', join(root, 'out.txt'), '--endpoint', server.endpoint], {}],
    [['cat', 'oss://remote/x', '--endpoint', server.endpoint], {}],
  ];
  for (const [args, extra] of cases) {
    const r = await runCli(args, remoteEnv(home, extra));
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assertHowToGiveKey(r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(existsSync(join(root, home, 'keys')), false, `${args.join(' ')} created a key`);
  }
  assert.equal(existsSync(join(root, 'out.txt')), false);
  // Nothing reached the bucket.
  const ls = await runCli(['ls', 'oss://remote', '--recursive', '--json', '--endpoint', server.endpoint], remoteEnv(home));
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(JSON.parse(ls.stdout).objects, []);
  assert.equal(existsSync(join(root, home, 'keys')), false, 'ls created a key');
});

test('an automatic pair left by the embedded server is not used for an endpoint either: exit 2 naming it to give explicitly', async () => {
  const home = 'remote-with-pair';
  let r = await runCli(['mb', 'oss://local'], env(home));
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['put', file, 'oss://local/x', '--quiet'], env(home));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, CREATED);
  const pair = join(root, home, 'keys', 'private.pem');
  assert.ok(existsSync(pair));
  r = await runCli(['put', file, 'oss://remote/y', '--endpoint', server.endpoint], remoteEnv(home));
  assert.equal(r.code, 2, r.stderr);
  assertHowToGiveKey(r.stderr);
  assert.ok(r.stderr.includes(`--private-key ${pair}`), r.stderr);
  // Given explicitly, it works.
  r = await runCli(['put', file, 'oss://remote/y', '--endpoint', server.endpoint, '--private-key', pair], remoteEnv(home));
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['cat', 'oss://remote/y', '--endpoint', server.endpoint, '--private-key', pair], remoteEnv(home));
  assert.equal(r.stdout, 'some plaintext\n');
});

test('ls, mb, rm, head and uploads never create a key, on the embedded server or an endpoint', async () => {
  const home = 'keyless';
  for (const args of [['mb', 'oss://keyless'], ['ls', 'oss://keyless'], ['head', 'oss://keyless/none'], ['rm', 'oss://keyless/none'], ['uploads', 'ls', 'oss://keyless']]) {
    const r = await runCli(args, env(home));
    assert.ok(r.code === 0 || (args[0] === 'head' && r.code === 1), `${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /created a new RSA key pair/);
    assert.equal(existsSync(join(root, home, 'keys')), false, `${args.join(' ')} created a key`);
  }
  for (const args of [['ls', 'oss://remote'], ['head', 'oss://remote/none'], ['rm', 'oss://remote/none'], ['uploads', 'ls', 'oss://remote']]) {
    const r = await runCli([...args, '--endpoint', server.endpoint], remoteEnv(home));
    assert.notEqual(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(existsSync(join(root, home, 'keys')), false, `${args.join(' ')} created a key`);
  }
  // An encrypted object's envelope is shown without any key.
  const owner = 'keyless-owner';
  let r = await runCli(['mb', 'oss://shown'], env(owner));
  r = await runCli(['put', file, 'oss://shown/x', '--json'], env(owner));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, CREATED, '--json does not silence the note');
  assert.equal(JSON.parse(r.stdout).size, 15);
});

test('a key pair created for the embedded server is announced on stderr with its place and a backup warning, even with --quiet', async () => {
  const home = 'quiet';
  let r = await runCli(['mb', 'oss://quiet-bucket', '--quiet'], env(home));
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['put', file, 'oss://quiet-bucket/x', '--quiet'], env(home));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const m = CREATED.exec(r.stderr);
  assert.ok(m !== null, r.stderr);
  assert.equal(m[1], join(root, home, 'keys'));
  r = await runCli(['get', 'oss://quiet-bucket/x', '-', '--quiet'], env(home));
  assert.equal(r.stdout, 'some plaintext\n');
  assert.equal(r.stderr, '', 'said once, when created');
  // keygen too announces what it created.
  r = await runCli(['keygen', '--out', join(root, 'kg'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /created a new RSA key pair in .*kg .*back it up/);
  assert.equal(JSON.parse(r.stdout).bits, 2048);
});
