// Issue 17 item 8 through the real bin/oss-cse.js: --private-key given a public key or a non-key file fails at once
// and says so; an encrypted PEM without its passphrase names OSS_CSE_KEY_PASSPHRASE (and so does every help that
// loads private keys); KMS with an explicit --kms-endpoint needs no region; rewrap reports the object's stored matdesc
// as "from".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { commands } from '../../src/cli/commands/index.js';
import { runCli } from '../helpers/cli.js';
import { vectorKeys } from '../helpers/vectors.js';

const BUCKET = 'fix-tests';
const root = mkdtempSync(join(tmpdir(), 'oss-cse-fixes-'));
let server: RunningServer;
let env: NodeJS.ProcessEnv;

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET], kms: true });
  const blank = ['OSS_ENDPOINT', 'OSS_REGION', 'OSS_CSE_PUBLIC_KEY', 'OSS_CSE_PRIVATE_KEY', 'OSS_SESSION_TOKEN', 'ALIBABA_CLOUD_SECURITY_TOKEN',
    'ALIBABA_CLOUD_REGION_ID', 'OSS_CSE_KEY_PASSPHRASE'];
  env = {
    ...Object.fromEntries(blank.map((k) => [k, ''])),
    OSS_CSE_HOME: join(root, 'home'),
    OSS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    OSS_ACCESS_KEY_SECRET: server.credentials.accessKeySecret,
    ALIBABA_CLOUD_ACCESS_KEY_ID: server.credentials.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: server.credentials.accessKeySecret,
  };
  writeFileSync(join(root, 'data.txt'), 'some data\n');
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

describe('private keys', () => {
  test('--private-key with a public key, or with a file that is no key, fails at once naming the problem', async () => {
    let r = await runCli(['get', `oss://${BUCKET}/x`, join(root, 'out'), '--endpoint', server.endpoint, '--private-key', vectorKeys.publicPath()], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ERR_CSE_INVALID_KEY\]: --private-key \S+rsa2048-public-pkix\.pem holds a public key, which cannot decrypt/);
    r = await runCli(['get', `oss://${BUCKET}/x`, join(root, 'out'), '--endpoint', server.endpoint, '--private-key', join(root, 'data.txt')], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ERR_CSE_INVALID_KEY\]: \S+data\.txt is not a PEM key file/);
  });

  test('an encrypted private key without its passphrase names OSS_CSE_KEY_PASSPHRASE; with it, the key loads', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret words' });
    const path = join(root, 'encrypted.pem');
    writeFileSync(path, pem, { mode: 0o600 });
    const args = ['put', join(root, 'data.txt'), `oss://${BUCKET}/enc.txt`, '--endpoint', server.endpoint, '--private-key', path];
    let r = await runCli(args, env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no passphrase was given \(set OSS_CSE_KEY_PASSPHRASE to the PEM's passphrase\)/);
    r = await runCli(args, { ...env, OSS_CSE_KEY_PASSPHRASE: 'secret words' });
    assert.equal(r.code, 0, r.stderr);
  });

  test('every command whose help offers --private-key names OSS_CSE_KEY_PASSPHRASE in it', () => {
    const loading = commands.filter((c) => /--private-key/.test(c.help));
    assert.ok(loading.length >= 8, loading.map((c) => c.name).join(' '));
    for (const c of loading) assert.match(c.help, /OSS_CSE_KEY_PASSPHRASE/, c.name);
  });
});

describe('KMS and rewrap', () => {
  test('an explicit --kms-endpoint needs no region (keys create-kms, then put and get)', async () => {
    let r = await runCli(['keys', 'create-kms', '--kms-endpoint', server.endpoint], env);
    assert.equal(r.code, 0, r.stderr);
    const keyId = r.stdout.trim();
    const kms = ['--endpoint', server.endpoint, '--kms-key-id', keyId, '--kms-endpoint', server.endpoint];
    r = await runCli(['put', join(root, 'data.txt'), `oss://${BUCKET}/kms.txt`, ...kms], env);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['cat', `oss://${BUCKET}/kms.txt`, ...kms], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'some data\n');
  });

  test("rewrap reports the object's stored matdesc as from (not the opening key's description)", async () => {
    const key = ['--endpoint', server.endpoint, '--private-key', vectorKeys.privatePath()];
    let r = await runCli(['put', join(root, 'data.txt'), `oss://${BUCKET}/rot/a.txt`, ...key, '--matdesc', '{"gen":"1"}'], env);
    assert.equal(r.code, 0, r.stderr);
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const to = join(root, 'new-public.pem');
    writeFileSync(to, publicKey.export({ type: 'spki', format: 'pem' }));
    // The opening key is described {} (no --matdesc): the fallback policy opens the object anyway.
    r = await runCli(['rewrap', `oss://${BUCKET}/rot/`, ...key, '--to-public-key', to, '--matdesc', '{"gen":"2"}', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { objects: { from: { matdesc: unknown }; to: { matdesc: unknown } }[] };
    assert.deepEqual(
      report.objects.map((o) => [o.from.matdesc, o.to.matdesc]),
      [[{ gen: '1' }, { gen: '2' }]],
    );
  });
});
