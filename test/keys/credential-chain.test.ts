// KmsMasterKey without explicit credentials takes them from the official default chain (@alicloud/credentials):
// here the chain's shared-credentials-file provider (ALIBABA_CLOUD_CREDENTIALS_FILE), with the environment variables
// unset and the ECS metadata and CLI-profile providers disabled, so nothing leaves loopback. The KMS emulator accepts
// only the profile's key pair, so a round trip proves the SDK signed with what the chain found.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKmsServer, type KmsServer } from '../../server/src/kms/index.js';
import { ErrorCode, isCseError } from '../../src/errors.js';
import { defaultCredentialChain, resolveChainCredentials } from '../../src/keys/credential-chain.js';
import { KmsMasterKey } from '../../src/keys/kms.js';
import { decryptObject, encryptObject } from '../../src/object-crypto.js';

const PROFILE = { accessKeyId: 'chain-profile-ak', accessKeySecret: 'chain-profile-secret' };
const CHAIN_ENV = ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN', 'ALIBABA_CLOUD_CREDENTIALS_FILE', 'ALIBABA_CLOUD_ECS_METADATA_DISABLED', 'ALIBABA_CLOUD_CLI_PROFILE_DISABLED', 'ALIBABA_CLOUD_PROFILE', 'ALIBABA_CLOUD_ROLE_ARN', 'ALIBABA_CLOUD_OIDC_PROVIDER_ARN', 'ALIBABA_CLOUD_OIDC_TOKEN_FILE', 'ALIBABA_CLOUD_CREDENTIALS_URI'];

describe('KMS credentials from the official default chain', () => {
  let server: KmsServer;
  let keyId: string;
  let dir: string;
  const saved = new Map<string, string | undefined>();

  before(async () => {
    for (const name of CHAIN_ENV) {
      saved.set(name, process.env[name]);
      Reflect.deleteProperty(process.env, name);
    }
    dir = mkdtempSync(join(tmpdir(), 'oss-cse-chain-'));
    const file = join(dir, 'credentials.ini');
    writeFileSync(file, `[default]\ntype = access_key\naccess_key_id = ${PROFILE.accessKeyId}\naccess_key_secret = ${PROFILE.accessKeySecret}\n`);
    process.env.ALIBABA_CLOUD_CREDENTIALS_FILE = file;
    process.env.ALIBABA_CLOUD_ECS_METADATA_DISABLED = 'true';
    process.env.ALIBABA_CLOUD_CLI_PROFILE_DISABLED = 'true';
    server = await startKmsServer({ memory: true, credentials: [PROFILE] });
    keyId = (await server.service.createKey({ description: 'chain' })).KeyId;
  });

  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    for (const [name, value] of saved) {
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
  });

  test('resolveChainCredentials reads the profile file through @alicloud/credentials', async () => {
    const got = await resolveChainCredentials(await defaultCredentialChain());
    assert.equal(got.accessKeyId, PROFILE.accessKeyId);
    assert.equal(got.accessKeySecret, PROFILE.accessKeySecret);
  });

  test('a KmsMasterKey without credentials wraps and unwraps with what the chain found', async () => {
    const masterKey = new KmsMasterKey({ keyId, region: 'cn-hangzhou', endpoint: `http://${server.hostPort}` });
    const plaintext = Buffer.from('sealed with chain credentials');
    const sealed = await encryptObject(plaintext, { masterKey });
    assert.deepEqual(await decryptObject({ headers: sealed.headers, body: sealed.body }, { masterKeys: [masterKey] }), plaintext);
  });

  test('explicit credentials still win over the chain (the emulator refuses these)', async () => {
    const masterKey = new KmsMasterKey({
      keyId,
      region: 'cn-hangzhou',
      endpoint: `http://${server.hostPort}`,
      credentials: { accessKeyId: 'not-the-profile', accessKeySecret: 'x' },
      retry: { attempts: 1 },
    });
    await assert.rejects(encryptObject(Buffer.from('x'), { masterKey }), (e: unknown) => isCseError(e));
  });

  test('an empty chain fails on first use with a message naming where it looked, never a value', async () => {
    const masterKey = new KmsMasterKey({
      keyId,
      region: 'cn-hangzhou',
      endpoint: `http://${server.hostPort}`,
      loadCredentials: async () => ({
        default: class {
          async getCredential(): Promise<never> {
            return Promise.reject(new Error('nothing configured'));
          }
        },
      }),
    });
    await assert.rejects(encryptObject(Buffer.from('x'), { masterKey }), (e: unknown) => {
      assert.ok(isCseError(e, ErrorCode.INVALID_ARGUMENT), String(e));
      assert.match(e.message, /default chain/);
      return true;
    });
  });

  test('@alicloud/credentials missing: ERR_CSE_MISSING_DEPENDENCY saying what to install', async () => {
    const missing = Object.assign(new Error('Cannot find package'), { code: 'ERR_MODULE_NOT_FOUND' });
    const masterKey = new KmsMasterKey({
      keyId,
      region: 'cn-hangzhou',
      endpoint: `http://${server.hostPort}`,
      loadCredentials: async () => Promise.reject(missing),
    });
    await assert.rejects(encryptObject(Buffer.from('x'), { masterKey }), (e: unknown) => {
      assert.ok(isCseError(e, ErrorCode.MISSING_DEPENDENCY), String(e));
      assert.match(e.message, /npm install @alicloud\/credentials/);
      return true;
    });
  });
});
