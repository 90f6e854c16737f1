// Interrupted downloads leave no readable plaintext behind (issue 14, item 6), through the real bin/oss-cse.js against
// an embedded server whose GetObject answers are throttled, so that a SIGKILL lands mid-download: the temporary file
// (`.NAME.<hex>.tmp` for a single-stream get, `.NAME.<hex>.oss-cse-download` for the parallel one) is mode 0600 while
// it holds unverified plaintext; the next get to the same target removes it (only files matching exactly that pattern
// for that target, and not one a live process writes), and the finished file gets the usual mode.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { BIN, cliEnv, runCli } from '../helpers/cli.js';
import { vectorKeys } from '../helpers/vectors.js';
import { ossFor } from '../transfer/support.js';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';

const BUCKET = 'transfer-tests';
const root = mkdtempSync(join(tmpdir(), 'oss-cse-tempfiles-'));
const SIZE = 3 * 1024 * 1024;
const data = Buffer.alloc(SIZE).map((_, i) => (i * 13 + (i >> 12)) & 0xff);
/** This process's umask (inherited by the CLI), from Linux's /proc (process.umask() would write it). */
const UMASK = parseInt(/^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1] ?? '022', 8);
let server: RunningServer;
let client: EncryptionClient;
let env: NodeJS.ProcessEnv;

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET], kms: false, faults: {} });
  client = new EncryptionClient(ossFor(server), { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
  await client.put('big', data);
  env = cliEnv(server, join(root, 'home'));
});

afterEach(() => {
  server.faults?.clear();
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

function online(args: readonly string[]): string[] {
  return [...args, '--endpoint', server.endpoint, '--private-key', vectorKeys.privatePath()];
}

/** Temporary files in `dir` (names starting with a dot). */
function temps(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith('.'));
}

/** Starts a get and SIGKILLs it once a temporary file in `dir` holds at least `bytes` bytes; returns that file. */
async function killedGet(args: readonly string[], dir: string, bytes: number): Promise<string> {
  const child = spawn(process.execPath, [BIN, ...online(args)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.resume();
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const written = (): string | undefined => temps(dir).find((n) => statSync(join(dir, n)).size >= bytes && hasData(join(dir, n)));
  const deadline = Date.now() + 60_000;
  while (written() === undefined && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(child.exitCode, null, `the get ended before it was killed: ${stderr}`);
  const name = written();
  assert.ok(name !== undefined, 'no temporary file with data appeared');
  child.kill('SIGKILL');
  await exited;
  return name;
}

/** True when the file holds some non-zero byte (the parallel path pre-sizes its file with zeros). */
function hasData(path: string): boolean {
  return readFileSync(path).some((b) => b !== 0);
}

test('a SIGKILLed single-stream get leaves a 0600 .NAME.<hex>.tmp; the next get removes it and only it', async () => {
  const dir = join(root, 'single');
  mkdirSync(dir);
  const target = join(dir, 'out.bin');
  server.faults?.set({ rules: [{ fault: { kind: 'slow', bytesPerSecond: 256 * 1024 }, operations: ['GetObject'], key: 'big' }] });
  const left = await killedGet(['get', `oss://${BUCKET}/big`, target], dir, 64 * 1024);
  assert.match(left, /^\.out\.bin\.[0-9a-f]{16}\.tmp$/);
  assert.equal(statSync(join(dir, left)).mode & 0o777, 0o600, 'unverified plaintext readable by the owner only');
  server.faults?.clear();

  // Files the cleanup must leave alone: other targets, other patterns, a directory, and the file of a live process
  // (this test's own pid).
  const livePid = process.pid.toString(16).padStart(8, '0');
  const others = [
    '.out.bin.zzzzzzzzzzzz.tmp',
    '.out.bin.0123456789ab.tmp.keep',
    '.other.bin.0123456789ab.tmp',
    'out.bin.0123456789ab.tmp',
    `.out.bin.${livePid}00000000.tmp`,
  ];
  for (const n of others) writeFileSync(join(dir, n), 'x');
  mkdirSync(join(dir, '.out.bin.aaaaaaaaaaaa.part'));
  // Stale ones of every writer, from processes that no longer run (an old-style name has no pid: stale).
  const stale = ['.out.bin.0123456789ab.tmp', '.out.bin.0123456789ab.part', '.out.bin.7fffffff12345678.oss-cse-download'];
  for (const n of stale) writeFileSync(join(dir, n), 'old plaintext');

  const r = await runCli(online(['get', `oss://${BUCKET}/big`, target]), env);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(target).equals(data));
  assert.equal(statSync(target).mode & 0o777, 0o644 & ~UMASK, 'the finished file has the usual mode');
  assert.deepEqual(temps(dir).sort(), [...others.filter((n) => n.startsWith('.')), '.out.bin.aaaaaaaaaaaa.part'].sort());
});

test('a SIGKILLed parallel get leaves a 0600 .NAME.<hex>.oss-cse-download; the next get removes it', async () => {
  const dir = join(root, 'parallel');
  mkdirSync(dir);
  const target = join(dir, 'out.bin');
  server.faults?.set({ rules: [{ fault: { kind: 'slow', bytesPerSecond: 128 * 1024 }, operations: ['GetObject'], key: 'big' }] });
  const args = ['get', `oss://${BUCKET}/big`, target, '--part-size', '1MiB', '--parallel', '2'];
  const left = await killedGet(args, dir, 1);
  assert.match(left, /^\.out\.bin\.[0-9a-f]{16}\.oss-cse-download$/);
  assert.equal(statSync(join(dir, left)).mode & 0o777, 0o600);
  server.faults?.clear();
  const r = await runCli(online(args), env);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(target).equals(data));
  assert.equal(statSync(target).mode & 0o777, 0o644 & ~UMASK);
  assert.deepEqual(temps(dir), []);
});

test('with --checkpoint, the temporary file a SIGKILLed get recorded is kept and continued, other stale ones removed', async () => {
  const dir = join(root, 'checkpointed');
  mkdirSync(dir);
  const target = join(dir, 'out.bin');
  const checkpoint = join(root, 'get.checkpoint.json');
  server.faults?.set({ rules: [{ fault: { kind: 'slow', bytesPerSecond: 128 * 1024 }, operations: ['GetObject'], key: 'big' }] });
  const args = ['get', `oss://${BUCKET}/big`, target, '--part-size', '512KiB', '--parallel', '2', '--checkpoint', checkpoint];
  // Killed once the checkpoint records a finished range.
  const child = spawn(process.execPath, [BIN, ...online(args)], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const recorded = (): number => {
    try {
      return (JSON.parse(readFileSync(checkpoint, 'utf8')) as { parts: unknown[] }).parts.length;
    } catch {
      return 0;
    }
  };
  const deadline = Date.now() + 60_000;
  while (recorded() < 1 && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(child.exitCode, null, 'the get ended before it was killed');
  child.kill('SIGKILL');
  await exited;
  server.faults?.clear();
  const saved = (JSON.parse(readFileSync(checkpoint, 'utf8')) as { tempFile: string }).tempFile;
  assert.equal(statSync(join(dir, saved)).mode & 0o777, 0o600);
  writeFileSync(join(dir, '.out.bin.0123456789ab.tmp'), 'old plaintext');
  const r = await runCli(online([...args, '--json']), env);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { resumed: boolean; partsFetched: number; parts: number };
  assert.equal(out.resumed, true, 'the recorded temporary file was continued, not removed');
  assert.ok(out.partsFetched < out.parts);
  assert.ok(readFileSync(target).equals(data));
  assert.deepEqual(temps(dir), []);
});
