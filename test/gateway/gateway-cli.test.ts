// `oss-cse gateway` as users run it: a separate process from the build, in front of the embedded server (another
// process), its printed contract, stored client credentials, the loopback rule, and what a gateway killed in the
// middle of uploads leaves upstream: no visible object.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { SKIP, credentialsFrom, keyFiles, plainClient, startCli, startUpstream } from './support.js';

describe('oss-cse gateway (command line)', { skip: SKIP }, () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let keys: Awaited<ReturnType<typeof keyFiles>>;
  let env: NodeJS.ProcessEnv;
  let args: string[];

  before(async () => {
    upstream = await startUpstream();
    keys = await keyFiles();
    env = {
      ...process.env,
      OSS_ACCESS_KEY_ID: upstream.credentials.accessKeyId,
      OSS_ACCESS_KEY_SECRET: upstream.credentials.accessKeySecret,
      OSS_CSE_HOME: join(keys.dir, 'home'),
    };
    args = ['gateway', '--endpoint', upstream.endpoint, '--private-key', keys.privatePath];
  });
  after(async () => {
    await upstream.stop();
    await rm(keys.dir, { recursive: true, force: true });
  });

  it('prints exactly the listening line and the generated client credentials, stored under $OSS_CSE_HOME/gateway', async () => {
    const g = await startCli(args, env, 3);
    assert.match(g.lines[0]!, /^oss-cse gateway listening on http:\/\/127\.0\.0\.1:\d+$/);
    const endpoint = g.lines[0]!.slice('oss-cse gateway listening on '.length);
    const credentials = credentialsFrom(g.lines);
    assert.notEqual(credentials.accessKeyId, upstream.credentials.accessKeyId, 'clients never get the upstream credentials');
    const file = join(keys.dir, 'home', 'gateway', 'credentials.json');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), credentials);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const client = plainClient(endpoint, credentials);
    await client.put('cli/hello.txt', Buffer.from('hello through the gateway'));
    assert.equal(Buffer.from((await client.get('cli/hello.txt')).content).toString(), 'hello through the gateway');
    g.child.kill('SIGTERM');
    const end = await g.exited;
    assert.equal(end.code, 0, end.stderr);

    // Given credentials are used and not printed.
    const given = { accessKeyId: 'LTAIgivenGatewayKeyId01', accessKeySecret: 'given-gateway-secret-000001' };
    const h = await startCli([...args, '--access-key-id', given.accessKeyId, '--access-key-secret', given.accessKeySecret], env, 1);
    const again = plainClient(h.lines[0]!.slice('oss-cse gateway listening on '.length), given, { v4: true });
    assert.equal(Buffer.from((await again.get('cli/hello.txt')).content).toString(), 'hello through the gateway');
    h.child.kill('SIGINT');
    const end2 = await h.exited;
    assert.equal(end2.code, 0, end2.stderr);
    assert.equal(end2.stdout.split('\n').filter((l) => l !== '').length, 1);
  });

  it('refuses a bad --max-connections, --headers-timeout or --idle-timeout as a usage error', async () => {
    for (const [flag, value] of [['--max-connections', '0'], ['--headers-timeout', 'x'], ['--idle-timeout', '1.5']] as const) {
      const r = await runCli([...args, flag, value], env);
      assert.equal(r.code, 2, `${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`${flag} must be a whole number`));
    }
  });

  it('refuses a non-loopback address without --allow-remote', async () => {
    const r = await runCli([...args, '--host', '0.0.0.0'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--allow-remote/);
  });

  it('a gateway killed mid-upload leaves no visible object upstream', async () => {
    const g = await startCli(args, env, 3);
    const endpoint = g.lines[0]!.slice('oss-cse gateway listening on '.length);
    const client = plainClient(endpoint, credentialsFrom(g.lines));
    const direct = plainClient(upstream.endpoint, upstream.credentials);

    // A multipart upload with one part done, and a PutObject whose body is still arriving.
    const file = join(keys.dir, 'kill.bin');
    await writeFile(file, randomBytes(200 * 1024));
    const init = await client.initMultipartUpload('kill/multipart.bin');
    await client.uploadPart('kill/multipart.bin', init.uploadId, 1, file, 0, 100 * 1024);
    const body = new PassThrough();
    const pending = client.putStream('kill/put.bin', body, { contentLength: 8 * 1024 * 1024 }).then(
      () => 'completed',
      () => 'failed',
    );
    for (let i = 0; i < 16; i++) body.write(randomBytes(64 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 300));
    g.child.kill('SIGKILL');
    const end = await g.exited;
    assert.equal(end.signal, 'SIGKILL');
    body.destroy();
    assert.equal(await pending, 'failed');

    const listed = await direct.listV2({ prefix: 'kill/' });
    assert.deepEqual(listed.objects ?? [], [], 'nothing visible upstream');
    await assert.rejects(direct.head('kill/put.bin'), (e: any) => e.status === 404);
    await assert.rejects(direct.head('kill/multipart.bin'), (e: any) => e.status === 404);
  });
});
