// `oss-cse migrate` through the real bin/oss-cse.js (dist/) against an in-process embedded server (issue #18): the
// issue's main scenario — a few hundred mixed objects, three sharded workers at once, one SIGKILLed mid-way and
// restarted with its journal — and the command line's contract (usage errors, failure lines, --json, dry runs).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OSS from 'ali-oss';
import { startServer, type RunningServer, type ServerRequestEntry } from '../../server/src/index.js';
import { shardOfKey } from '../../src/bulk/shard.js';
import { EncryptionClient } from '../../src/client.js';
import { V2Header } from '../../src/format/headers.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { BIN, cliEnv, runCli } from '../helpers/cli.js';
import { writeInventory } from '../helpers/inventory.js';
import { bytesFor, putV1, tagsOf } from '../helpers/migrate.js';
import { vectorKeys } from '../helpers/vectors.js';

const BUCKET = 'mig';
const INVENTORY_BUCKET = 'inv';
const STAGING = '.oss-cse-migrate/';
const CONTENT_TYPES = ['text/plain', 'application/json', 'image/png', 'text/csv'];

interface Expected {
  readonly body: Buffer;
  readonly contentType: string;
  readonly meta: string;
  readonly tags: Record<string, string>;
  readonly kind: 'plaintext' | 'v1' | 'rewrap' | 'target';
}

interface Line {
  readonly summary?: boolean;
  readonly key?: string;
  readonly kind?: string;
  readonly result?: string;
  readonly code?: string;
  readonly [other: string]: unknown;
}

const root = mkdtempSync(join(tmpdir(), 'oss-cse-migrate-'));
let server: RunningServer;
let oss: OSS;
let env: NodeJS.ProcessEnv;
let target: RsaMasterKey;
let targetPath: string;
const log: ServerRequestEntry[] = [];

function ossFor(bucket: string): OSS {
  return new OSS({
    endpoint: server.endpoint,
    region: 'oss-cn-hangzhou',
    bucket,
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    secure: false,
    authorizationV4: true,
  });
}

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET, INVENTORY_BUCKET, 'cli'], kms: false, onRequest: (e) => log.push(e) });
  oss = ossFor(BUCKET);
  env = cliEnv(server, join(root, 'home'));
  const pair = await generateRsaKeyPair(2048);
  targetPath = join(root, 'target.pem');
  writeFileSync(targetPath, pair.privateKeyPem, { mode: 0o600 });
  target = new RsaMasterKey({ privateKey: pair.privateKeyPem, description: { gen: '2' } });
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** The flags every run shares: target, current key, the small multipart threshold. */
function common(): string[] {
  return [
    '--endpoint', server.endpoint,
    '--private-key', vectorKeys.privatePath(),
    '--to-public-key', targetPath,
    '--matdesc', '{"gen":"2"}',
    '--allow-legacy',
    '--multipart-threshold', '256KiB',
    '--part-size', '100KiB',
  ];
}

function start(args: readonly string[], withEnv: NodeJS.ProcessEnv = env): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...withEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

