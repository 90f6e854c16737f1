// The CLI's habits and output through the real bin/oss-cse.js: --version/-v/version, help CMD, "did you mean",
// exit codes (2 for bad command lines, 130 after SIGINT), --json error objects, a closed stdout (| head) ending
// quietly, an unreachable endpoint giving exactly one error line (no urllib diagnostics), and a missing bucket named.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { cleanMessage } from '../../src/cli/report.js';
import { closest } from '../../src/cli/suggest.js';
import { BIN, cliEnv, runCli } from '../helpers/cli.js';
import { vectorKeys } from '../helpers/vectors.js';
import { ossFor } from '../transfer/support.js';

const BUCKET = 'habit-tests';
const ERROR_LINE = /^error \[ERR_CSE_[A-Z0-9_]+\]: [^\n]+\n$/;
const root = mkdtempSync(join(tmpdir(), 'oss-cse-habits-'));
let server: RunningServer;
let env: NodeJS.ProcessEnv;

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET], kms: false, faults: {} });
  env = cliEnv(server, join(root, 'home'));
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

function online(args: readonly string[]): string[] {
  return [...args, '--endpoint', server.endpoint, '--private-key', vectorKeys.privatePath()];
}

describe('habits', () => {
  test('--version, -v and version print the package version; help CMD is CMD --help', async () => {
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    for (const args of [['--version'], ['-v'], ['version']]) {
      const r = await runCli(args, env);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `oss-cse ${version}\n`);
    }
    const a = await runCli(['help', 'cp'], env);
    const b = await runCli(['cp', '--help'], env);
    assert.equal(a.code, 0);
    assert.equal(a.stdout, b.stdout);
    assert.match(a.stdout, /^Usage: oss-cse cp /);
  });

  test('unknown commands and options exit 2 with a "did you mean"; --json makes it one JSON object', async () => {
    let r = await runCli(['pt', 'x', 'oss://b/k'], env);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'error: unknown command "pt"; did you mean put?; run `oss-cse --help`\n');
    r = await runCli(['ls', '--recursiv', 'oss://abc'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: unknown option --recursiv; did you mean --recursive\?/);
    r = await runCli(['sync', 'a', 'oss://abc/', '--dryrun', '--json'], env);
    assert.equal(r.code, 2);
    assert.deepEqual(JSON.parse(r.stderr), {
      error: { code: 'ERR_CSE_USAGE', message: 'unknown option --dryrun; did you mean --dry-run?; run `oss-cse sync --help`' },
    });
    r = await runCli(['cp', 'a', 'oss://abc/', '--jobs', 'many'], env);
    assert.equal(r.code, 2, 'a bad option value is a bad command line');
    assert.equal(closest('zzzzzz', ['put', 'get']), undefined, 'no suggestion when nothing is close');
  });

  test('-q silences success output', async () => {
    writeFileSync(join(root, 'q.txt'), 'q');
    const r = await runCli(online(['cp', '-q', join(root, 'q.txt'), `oss://${BUCKET}/q.txt`]), env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
  });
});

describe('clean output', () => {
  test('an unreachable endpoint gives exactly one error line: no urllib warning, no agent status, no stack', async () => {
    const r = await runCli(['ls', `oss://${BUCKET}`, '--endpoint', 'http://127.0.0.1:1', '--private-key', vectorKeys.privatePath()], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, ERROR_LINE);
    assert.match(r.stderr, /ECONNREFUSED/);
    assert.doesNotMatch(r.stderr, /agent status|urllib|headers: \{|\n\s+at /);
    const json = await runCli(['ls', `oss://${BUCKET}`, '--json', '--endpoint', 'http://127.0.0.1:1', '--private-key', vectorKeys.privatePath()], env);
    const parsed = JSON.parse(json.stderr) as { error: { code: string; message: string } };
    assert.equal(parsed.error.code, 'ERR_CSE_TRANSFER');
    assert.equal(json.stderr.split('\n').length, 2, 'one line');
  });

  test("urllib's diagnostics are cut from messages (kept with --debug)", () => {
    const raw =
      'LIST oss://b/ failed RequestError: connect ECONNREFUSED 127.0.0.1:1 (req "error"), GET http://b.127.0.0.1:1/?list-type=2 -1 ' +
      '(connected: false, keepalive socket: false, agent status: {"createSocketCount":1,"requests":{}}, socketHandledRequests: 1, socketHandledResponses: 0)\nheaders: {}';
    assert.equal(cleanMessage(raw), 'LIST oss://b/ failed RequestError: connect ECONNREFUSED 127.0.0.1:1');
  });

  test('get of a key in a bucket that does not exist says the bucket does not exist (also as a --json error)', async () => {
    let r = await runCli(online(['get', 'oss://no-such-bucket/k', join(root, 'x')]), env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error \[ERR_CSE_TRANSFER\]: bucket no-such-bucket does not exist \(NoSuchBucket\)\n$/);
    r = await runCli(online(['head', 'oss://no-such-bucket/k', '--json']), env);
    assert.deepEqual(JSON.parse(r.stderr), { error: { code: 'ERR_CSE_TRANSFER', message: 'bucket no-such-bucket does not exist (NoSuchBucket)' } });
  });

  test('cat --json is refused (exit 2): the output is the object itself', async () => {
    const r = await runCli(online(['cat', `oss://${BUCKET}/q.txt`, '--json']), env);
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.stderr).error.code, 'ERR_CSE_USAGE');
  });

  test('cat into a pipe closed early (| head -c) ends quietly with exit 0', async () => {
    const client = new EncryptionClient(ossFor(server), { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
    await client.put('big.bin', Buffer.alloc(8 * 1024 * 1024, 1), { bucket: BUCKET });
    const child = spawn(process.execPath, [BIN, ...online(['cat', `oss://${BUCKET}/big.bin`])], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    assert.equal(await closed, 0, stderr);
    assert.equal(stderr, '');
  });
});

describe('signals', () => {
  test('Ctrl-C during cp -r exits 130 with the interruption reported', async () => {
    const dir = join(root, 'many');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${String(i).padStart(2, '0')}.txt`), `file ${i}`);
    server.faults?.set({ rules: [{ fault: { kind: 'slow', delayMs: 300 }, operations: ['PutObject'] }] });
    try {
      const child = spawn(process.execPath, [BIN, ...online(['cp', '-r', dir, `oss://${BUCKET}/many/`, '--jobs', '1'])], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const deadline = Date.now() + 30_000;
      while (!stdout.includes('upload:') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGINT');
      assert.equal(await closed, 130, stderr);
      assert.match(stderr, /not started/);
    } finally {
      server.faults?.clear();
    }
  });
});
