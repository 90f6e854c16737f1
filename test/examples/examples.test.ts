// Every file in examples/ runs as a user would run it (`npx tsx examples/<file>.ts`, importing 'oss-cse' through the
// package's exports map, so against the built dist/) and must exit 0 after printing its own `verified: …` line: the
// examples check their results themselves (bytes compared), this test checks that they ran to the end.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = readdirSync(new URL('examples/', `file://${root}`))
  .filter((f) => f.endsWith('.ts'))
  .sort();

/** The examples every README section points to; a missing one is a failure, not a smaller loop. */
const EXPECTED = ['key-ring.ts', 'kms.ts', 'migrate-bucket.ts', 'multipart-resume.ts', 'range-read.ts', 'read-other-sdk.ts', 'rewrap.ts', 'rsa-put-get.ts'];

async function run(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `examples/${file}`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('examples', { concurrency: 4 }, () => {
  test('every documented example exists, and nothing else is in examples/', () => {
    assert.deepEqual(examples, EXPECTED);
  });

  test('dist/ is built (the examples import the package through its exports map)', () => {
    assert.ok(existsSync(`${root}dist/src/index.js`) && existsSync(`${root}dist/server/src/index.js`), 'run `npm run build` first');
  });

  for (const file of EXPECTED) {
    test(`${file} runs to completion and prints what it verified`, async () => {
      const { code, stdout, stderr } = await run(file);
      assert.equal(code, 0, `exit code ${String(code)}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
      assert.match(stdout, /^verified: .+$/m, `no "verified:" line\nstdout:\n${stdout}`);
      assert.equal(stderr.trim(), '', 'an example writes nothing to stderr');
    });
  }
});