function lines(path: string): Line[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

/** Complete lines in a file (a line being written when a process was killed is not counted). */
function completeLines(path: string): number {
  if (!existsSync(path)) return 0;
  return readFileSync(path, 'utf8').split('\n').length - 1;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Checks a finished run's portion of a report: one summary line whose counts equal the object lines before it. */
function checkRun(run: readonly Line[]): void {
  const summaries = run.filter((l) => l.summary === true);
  assert.equal(summaries.length, 1, 'one summary line per finished run');
  assert.equal(run.at(-1)?.summary, true, 'the summary is the run\'s last line');
  const objects = run.filter((l) => l.summary !== true);
  const s = summaries[0] as Line & { total: number; migrated: number; skipped: number; failed: number };
  assert.equal(s.total, objects.length);
  assert.equal(s.migrated, objects.filter((l) => l.result === 'migrated').length);
  assert.equal(s.skipped, objects.filter((l) => l.result === 'skipped').length);
  assert.equal(s.failed, objects.filter((l) => l.result === 'failed').length);
}

async function populate(prefix: string, count: number): Promise<Map<string, Expected>> {
  const expected = new Map<string, Expected>();
  const oldClient = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
  const targetClient = new EncryptionClient(oss, { masterKey: target });
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${prefix}obj-${String(i).padStart(4, '0')}`;
    const body = bytesFor(key, 50 + ((i * 37) % 1500));
    const contentType = CONTENT_TYPES[i % CONTENT_TYPES.length] ?? 'text/plain';
    const meta = `m${i}`;
    const kind: Expected['kind'] = i % 10 < 5 ? 'plaintext' : i % 10 < 7 ? 'v1' : i % 10 < 9 ? 'rewrap' : 'target';
    const tags: Record<string, string> = kind === 'plaintext' && i % 3 === 0 ? { n: String(i), team: 'a b' } : {};
    const headers: Record<string, string> = { 'Content-Type': contentType, 'x-oss-meta-idx': meta };
    if (Object.keys(tags).length > 0) headers['x-oss-tagging'] = `n=${i}&team=a%20b`;
    if (kind === 'plaintext' && i % 5 === 0) headers['x-oss-storage-class'] = 'IA';
    expected.set(key, { body, contentType, meta, tags, kind });
    if (kind === 'plaintext') jobs.push(oss.put(key, body, { headers }));
    else if (kind === 'v1') jobs.push(putV1(oss, key, body, headers));
    else if (kind === 'rewrap') jobs.push(oldClient.put(key, body, { mime: contentType, meta: { idx: meta } }));
    else jobs.push(targetClient.put(key, body, { mime: contentType, meta: { idx: meta } }));
    if (jobs.length >= 32) await Promise.all(jobs.splice(0));
  }
  const big = `${prefix}big.bin`;
  const bigBody = bytesFor(big, 400 * 1024);
  jobs.push(oss.put(big, bigBody, { headers: { 'Content-Type': 'application/octet-stream', 'x-oss-meta-idx': 'big', 'x-oss-tagging': 'size=big' } }));
  expected.set(big, { body: bigBody, contentType: 'application/octet-stream', meta: 'big', tags: { size: 'big' }, kind: 'plaintext' });
  jobs.push(oss.put(`${prefix}folder/`, Buffer.alloc(0)));
  await Promise.all(jobs);
  return expected;
}

describe('oss-cse migrate', () => {
  test('three sharded workers, one SIGKILLed and restarted with its journal: every object migrated once, reports add up', async () => {
    const expected = await populate('mix/', 260);
    const url = `oss://${BUCKET}/mix/`;

    // An inventory-driven dry run selects exactly what a listing-driven one does.
    const listed = (await oss.listV2({ prefix: '', 'max-keys': '1000' }, {})).objects;
    const manifest = await writeInventory(ossFor(INVENTORY_BUCKET), {
      sourceBucket: BUCKET,
      prefix: 'inventory',
      inventoryId: 'weekly',
      entries: listed.map((o) => ({ key: o.name, size: o.size, etag: o.etag })),
      files: 3,
    });
    const dryListing = join(root, 'dry-listing.jsonl');
    const dryInventory = join(root, 'dry-inventory.jsonl');
    let r = await runCli(['migrate', url, ...common(), '--dry-run', '--report', dryListing, '--quiet'], env);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['migrate', url, ...common(), '--dry-run', '--report', dryInventory, '--quiet', '--inventory', `oss://${INVENTORY_BUCKET}/${manifest}`], env);
    assert.equal(r.code, 0, r.stderr);
    const norm = (path: string): string[] => lines(path).filter((l) => l.summary !== true).map((l) => `${l.key ?? ''} ${l.kind ?? ''} ${l.result ?? ''}`).sort();
    assert.equal(norm(dryListing).length, expected.size + 1, 'every object and the folder marker');
    assert.deepEqual(norm(dryInventory), norm(dryListing));
    for (const l of lines(dryListing).filter((x) => x.summary !== true)) {
      const e = expected.get(l.key ?? '');
      if (e !== undefined) assert.equal(l.kind, e.kind, `${l.key ?? ''} is classified as ${e.kind}`);
    }

    const firstWrite = log.length;
    const journal = (i: number): string => join(root, `journal-${i}`);
    const report = (i: number): string => join(root, `report-${i}.jsonl`);
    const args = (i: number, extra: readonly string[] = []): string[] =>
      ['migrate', url, ...common(), '--shard', `${i}/3`, '--journal', journal(i), '--report', report(i), '--quiet', ...extra];
    // Worker 0 is slowed down so that it is surely mid-way when it is killed.
    const w0 = start(args(0, ['--rate', '40', '--parallel', '2']));
    const w1 = start(args(1));
    const w2 = start(args(2));
    await until(() => completeLines(report(0)) >= 20, 'worker 0 to migrate 20 objects');
    w0.child.kill('SIGKILL');
    const killed = await w0.done;
    assert.equal(killed.signal, 'SIGKILL');
    const killedLines = completeLines(report(0));
    const [d1, d2] = await Promise.all([w1.done, w2.done]);
    assert.equal(d1.code, 0, d1.stderr);
    assert.equal(d2.code, 0, d2.stderr);
    const restarted = await start(args(0)).done;
    assert.equal(restarted.code, 0, restarted.stderr);

    // Reports: every key is in its shard's report; its final line says migrated or skipped; the counts add up.
    const finals = new Map<string, Line>();
    for (let i = 0; i < 3; i++) {
      const all = lines(report(i));
      const runs = i === 0 ? [all.slice(killedLines)] : [all];
      for (const run of runs) checkRun(run);
      if (i === 0) assert.ok(!all.slice(0, killedLines).some((l) => l.summary === true), 'the killed run wrote no summary');
      for (const l of all) {
        if (l.summary === true) continue;
        assert.equal(shardOfKey(l.key ?? '', 3), i, `${l.key ?? ''} is reported by its own shard`);
        finals.set(l.key ?? '', l);
      }
    }
    assert.equal(finals.size, expected.size + 1);
    for (const [key, l] of finals) {
      assert.ok(l.result === 'migrated' || l.result === 'skipped', `${key}: final line ${JSON.stringify(l)}`);
    }
    const restartedSummary = lines(report(0)).at(-1) as Line & { resumed: number };
    assert.ok(restartedSummary.resumed > 0, 'the restarted worker skipped what its journal records');

    // Every object is in the target state with its bytes, Content-Type, metadata and tags.
    const strict = new EncryptionClient(oss, { masterKey: target });
    for (const [key, e] of expected) {
      const got = await strict.get(key);
      assert.ok(Buffer.from(got.content).equals(e.body), `${key} decrypts to its original bytes`);
      const headers = (await oss.head(key)).res.headers as Record<string, string>;
      assert.equal(headers[V2Header.MATDESC], '{"gen":"2"}', `${key} is under the target key`);
      assert.equal(headers['content-type'], e.contentType, `${key} keeps its Content-Type`);
      assert.equal(headers['x-oss-meta-idx'], e.meta, `${key} keeps its metadata`);
      assert.deepEqual(await tagsOf(oss, key), e.tags, `${key} keeps its tags`);
    }
    assert.equal(Number(((await oss.head('mix/folder/')).res.headers as Record<string, string>)['content-length']), 0);
    assert.equal(((await oss.head('mix/folder/')).res.headers as Record<string, string>)[V2Header.MATDESC], undefined, 'the folder marker is left alone');

    // No object was written twice: at most one CopyObject onto each key, none onto one already migrated, and every
    // content write went to a staging object.
    const writes = log.slice(firstWrite).filter((e) => e.status < 300 && e.bucket === BUCKET);
    const copies = new Map<string, number>();
    for (const w of writes.filter((e) => e.operation === 'CopyObject')) copies.set(w.key ?? '', (copies.get(w.key ?? '') ?? 0) + 1);
    for (const [key, e] of expected) {
      assert.equal(copies.get(key) ?? 0, e.kind === 'target' ? 0 : 1, `${key} (${e.kind}) is written once`);
    }
    for (const w of writes.filter((e) => e.operation === 'PutObject' || e.operation === 'CompleteMultipartUpload')) {
      assert.ok(w.key?.startsWith(STAGING), `${w.operation} ${w.key ?? ''} goes to a staging object`);
    }
    assert.ok(writes.some((e) => e.operation === 'CompleteMultipartUpload'), 'the big object went through a multipart upload');
    assert.deepEqual((await oss.listV2({ prefix: STAGING }, {})).objects, [], 'no staging object remains');

    // Run again: everything is skipped and nothing is written.
    const again = log.length;
    r = await runCli(['migrate', url, ...common(), '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { total: number; migrated: number; skipped: number; failed: number };
    assert.deepEqual([summary.total, summary.migrated, summary.failed], [expected.size + 1, 0, 0]);
    assert.deepEqual(log.slice(again).filter((e) => !['GET', 'HEAD'].includes(e.method)), []);
  });

  test('failed objects: one stderr line each, listed in the summary, exit 1; usage errors exit 2', async () => {
    const cli = ossFor('cli');
    await putV1(cli, 'legacy/a', Buffer.from('old format'));
    await cli.put('legacy/b', Buffer.from('plain'));
    const base = ['--endpoint', server.endpoint, '--private-key', vectorKeys.privatePath(), '--to-public-key', targetPath];
    let r = await runCli(['migrate', 'oss://cli/legacy/', ...base], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^failed oss:\/\/cli\/legacy\/a: \[ERR_CSE_LEGACY_NOT_ALLOWED\] .+$/m);
    assert.match(r.stderr, /^migrated oss:\/\/cli\/legacy\/b \(plaintext -> /m);
    assert.match(r.stdout, /^migrated 1, skipped 0, failed 1 of 2 object\(s\) under oss:\/\/cli\/legacy\//m);
    assert.match(r.stdout, /^ {2}failed legacy\/a: \[ERR_CSE_LEGACY_NOT_ALLOWED\]/m);
    r = await runCli(['migrate', 'oss://cli/legacy/', ...base, '--allow-legacy', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as { migrated: number; skipped: number; byKind: Record<string, number> };
    assert.equal(json.migrated, 1);
    assert.equal(json.skipped, 1);
    assert.equal(json.byKind.target, 1);
    for (const bad of [['--shard', '3/3'], ['--only', 'v2'], ['--dry-run', '--journal', join(root, 'j')], ['--parallel', '0'], ['--rate', '-1']]) {
      r = await runCli(['migrate', 'oss://cli/legacy/', ...base, ...bad], env);
      assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /);
    }
  });

  test('a concurrent overwrite during a sharded run is not clobbered: that object fails, the other writer\'s bytes stay, a rerun encrypts them', async () => {
    const victim = 'race/obj-07';
    const newer = Buffer.from('written by another client while migrate was converting the object');
    // The other writer replaces the victim just before migrate's guard HEAD (its second HEAD of that key: the first
    // one classified it), i.e. after migrate read the old bytes and wrote their encrypted copy to staging.
    const raced = await startServer({
      memory: true,
      buckets: ['race'],
      kms: false,
      faults: { rules: [{ operations: ['HeadObject'], key: victim, nth: 2, fault: { kind: 'replace-object', body: newer } }] },
    });
    try {
      const raceEnv = cliEnv(raced, join(root, 'race-home'));
      const client = new OSS({
        endpoint: raced.endpoint,
        region: 'oss-cn-hangzhou',
        bucket: 'race',
        accessKeyId: raced.credentials.accessKeyId,
        accessKeySecret: raced.credentials.accessKeySecret,
        secure: false,
      });
      const bodies = new Map<string, Buffer>();
      for (let i = 0; i < 24; i++) {
        const key = `race/obj-${String(i).padStart(2, '0')}`;
        const body = bytesFor(key, 300 + i);
        bodies.set(key, body);
        await client.put(key, body, { headers: { 'x-oss-meta-idx': String(i) } });
      }
      const base = ['migrate', 'oss://race/race/', '--endpoint', raced.endpoint, '--to-public-key', targetPath, '--matdesc', '{"gen":"2"}', '--quiet'];
      const reportOf = (i: number): string => join(root, `race-${i}.jsonl`);
      const workers = [0, 1].map((i) => start([...base, '--shard', `${i}/2`, '--report', reportOf(i)], raceEnv).done);
      const done = await Promise.all(workers);
      const victimShard = shardOfKey(victim, 2);
      for (const [i, d] of done.entries()) assert.equal(d.code, i === victimShard ? 1 : 0, d.stderr);
      assert.match(done[victimShard]?.stderr ?? '', /^failed oss:\/\/race\/race\/obj-07: \[ERR_CSE_CONCURRENT_MODIFICATION\] /m);
      const victimLine = lines(reportOf(victimShard)).find((l) => l.key === victim);
      assert.deepEqual([victimLine?.result, victimLine?.code], ['failed', 'ERR_CSE_CONCURRENT_MODIFICATION']);

      // The other writer's object is exactly as it wrote it: its bytes, no envelope.
      const after = await client.get(victim);
      assert.ok((after.content as Buffer).equals(newer), 'the concurrent write survives');
      assert.equal((after.res.headers as Record<string, string>)[V2Header.MATDESC], undefined, 'and was not given an envelope');
      // Every other object is migrated, and no staging object is left behind.
      const strict = new EncryptionClient(client, { masterKey: target });
      for (const [key, body] of bodies) {
        if (key === victim) continue;
        assert.ok(Buffer.from((await strict.get(key)).content).equals(body), `${key} decrypts to its bytes`);
      }
      assert.deepEqual((await client.listV2({ prefix: STAGING }, {})).objects, [], 'no staging object remains');

      // A rerun of the victim's shard encrypts the object as the other writer left it.
      const rerun = await start([...base, '--shard', `${victimShard}/2`], raceEnv).done;
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.ok(Buffer.from((await strict.get(victim)).content).equals(newer), 'the rerun encrypted the newer bytes');
    } finally {
      await raced.close();
    }
  });
});
