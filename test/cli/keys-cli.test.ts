// KMS keys, keys files, `keys list` and `rewrap` through the real bin/oss-cse.js (built into dist/ by `npm test`):
// --kms-key-id put/get against the embedded server's own KMS emulator (no endpoint given), offline encrypt/decrypt
// with --kms-endpoint, a keys file mixing RSA and KMS entries, a listing that shows no secret, and key rotation of a
// prefix (dry run, real run, re-run, failures, keys-file target).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Kms from '@alicloud/kms20160120';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { main } from '../../src/cli/main.js';
import { createOssClient, EncryptionClient } from '../../src/client.js';
import { KmsMasterKey } from '../../src/keys/kms.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'oss-cse-keys-cli-'));
const ERROR_LINE = /^error \[ERR_CSE_[A-Z0-9_]+\]: [^\n]+\n$/;

after(() => {
  rmSync(root, { recursive: true, force: true });
});

function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const blank = ['OSS_ENDPOINT', 'OSS_REGION', 'OSS_CSE_PUBLIC_KEY', 'OSS_CSE_PRIVATE_KEY', 'OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET',
    'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'OSS_SESSION_TOKEN', 'ALIBABA_CLOUD_SECURITY_TOKEN',
    'ALIBABA_CLOUD_REGION_ID', 'OSS_CSE_KEY_PASSPHRASE'];
  return { ...Object.fromEntries(blank.map((k) => [k, ''])), ...extra };
}

/** Runs the CLI in this process (for commands that start no server: cheaper than a child process). */
async function inProcess(args: string[], env: Record<string, string>): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): Writable =>
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        add(chunk.toString());
        done();
      },
    });
  const code = await main(args, { stdout: sink((x) => (stdout += x)), stderr: sink((x) => (stderr += x)), env: { ...process.env, ...env } });
  return { code, stdout, stderr };
}

/** Creates a KMS key through the KMS API (CreateKey) of a running server. */
async function createKmsKey(server: RunningServer, description: string): Promise<string> {
  const raw = new Kms.default({
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    endpoint: `${server.host}:${server.port}`,
    protocol: 'http',
    regionId: 'cn-hangzhou',
  } as any);
  return (await raw.createKey(new Kms.CreateKeyRequest({ description }))).keyMetadata.keyId;
}

async function writeKeyPair(dir: string): Promise<{ privatePem: string; publicPem: string }> {
  mkdirSync(dir, { recursive: true });
  const pair = await generateRsaKeyPair(2048);
  writeFileSync(join(dir, 'private.pem'), pair.privateKeyPem);
  writeFileSync(join(dir, 'public.pem'), pair.publicKeyPem);
  return { privatePem: join(dir, 'private.pem'), publicPem: join(dir, 'public.pem') };
}

