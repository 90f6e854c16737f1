/**
 * The data directory's safety (issue 14, item 7): a warning at start when `credentials.json` is readable by others,
 * and no symbolic link inside the data directory is ever followed — a planted link can make the server neither read
 * nor write outside it (server/src/nofollow.ts). Driven by real ali-oss; Linux/macOS only (POSIX modes and links).
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OSS from 'ali-oss';
import { startServer, type RunningServer } from '../../server/src/index.js';

const SKIP = process.platform === 'win32' ? 'POSIX modes and symbolic links' : undefined;
const BUCKET = 'linked';

function client(server: RunningServer): OSS {
  return new OSS({ endpoint: server.endpoint, region: 'oss-cn-hangzhou', bucket: BUCKET, ...server.credentials, timeout: 20_000 });
}

const shardOf = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 2);

describe('data directory safety', { skip: SKIP }, () => {
  let root: string;
  let outside: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'oss-cse-datadir-'));
    outside = join(root, 'outside');
    await mkdir(outside);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('warns once at start when credentials.json is readable by its group or everyone, and not when it is 0600', async () => {
    const dir = join(root, 'creds');
    const quiet: string[] = [];
    await (await startServer({ dataDir: dir, kms: false, log: (l) => quiet.push(l) })).close();
    assert.deepEqual(quiet, [], 'a fresh 0600 credentials file gives no warning');
    for (const [mode, who] of [[0o644, 'everyone'], [0o640, 'its group']] as const) {
      await chmod(join(dir, 'credentials.json'), mode);
      const logged: string[] = [];
      await (await startServer({ dataDir: dir, kms: false, log: (l) => logged.push(l) })).close();
      const warnings = logged.filter((l) => l.includes('credentials.json'));
      assert.equal(warnings.length, 1, logged.join('\n'));
      assert.match(warnings[0]!, new RegExp(`mode 0${mode.toString(8)}\\) is readable by ${who}.*chmod 600`));
    }
  });

  it('never reads outside through a link planted in place of an object body (O_NOFOLLOW)', async () => {
    const dir = join(root, 'read');
    let server = await startServer({ dataDir: dir, buckets: [BUCKET], kms: false, log: () => undefined });
    await client(server).put('k', Buffer.from('inside bytes!'));
    await server.close();
    const secret = join(outside, 'secret.txt');
    await writeFile(secret, 'OUTSIDE SECRET');
    const shard = join(dir, 'buckets', BUCKET, 'objects', shardOf('k'));
    const body = (await readdir(shard)).find((f) => f.endsWith('.body'))!;
    await unlink(join(shard, body));
    await symlink(secret, join(shard, body));

    server = await startServer({ dataDir: dir, buckets: [BUCKET], kms: false, log: () => undefined });
    try {
      const c = client(server);
      const got = await c.get('k').then(
        (r) => r.content.toString('latin1'),
        (e: unknown) => e as { status?: number },
      );
      assert.ok(typeof got !== 'string', `the server must refuse, it answered ${JSON.stringify(got)}`);
      assert.equal(got.status, 500);
      await c.put('k2', Buffer.from('other objects still work'));
      assert.equal((await c.get('k2')).content.toString(), 'other objects still work');
    } finally {
      await server.close();
    }
  });

  it('never writes outside through a link planted in place of an object directory', async () => {
    const dir = join(root, 'write');
    const server = await startServer({ dataDir: dir, buckets: [BUCKET], kms: false, log: () => undefined });
    try {
      const target = join(outside, 'write-target');
      await mkdir(target);
      await symlink(target, join(dir, 'buckets', BUCKET, 'objects', shardOf('w')));
      const c = client(server);
      await assert.rejects(c.put('w', Buffer.from('must not leave the data directory')), (e: { status?: number }) => e.status === 500);
      assert.deepEqual(await readdir(target), [], 'nothing was written through the link');
      await assert.rejects(c.head('w'), (e: { status?: number }) => e.status === 404);
      // A read through the linked directory is refused as well.
      await writeFile(join(target, 'planted.body'), 'x');
      await assert.rejects(c.get('w'), (e: { status?: number }) => e.status === 404);
    } finally {
      await server.close();
    }
  });

  it('refuses to start when a bucket directory, the KMS directory or credentials.json is a link', async () => {
    const dir = join(root, 'start');
    const first = await startServer({ dataDir: dir, buckets: [BUCKET], log: () => undefined });
    await new OSS({ endpoint: first.endpoint, region: 'oss-cn-hangzhou', bucket: BUCKET, ...first.credentials }).put('x', Buffer.from('x'));
    await first.close();

    const evil = join(outside, 'evil-bucket');
    await mkdir(join(evil, 'objects'), { recursive: true });
    await mkdir(join(evil, 'uploads'));
    await writeFile(join(evil, 'bucket.json'), JSON.stringify({ name: 'evil', created: 0 }));
    await symlink(evil, join(dir, 'buckets', 'evil'));
    await assert.rejects(startServer({ dataDir: dir, log: () => undefined }), /evil is a symbolic link/);
    await unlink(join(dir, 'buckets', 'evil'));

    const kmsOutside = join(outside, 'kms');
    await mkdir(kmsOutside);
    await writeFile(join(kmsOutside, 'keys.json'), '{}');
    await rm(join(dir, 'kms'), { recursive: true, force: true });
    await symlink(kmsOutside, join(dir, 'kms'));
    await assert.rejects(startServer({ dataDir: dir, log: () => undefined }), /kms is a symbolic link/);
    await unlink(join(dir, 'kms'));

    const credsOutside = join(outside, 'credentials.json');
    await writeFile(credsOutside, await readFile(join(dir, 'credentials.json')), { mode: 0o600 });
    await unlink(join(dir, 'credentials.json'));
    await symlink(credsOutside, join(dir, 'credentials.json'));
    await assert.rejects(startServer({ dataDir: dir, log: () => undefined }), /credentials\.json is a symbolic link/);
  });
});
