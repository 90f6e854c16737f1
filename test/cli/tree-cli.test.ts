// `cp` and `sync` through the real bin/oss-cse.js against a server started here: directory trees round-trip byte for
// byte with filters and nested paths, symlinks are skipped unless followed, -n keeps local files, a failing file is
// reported without stopping the others (summary, exit 1, --fail-fast), sync's second run transfers 0 bytes,
// --delete and --dry-run do what they say, and `ls`/`rm -r`/`rb` manage what cp made.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { vectorKeys } from '../helpers/vectors.js';
import { ossFor } from '../transfer/support.js';

const BUCKET = 'tree-tests';
const root = mkdtempSync(join(tmpdir(), 'oss-cse-tree-'));
let server: RunningServer;
let env: NodeJS.ProcessEnv;

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET], kms: false });
  env = cliEnv(server, join(root, 'home'));
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

async function cli(args: readonly string[]) {
  return runCli([...args, '--endpoint', server.endpoint, '--private-key', vectorKeys.privatePath()], env);
}

/** Every regular file below `dir`, relative path → contents. */
function tree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile()) out.set(relative(dir, p).split('\\').join('/'), readFileSync(p));
    }
  };
  visit(dir);
  return out;
}

function makeSource(dir: string): void {
  mkdirSync(join(dir, 'a', 'b', 'c'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'top.txt'), 'top\n');
  writeFileSync(join(dir, 'a', 'one.bin'), randomBytes(70_001));
  writeFileSync(join(dir, 'a', 'b', 'c', 'deep name.txt'), 'deep\n');
  writeFileSync(join(dir, 'a', 'b', 'empty.txt'), '');
  writeFileSync(join(dir, 'logs', 'x.log'), 'log\n');
  writeFileSync(join(dir, 'a', 'skip.log'), 'log\n');
}