describe('KMS keys on the embedded default (its own KMS emulator, no endpoint given)', () => {
  const home = join(root, 'home');
  const env = cleanEnv({ OSS_CSE_HOME: home });
  const work = join(root, 'embedded');
  mkdirSync(work, { recursive: true });
  let kmsOld: string;
  let kmsNew: string;
  let old: { privatePem: string; publicPem: string };
  const objects = new Map<string, Buffer>();

  before(async () => {
    // KMS keys live in the embedded server's data directory: create two there, as an operator would with the KMS API.
    // The objects to rotate are written in-process too (a CLI run per object would only cost time).
    old = await writeKeyPair(join(work, 'old'));
    const server = await startServer({ dataDir: join(home, 'server'), buckets: ['kms-cli'], log: () => undefined });
    try {
      kmsOld = await createKmsKey(server, 'old');
      kmsNew = await createKmsKey(server, 'new');
      const oss = createOssClient({ endpoint: server.endpoint, bucket: 'kms-cli', ...server.credentials });
      const writer = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey: readFileSync(old.privatePem, 'utf8') }) });
      for (const [name, size] of [['a.txt', 100], ['b.bin', 70_000], ['sub/c', 0]] as const) {
        const data = randomBytes(size);
        objects.set(name, data);
        await writer.put(`rot/${name}`, data, { meta: { owner: 'ops' }, mime: 'text/x-rot' });
      }
    } finally {
      await server.close();
    }
  });

  test('put/get with --kms-key-id: the envelope is KMS-wrapped; another key cannot read it', async () => {
    const data = randomBytes(5000);
    writeFileSync(join(work, 'k.bin'), data);
    let r = await runCli(['put', join(work, 'k.bin'), 'oss://kms-cli/k.bin', '--kms-key-id', kmsOld, '--matdesc', '{"gen":"1"}', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /created a new RSA key pair/, 'no RSA pair is made when a KMS key is given');
    const put = JSON.parse(r.stdout);
    assert.equal(put.envelope.wrapAlgorithm, 'KMS/ALICLOUD');
    assert.deepEqual(put.envelope.matdesc, { gen: '1' });
    r = await runCli(['get', 'oss://kms-cli/k.bin', join(work, 'k.out'), '--kms-key-id', kmsNew, '--kms-key-id', kmsOld], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(work, 'k.out')).equals(data));
    r = await runCli(['cat', 'oss://kms-cli/k.bin', '--kms-key-id', kmsNew], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, ERROR_LINE);
    assert.match(r.stderr, /ERR_CSE_NO_MATCHING_KEY.*object matdesc \{"gen":"1"\}.*not under kms:/);
    r = await inProcess(['get', 'oss://kms-cli/k.bin', join(work, 'k2.out'), '--kms-key-id', kmsOld, '--kms-endpoint', 'http://127.0.0.1:1'], env);
    assert.equal(r.code, 1, 'an explicit endpoint is used, not the embedded one');
    assert.match(r.stderr, /ERR_CSE_NO_MATCHING_KEY|ERR_CSE_KMS/);
  });

  test('keys create-kms makes a key in the embedded server\'s KMS, usable at once with --kms-key-id', async () => {
    let r = await inProcess(['keys', 'create-kms', '--description', 'made by the CLI', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const made = JSON.parse(r.stdout);
    assert.match(made.keyId, /^[0-9a-f-]{36}$/);
    assert.equal(made.kms, 'the embedded server');
    writeFileSync(join(work, 'made.txt'), 'made');
    r = await inProcess(['put', join(work, 'made.txt'), 'oss://kms-cli/made.txt', '--kms-key-id', made.keyId, '--quiet'], env);
    assert.equal(r.code, 0, r.stderr);
    r = await inProcess(['cat', 'oss://kms-cli/made.txt', '--kms-key-id', made.keyId], env);
    assert.equal(r.stdout, 'made');
    r = await inProcess(['keys', 'create-kms', '--kms-endpoint', 'http://127.0.0.1:1', '--kms-region', 'cn-hangzhou'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /needs credentials|KMS CreateKey failed/);
  });

  test('rewrap a prefix: dry run, real run, re-run; every object then reads with the new key only', async () => {
    const oldKey = ['--private-key', old.privatePem];
    let r = await runCli(['rewrap', 'oss://kms-cli/rot/', '--to-kms-key-id', kmsNew, '--matdesc', '{"gen":"2"}', '--dry-run', '--json', ...oldKey], env);
    assert.equal(r.code, 0, r.stderr);
    let report = JSON.parse(r.stdout);
    assert.equal(report.dryRun, true);
    assert.equal(report.rewrapped, 3);
    assert.deepEqual(report.target, { key: `kms:${kmsNew}`, matdesc: { gen: '2' } });

    r = await runCli(['rewrap', 'oss://kms-cli/rot/', '--to-kms-key-id', kmsNew, '--matdesc', '{"gen":"2"}', '--parallel', '2', ...oldKey], env);
    assert.equal(r.code, 0, r.stderr);
    // 3 rewrapped, none skipped: the dry run wrote nothing.
    assert.match(r.stdout, /^rewrapped 3, skipped 0, failed 0 of 3 object\(s\) under oss:\/\/kms-cli\/rot\//);
    assert.equal(r.stderr.split('\n').filter((l) => /^\[\d\] rewrapped oss:\/\/kms-cli\/rot\//.test(l)).length, 3, r.stderr);

    r = await runCli(['get', 'oss://kms-cli/rot/b.bin', join(work, 'out'), '--kms-key-id', kmsNew], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(work, 'out')).equals(objects.get('b.bin') ?? Buffer.alloc(1)));
    // Every object, checked in-process over the same data directory (one server start instead of a CLI run each).
    const server = await startServer({ dataDir: join(home, 'server'), log: () => undefined });
    try {
      const oss = createOssClient({ endpoint: server.endpoint, bucket: 'kms-cli', ...server.credentials });
      const kmsOptions = { region: 'cn-hangzhou', endpoint: server.endpoint, credentials: server.credentials };
      const reader = new EncryptionClient(oss, { masterKey: new KmsMasterKey({ keyId: kmsNew, ...kmsOptions }) });
      const oldReader = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey: readFileSync(old.privatePem, 'utf8') }) });
      for (const [name, data] of objects) {
        assert.ok((await reader.get(`rot/${name}`)).content.equals(data), name);
        const head = await reader.head(`rot/${name}`);
        assert.deepEqual(head.meta, { owner: 'ops' });
        assert.equal(head.res.headers['content-type'], 'text/x-rot');
        assert.deepEqual(head.envelope?.matdesc, { gen: '2' });
        await assert.rejects(oldReader.get(`rot/${name}`), { code: 'ERR_CSE_NO_MATCHING_KEY' });
      }
    } finally {
      await server.close();
    }

    // Safe to re-run: everything is already under the new key.
    r = await runCli(['rewrap', 'oss://kms-cli/rot/', '--to-kms-key-id', kmsNew, '--matdesc', '{"gen":"2"}', '--json', ...oldKey], env);
    assert.equal(r.code, 0, r.stderr);
    report = JSON.parse(r.stdout);
    assert.deepEqual([report.rewrapped, report.skipped, report.failed], [0, 3, 0]);
    assert.ok(report.objects.every((o: any) => o.skipped === 'already-under-target'));
  });

  test('rewrap reports objects no given key opens as failed (exit 1) and rejects bad options (exit 2)', async () => {
    const stranger = await writeKeyPair(join(work, 'stranger'));
    writeFileSync(join(work, 'in'), 'x');
    let r = await runCli(['put', join(work, 'in'), 'oss://kms-cli/mixed/x', '--private-key', stranger.privatePem], env);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['put', join(work, 'in'), 'oss://kms-cli/mixed/y', '--kms-key-id', kmsOld], env);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['rewrap', 'oss://kms-cli/mixed/', '--to-kms-key-id', kmsNew, '--kms-key-id', kmsOld], env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /rewrapped 1, skipped 0, failed 1 of 2/);
    assert.match(r.stdout, /failed mixed\/x: \[ERR_CSE_NO_MATCHING_KEY\]/);
    assert.match(r.stderr, /failed oss:\/\/kms-cli\/mixed\/x/);
    for (const bad of [['--parallel', '0'], ['--to-public-key', 'a.pem'], []]) {
      r = await inProcess(['rewrap', 'oss://kms-cli/mixed/', ...(bad.length === 0 ? [] : ['--to-kms-key-id', kmsNew]), ...bad], env);
      assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: .*rewrap --help/);
    }
  });
});

