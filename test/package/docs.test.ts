// The generated documentation cannot drift: docs/cli.md equals what the CLI's help says
// (scripts/gen-config-docs.mjs --check, against the built CLI), and TypeDoc builds the API reference of both entry
// points with every exported symbol and property documented and no warning (typedoc.json: treatWarningsAsErrors,
// validation.notDocumented), without writing it (--emit none).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('generated documentation', () => {
  test("docs/cli.md is the CLI's current help (npm run docs:config regenerates it)", () => {
    const r = spawnSync(process.execPath, ['scripts/gen-config-docs.mjs', '--check'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  test('typedoc documents every public symbol of oss-cse and oss-cse/server with no warning', () => {
    const r = spawnSync(process.execPath, ['node_modules/typedoc/bin/typedoc', '--emit', 'none'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    const output = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, output);
    assert.doesNotMatch(output, /warning|error/i, output);
  });
});