describe('cp', () => {
  const src = join(root, 'cp-src');
  before(() => {
    makeSource(src);
    symlinkSync(join(src, 'top.txt'), join(src, 'a', 'link.txt'));
  });

  test('cp -r up and down with --exclude and nested paths: the restored tree equals the filtered source byte for byte', async () => {
    let r = await cli(['cp', '-r', src, `oss://${BUCKET}/cp/`, '--exclude', '*.log', '--jobs', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cp: 4 files transferred/);
    assert.match(r.stderr, /skipped \S*link\.txt: a symbolic link \(use --follow-symlinks\)/);
    const out = join(root, 'cp-out');
    r = await cli(['cp', '-r', `oss://${BUCKET}/cp/`, out]);
    assert.equal(r.code, 0, r.stderr);
    const expected = new Map([...tree(src)].filter(([k]) => !k.endsWith('.log') && k !== 'a/link.txt'));
    assert.deepEqual(tree(out), expected);
    // The objects are encrypted: a plain listing shows them, ls -l marks them.
    r = await cli(['ls', '-l', '-r', `oss://${BUCKET}/cp/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / 70001 enc +cp\/a\/one\.bin\n/);
    assert.match(r.stdout, /cp\/a\/b\/c\/deep name\.txt/);
  });

  test('--include keeps only matching paths; --follow-symlinks uploads the link target; several sources go under the prefix', async () => {
    let r = await cli(['cp', '-r', src, `oss://${BUCKET}/inc/`, '--include', 'a/**', '--exclude', '*.log', '--follow-symlinks']);
    assert.equal(r.code, 0, r.stderr);
    const out = join(root, 'inc-out');
    r = await cli(['cp', '-r', `oss://${BUCKET}/inc/`, out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...tree(out).keys()].sort(), ['a/b/c/deep name.txt', 'a/b/empty.txt', 'a/link.txt', 'a/one.bin']);
    assert.equal(readFileSync(join(out, 'a', 'link.txt'), 'utf8'), 'top\n');
    r = await cli(['cp', join(src, 'top.txt'), join(src, 'a', 'one.bin'), `oss://${BUCKET}/many`]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['ls', `oss://${BUCKET}/many/`, '--json']);
    assert.deepEqual(JSON.parse(r.stdout).objects.map((o: { key: string }) => o.key).sort(), ['many/one.bin', 'many/top.txt']);
  });

  test('-n keeps an existing local file (listed as skipped); without it the file is overwritten', async () => {
    const out = join(root, 'noclobber');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'top.txt'), 'mine\n');
    let r = await cli(['cp', '-n', `oss://${BUCKET}/cp/top.txt`, out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /skipped \S*top\.txt: exists \(--no-clobber\)/);
    assert.equal(readFileSync(join(out, 'top.txt'), 'utf8'), 'mine\n');
    r = await cli(['cp', `oss://${BUCKET}/cp/top.txt`, out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'top.txt'), 'utf8'), 'top\n');
  });

  test('a file that fails is reported, the others are copied, the summary counts it, exit 1; --fail-fast stops the rest', async () => {
    // One object under a key the CLI does not hold: its download fails with ERR_CSE_NO_MATCHING_KEY.
    const other = await generateRsaKeyPair(2048);
    const stranger = new EncryptionClient(ossFor(server), { masterKey: new RsaMasterKey({ privateKey: other.privateKeyPem }) });
    await stranger.put('mixed/b-foreign.txt', Buffer.from('not yours'), { bucket: BUCKET });
    const mine = new EncryptionClient(ossFor(server), { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
    for (const name of ['a.txt', 'c.txt', 'd.txt']) await mine.put(`mixed/${name}`, Buffer.from(name), { bucket: BUCKET });
    const out = join(root, 'mixed-out');
    let r = await cli(['cp', '-r', `oss://${BUCKET}/mixed/`, out, '--jobs', '1']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error \[ERR_CSE_NO_MATCHING_KEY\]: oss:\/\/tree-tests\/mixed\/b-foreign\.txt: /m);
    assert.match(r.stderr, /cp: 3 files transferred \(\d+ bytes\), 1 failed\n$/);
    assert.deepEqual([...tree(out).keys()].sort(), ['a.txt', 'c.txt', 'd.txt']);
    assert.equal(existsSync(join(out, 'b-foreign.txt')), false);
    const ff = join(root, 'mixed-ff');
    r = await cli(['cp', '-r', `oss://${BUCKET}/mixed/`, ff, '--jobs', '1', '--fail-fast', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as { results: { status: string }[]; summary: { failed: number; notStarted: number } };
    assert.deepEqual(report.results.map((x) => x.status), ['done', 'failed', 'not-started', 'not-started']);
    assert.deepEqual(report.summary.failed, 1);
    const error = JSON.parse(r.stderr) as { error: { code: string; message: string } };
    assert.equal(error.error.code, 'ERR_CSE_NO_MATCHING_KEY');
  });

  test('a directory without -r and a prefix without -r are failures naming -r; OSS to OSS is a usage error', async () => {
    let r = await cli(['cp', src, `oss://${BUCKET}/x/`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is a directory \(use -r\)/);
    r = await cli(['cp', `oss://${BUCKET}/cp/`, join(root, 'nope')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is a prefix \(use -r\)/);
    r = await cli(['cp', `oss://${BUCKET}/cp/top.txt`, `oss://${BUCKET}/y`]);
    assert.equal(r.code, 2);
  });
});

describe('sync', () => {
  const src = join(root, 'sync-src');
  const url = `oss://${BUCKET}/sync/`;
  before(() => {
    makeSource(src);
  });

  test('up: the first run sends everything, the second transfers 0 bytes and says so, a change sends only that file', async () => {
    let r = await cli(['sync', src, url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sync: 6 files transferred/);
    r = await cli(['sync', src, url]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'sync: nothing to do: 0 files transferred (0 bytes), 6 unchanged\n');
    writeFileSync(join(src, 'top.txt'), 'changed, longer\n');
    r = await cli(['sync', src, url, '--json']);
    const report = JSON.parse(r.stdout) as { results: { action: string; source: string }[]; summary: { bytes: number; unchanged: number } };
    assert.deepEqual(report.results.map((x) => [x.action, relative(src, x.source)]), [['upload', 'top.txt']]);
    assert.deepEqual([report.summary.bytes, report.summary.unchanged], [16, 5]);
  });

  test('down: restores byte for byte, then a second run transfers 0 bytes (times are restored too)', async () => {
    const out = join(root, 'sync-out');
    let r = await cli(['sync', url, out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tree(out), tree(src));
    assert.equal(Math.round(statSync(join(out, 'a', 'one.bin')).mtimeMs), Math.round(statSync(join(src, 'a', 'one.bin')).mtimeMs));
    r = await cli(['sync', url, out]);
    assert.equal(r.stdout, 'sync: nothing to do: 0 files transferred (0 bytes), 6 unchanged\n');
  });

  test('--dry-run lists the plan and changes nothing; --delete removes what the source no longer has, both ways', async () => {
    rmSync(join(src, 'logs'), { recursive: true });
    let r = await cli(['sync', src, url, '--delete', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(dry run\) delete: oss:\/\/tree-tests\/sync\/logs\/x\.log\n/);
    r = await cli(['ls', '-r', url, '--json']);
    assert.ok(JSON.parse(r.stdout).objects.some((o: { key: string }) => o.key === 'sync/logs/x.log'));
    r = await cli(['sync', src, url, '--delete']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 deleted/);
    r = await cli(['ls', '-r', url, '--json']);
    assert.ok(!JSON.parse(r.stdout).objects.some((o: { key: string }) => o.key === 'sync/logs/x.log'));
    const out = join(root, 'sync-out');
    writeFileSync(join(out, 'stray.txt'), 'stray');
    r = await cli(['sync', url, out, '--delete']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tree(out), tree(src));
  });

  test('filters apply to sync: excluded files are neither sent nor deleted', async () => {
    const url2 = `oss://${BUCKET}/sync2/`;
    let r = await cli(['sync', src, url2, '--exclude', 'a/**']);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['ls', '-r', url2, '--json']);
    assert.deepEqual(JSON.parse(r.stdout).objects.map((o: { key: string }) => o.key), ['sync2/top.txt']);
  });
});

describe('ls, rm -r, rb', () => {
  test('ls lists buckets; rm of a prefix without -r deletes nothing and says -r; rm -r empties it; rb removes the bucket', async () => {
    let r = await cli(['mb', 'oss://rb-tests']);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['ls', '--json']);
    assert.deepEqual(JSON.parse(r.stdout).buckets.map((b: { bucket: string }) => b.bucket).sort(), ['rb-tests', BUCKET].sort());
    r = await cli(['cp', '-r', join(root, 'cp-src'), 'oss://rb-tests/p/']);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['rm', 'oss://rb-tests/p/']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nothing was deleted: oss:\/\/rb-tests\/p\/ is a prefix; use rm -r oss:\/\/rb-tests\/p\//);
    r = await cli(['rb', 'oss://rb-tests']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /BucketNotEmpty/);
    r = await cli(['rm', '-r', 'oss://rb-tests/p/', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).deleted.length, 6);
    r = await cli(['rb', 'oss://rb-tests']);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(['ls']);
    assert.doesNotMatch(r.stdout, /rb-tests/);
  });
});