describe('KMS keys against an endpoint, keys files and keys list', () => {
  let server: RunningServer;
  let kmsA: string;
  let kmsB: string;
  const work = join(root, 'endpoint');
  mkdirSync(work, { recursive: true });
  let env: Record<string, string>;

  before(async () => {
    server = await startServer({ memory: true, buckets: ['remote'], log: () => undefined });
    kmsA = await createKmsKey(server, 'A');
    kmsB = await createKmsKey(server, 'B');
    env = cleanEnv({
      OSS_CSE_HOME: join(root, 'home-endpoint'),
      ALIBABA_CLOUD_ACCESS_KEY_ID: server.credentials.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.credentials.accessKeySecret,
    });
  });
  after(async () => {
    await server.close();
  });

  test('offline encrypt/decrypt with --kms-key-id and --kms-endpoint (credentials from ALIBABA_CLOUD_*)', async () => {
    const data = randomBytes(1234);
    writeFileSync(join(work, 'plain'), data);
    const kms = ['--kms-endpoint', server.endpoint, '--kms-region', 'cn-hangzhou'];
    let r = await runCli(['encrypt', '--in', join(work, 'plain'), '--out', join(work, 'ct'), '--meta-out', join(work, 'meta.json'), '--kms-key-id', kmsA, '--matdesc', '{"o":"1"}', ...kms], env);
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(readFileSync(join(work, 'meta.json'), 'utf8'));
    assert.equal(meta['x-oss-meta-client-side-encryption-wrap-alg'], 'KMS/ALICLOUD');
    r = await inProcess(['decrypt', '--in', join(work, 'ct'), '--out', join(work, 'back'), '--meta', join(work, 'meta.json'), '--kms-key-id', kmsB, '--kms-key-id', kmsA, ...kms], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(work, 'back')).equals(data));
    r = await inProcess(['decrypt', '--in', join(work, 'ct'), '--out', join(work, 'back2'), '--meta', join(work, 'meta.json'), '--kms-key-id', kmsA, '--kms-endpoint', server.endpoint], env);
    // An explicit --kms-endpoint needs no region (issue 17 item 8).
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(work, 'back2')).equals(data));
    r = await inProcess(['decrypt', '--in', join(work, 'ct'), '--out', join(work, 'back2'), '--meta', join(work, 'meta.json'), '--kms-key-id', kmsA, ...kms], {
      ...env,
      ALIBABA_CLOUD_ACCESS_KEY_ID: '',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: '',
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /needs credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID/);
    r = await inProcess(['encrypt', '--in', join(work, 'plain'), '--out', join(work, 'ct2'), '--meta-out', join(work, 'm2'), '--kms-key-id', kmsA, '--public-key', 'x.pem'], env);
    assert.equal(r.code, 2);
  });

  test('a keys file with RSA and KMS entries: the KMS entry encrypts, the RSA one still reads old objects', async () => {
    const old = await writeKeyPair(join(work, 'keys', 'old'));
    const keysFile = join(work, 'keys', 'keys.json');
    writeFileSync(
      keysFile,
      JSON.stringify({
        keys: [
          { type: 'kms', keyId: kmsB, description: { gen: '2025' }, encrypt: true, endpoint: server.endpoint, region: 'cn-hangzhou', encryptionContext: { tenant: 'secret-tenant-42' } },
          { privateKey: 'old/private.pem', description: { gen: '2024' } },
        ],
      }),
    );
    const target = ['--endpoint', server.endpoint];
    const oenv = { ...env, OSS_ACCESS_KEY_ID: server.credentials.accessKeyId, OSS_ACCESS_KEY_SECRET: server.credentials.accessKeySecret, OSS_CSE_KEY_PASSPHRASE: 'never-printed' };
    const data = randomBytes(150).toString('hex');
    writeFileSync(join(work, 'f'), data);
    const oss = createOssClient({ endpoint: server.endpoint, bucket: 'remote', ...server.credentials });
    const oldKey = new RsaMasterKey({ privateKey: readFileSync(old.privatePem, 'utf8'), description: { gen: '2024' } });
    await new EncryptionClient(oss, { masterKey: oldKey }).put('old', Buffer.from(data));
    let r = await runCli(['put', join(work, 'f'), 'oss://remote/new', '--keys', keysFile, '--json', ...target], oenv);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).envelope.wrapAlgorithm, 'KMS/ALICLOUD');
    assert.deepEqual(JSON.parse(r.stdout).envelope.matdesc, { gen: '2025' });
    r = await runCli(['cat', 'oss://remote/old', '--keys', keysFile, '--key-selection', 'strict', ...target], oenv);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, data);

    // keys list: roles, descriptions, sources; no secret of any kind.
    r = await inProcess(['keys', 'list', '--keys', keysFile, '--json', ...target], oenv);
    assert.equal(r.code, 0, r.stderr);
    const listing = JSON.parse(r.stdout);
    assert.equal(listing.source, keysFile);
    assert.deepEqual(
      listing.keys.map((k: any) => [k.role, k.kind, k.name, k.description, k.canDecrypt]),
      [
        ['encrypt', 'kms', `kms:${kmsB}`, '{"gen":"2025"}', true],
        ['decrypt', 'rsa', listing.keys[1].name, '{"gen":"2024"}', true],
      ],
    );
    assert.equal(listing.keys[0].credentials, 'ALIBABA_CLOUD_ACCESS_KEY_ID');
    assert.deepEqual(listing.keys[0].encryptionContext, ['tenant']);
    assert.equal(listing.keys[1].file, old.privatePem);
    assert.match(listing.keys[1].fingerprint, /^[0-9a-f]{64}$/);
    const text = await runCli(['keys', 'list', '--keys', keysFile, ...target], oenv);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^keys from .*keys\.json \(key selection: fallback\)\nencrypts {2}kms:/);
    const privatePem = readFileSync(old.privatePem, 'utf8');
    for (const out of [r.stdout, text.stdout]) {
      for (const secret of [server.credentials.accessKeySecret, server.credentials.accessKeyId, 'secret-tenant-42', 'never-printed', 'PRIVATE KEY', privatePem.split('\n')[1] ?? '']) {
        assert.ok(!out.includes(secret), `keys list must not print ${secret.slice(0, 12)}…`);
      }
    }

    // Rotation to the keys file's encrypting key (no --to option): the old RSA object moves to KMS.
    r = await runCli(['rewrap', 'oss://remote/', '--keys', keysFile, '--json', ...target], oenv);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual([report.rewrapped, report.skipped], [1, 1]);
    assert.equal(report.objects.find((o: any) => o.key === 'old').from.key, listing.keys[1].name);
    const kmsOptions = { region: 'cn-hangzhou', endpoint: server.endpoint, credentials: server.credentials };
    const withContext = new KmsMasterKey({ keyId: kmsB, ...kmsOptions, encryptionContext: { tenant: 'secret-tenant-42' } });
    for (const name of ['old', 'new']) {
      const got = await new EncryptionClient(oss, { masterKey: withContext }).get(name);
      assert.equal(got.content.toString(), data);
      assert.deepEqual(got.envelope?.matdesc, { gen: '2025' });
      // The keys file's encryption context is part of the key.
      await assert.rejects(new EncryptionClient(oss, { masterKey: new KmsMasterKey({ keyId: kmsB, ...kmsOptions }) }).get(name), {
        code: 'ERR_CSE_NO_MATCHING_KEY',
      });
    }
  });

  test('keys list on a fresh home creates nothing and says so; bad keys files are clear errors', async () => {
    const fresh = { ...env, OSS_CSE_HOME: join(work, 'fresh-home') };
    let r = await runCli(['keys', 'list'], fresh);
    assert.ok(!existsSync(join(work, 'fresh-home')), 'nothing created');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no keys configured; .*fresh-home\/keys\/private\.pem/);
    r = await inProcess(['keys', 'list', '--kms-key-id', 'alias/main'], fresh);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /encrypts {2}kms:alias\/main {2}\{\}\n {10}KMS key alias\/main, region cn-hangzhou, endpoint the embedded server/);
    const bad = join(work, 'bad.json');
    for (const [entry, message] of [
      [{ type: 'kms' }, /"keyId".*is required/],
      [{ type: 'kms', keyId: 'k', privateKey: 'a.pem' }, /KMS entry takes no "privateKey"/],
      [{ type: 'kms', keyId: 'k', writeForm: 'java' }, /"writeForm" must be "go" or "oss2"/],
      [{ type: 'hsm', keyId: 'k' }, /"type" must be "rsa" \(the default\) or "kms"/],
      [{ privateKey: 'a.pem', keyId: 'k' }, /need "type": "kms"/],
    ] as const) {
      writeFileSync(bad, JSON.stringify({ keys: [entry] }));
      r = await inProcess(['keys', 'list', '--keys', bad], fresh);
      assert.equal(r.code, 1, JSON.stringify(entry));
      assert.match(r.stderr, ERROR_LINE);
      assert.match(r.stderr, message);
    }
  });
});
