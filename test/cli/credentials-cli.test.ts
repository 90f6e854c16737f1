// Credentials and configuration through the real bin/oss-cse.js against a server started here: profiles of a
// temporary ~/.alibabacloud/credentials (HOME is set) through the official @alicloud/credentials providers, the
// default chain's [default] profile, precise errors for a missing profile or no credentials at all, and
// `oss-cse config` with its precedence: flags > environment > config file > defaults.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { runCli } from '../helpers/cli.js';
import { vectorKeys } from '../helpers/vectors.js';

const BUCKET = 'cred-tests';
const root = mkdtempSync(join(tmpdir(), 'oss-cse-cred-'));
let server: RunningServer;

/** No credentials anywhere but the temporary HOME; instance metadata and ~/.aliyun turned off (no traffic leaves). */
function envWith(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const blank = ['OSS_ENDPOINT', 'OSS_REGION', 'OSS_CSE_PUBLIC_KEY', 'OSS_CSE_PRIVATE_KEY', 'OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET',
    'OSS_SESSION_TOKEN', 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN',
    'ALIBABA_CLOUD_PROFILE', 'ALIBABA_CLOUD_CREDENTIALS_FILE', 'ALIBABA_CLOUD_ROLE_ARN', 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN',
    'ALIBABA_CLOUD_OIDC_TOKEN_FILE', 'ALIBABA_CLOUD_CREDENTIALS_URI', 'ALIBABA_CLOUD_ECS_METADATA'];
  return {
    ...Object.fromEntries(blank.map((k) => [k, ''])),
    HOME: home,
    OSS_CSE_HOME: join(home, '.oss-cse'),
    ALIBABA_CLOUD_ECS_METADATA_DISABLED: 'true',
    ALIBABA_CLOUD_CLI_PROFILE_DISABLED: 'true',
    ...extra,
  };
}

let home: string;

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET], kms: false });
  home = join(root, 'home');
  mkdirSync(join(home, '.alibabacloud'), { recursive: true });
  const { accessKeyId, accessKeySecret } = server.credentials;
  writeFileSync(
    join(home, '.alibabacloud', 'credentials'),
    [
      '[default]', 'type = access_key', `access_key_id = ${accessKeyId}`, `access_key_secret = ${accessKeySecret}`, '',
      '[backup]', 'type = access_key', `access_key_id = ${accessKeyId}`, `access_key_secret = ${accessKeySecret}`, '',
      '[wrong]', 'type = access_key', 'access_key_id = LTAInotthisone', 'access_key_secret = nope', '',
    ].join('\n'),
    { mode: 0o600 },
  );
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

function ls(extra: readonly string[] = []): string[] {
  return ['ls', `oss://${BUCKET}`, '--private-key', vectorKeys.privatePath(), ...extra];
}

describe('credentials', () => {
  test('--profile NAME reads that section of ~/.alibabacloud/credentials', async () => {
    const r = await runCli(ls(['--endpoint', server.endpoint, '--profile', 'backup']), envWith(home));
    assert.equal(r.code, 0, r.stderr);
  });

  test('without --profile, the default chain finds the [default] profile; ALIBABA_CLOUD_PROFILE picks another', async () => {
    let r = await runCli(ls(['--endpoint', server.endpoint]), envWith(home));
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(ls(['--endpoint', server.endpoint]), envWith(home, { ALIBABA_CLOUD_PROFILE: 'wrong' }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ERR_CSE_TRANSFER\]: .*HTTP 403 InvalidAccessKeyId/);
  });

  test('a profile that does not exist, or no credentials anywhere, is one precise error line', async () => {
    let r = await runCli(ls(['--endpoint', server.endpoint, '--profile', 'missing']), envWith(home));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ERR_CSE_INVALID_ARGUMENT\]: no credentials for http:\/\/127\.0\.0\.1:\d+: check the \[missing\] section of ~\/\.alibabacloud\/credentials .*\n$/);
    const empty = join(root, 'empty-home');
    mkdirSync(empty, { recursive: true });
    r = await runCli(ls(['--endpoint', server.endpoint]), envWith(empty));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ERR_CSE_INVALID_ARGUMENT\]: no credentials for .*: set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET .*--profile NAME/);
    assert.equal(r.stderr.split('\n').length, 2);
  });

  test('OSS_ACCESS_KEY_ID/SECRET still work, and the ALIBABA_CLOUD_* variables through the chain', async () => {
    const { accessKeyId, accessKeySecret } = server.credentials;
    const empty = join(root, 'empty-home');
    let r = await runCli(ls(['--endpoint', server.endpoint]), envWith(empty, { OSS_ACCESS_KEY_ID: accessKeyId, OSS_ACCESS_KEY_SECRET: accessKeySecret }));
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(ls(['--endpoint', server.endpoint]), envWith(empty, { ALIBABA_CLOUD_ACCESS_KEY_ID: accessKeyId, ALIBABA_CLOUD_ACCESS_KEY_SECRET: accessKeySecret }));
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('config', () => {
  test('config set/get/list/unset keep settings in $OSS_CSE_HOME/config.json (0600); unknown settings exit 2', async () => {
    const env = envWith(home);
    let r = await runCli(['config', 'set', 'profile', 'backup'], env);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['config', 'get', 'profile'], env);
    assert.equal(r.stdout, 'backup\n');
    r = await runCli(['config', 'list', '--json'], env);
    assert.deepEqual(JSON.parse(r.stdout).settings, { profile: 'backup' });
    assert.equal(statSync(join(home, '.oss-cse', 'config.json')).mode & 0o777, 0o600);
    r = await runCli(['config', 'set', 'endpiont', 'x'], env);
    assert.equal(r.code, 2);
    r = await runCli(['config', 'unset', 'profile'], env);
    assert.equal(r.code, 0);
    r = await runCli(['config', 'get', 'profile'], env);
    assert.equal(r.code, 1);
  });

  test('precedence: flags > environment > config file > defaults', async () => {
    const cfgHome = join(root, 'cfg-home');
    mkdirSync(cfgHome, { recursive: true });
    const env = envWith(home, { OSS_CSE_HOME: cfgHome });
    const dead = 'http://127.0.0.1:1';
    // The file alone: its endpoint and profile are used.
    await runCli(['config', 'set', 'endpoint', server.endpoint], env);
    await runCli(['config', 'set', 'profile', 'backup'], env);
    let r = await runCli(ls(), env);
    assert.equal(r.code, 0, r.stderr);
    // The environment beats the file.
    r = await runCli(ls(), { ...env, OSS_ENDPOINT: dead });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ECONNREFUSED/);
    await runCli(['config', 'set', 'endpoint', dead], env);
    r = await runCli(ls(), { ...env, OSS_ENDPOINT: server.endpoint });
    assert.equal(r.code, 0, r.stderr);
    // A flag beats both.
    r = await runCli(ls(['--endpoint', server.endpoint]), { ...env, OSS_ENDPOINT: dead });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(ls(['--endpoint', server.endpoint, '--profile', 'wrong']), env);
    assert.equal(r.code, 1, 'the --profile flag beats the configured profile');
  });
});
