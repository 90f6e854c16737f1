// The oss-cse/browser contract without a browser: package.json exports "./browser" → one self-contained ESM file
// with no imports at all (no bare specifiers, no Node built-ins), within the size budget (≤ 60 KB minified+gzipped,
// ali-oss not included), built only from the browser room and the pure shared modules.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ROOT } from './support.js';

const BUNDLE = join(ROOT, 'dist', 'browser', 'oss-cse.js');
const META = join(ROOT, 'dist', 'browser', 'meta.json');
/** The budget from the issue: 60 KB minified + gzipped. */
export const BUDGET_BYTES = 60 * 1024;

describe('oss-cse/browser bundle', { skip: existsSync(BUNDLE) ? undefined : 'needs `npm run build`' }, () => {
  it('package.json maps "./browser" to the bundle and its types', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.deepEqual(pkg.exports['./browser'], { types: './dist/browser/oss-cse.d.ts', default: './dist/browser/oss-cse.js' });
    for (const f of ['dist/browser/oss-cse.js', 'dist/browser/oss-cse.d.ts']) assert.ok(pkg.files.includes(f), f);
    assert.ok(existsSync(join(ROOT, 'dist', 'browser', 'oss-cse.d.ts')));
    assert.ok(existsSync(join(ROOT, 'dist', 'browser', 'src', 'index.d.ts')));
  });

  it(`is at most ${BUDGET_BYTES} bytes minified and gzipped`, () => {
    const gz = gzipSync(readFileSync(BUNDLE), { level: 9 }).length;
    assert.ok(gz <= BUDGET_BYTES, `bundle is ${gz} bytes gzipped`);
  });

  it('imports nothing: no import/export-from statements, no dynamic import, no require', () => {
    const code = readFileSync(BUNDLE, 'utf8');
    assert.doesNotMatch(code, /(^|[;}\s])import\s*[\w{*"']/);
    assert.doesNotMatch(code, /\bimport\s*\(/);
    assert.doesNotMatch(code, /export\s*\*\s*from|export\s*\{[^}]*\}\s*from/);
    assert.doesNotMatch(code, /\brequire\s*\(/);
    assert.doesNotMatch(code, /node:/);
    assert.match(code, /export\s*\{/);
  });

  it('is built only from browser/src, src/errors.ts, src/format/ and the pure src/transfer/{crc64,crc64-wasm,range-plan}.ts', () => {
    const inputs = Object.keys((JSON.parse(readFileSync(META, 'utf8')) as { inputs: Record<string, unknown> }).inputs);
    const allowed = (p: string): boolean =>
      p.startsWith('browser/src/') || p === 'src/errors.ts' || (p.startsWith('src/format/') && p !== 'src/format/base64.ts') || p === 'src/transfer/crc64.ts' || p === 'src/transfer/crc64-wasm.ts' || p === 'src/transfer/range-plan.ts';
    assert.deepEqual(inputs.filter((p) => !allowed(p)), []);
    assert.ok(inputs.includes('browser/src/base64.ts'), 'the browser base64 replaces the Node one');
    // The shared modules really are pure: none imports a Node built-in or anything outside the allowed set.
    for (const p of inputs.filter((i) => i.startsWith('src/'))) {
      assert.doesNotMatch(readFileSync(join(ROOT, p), 'utf8'), /from ['"]node:|require\(/, p);
    }
  });
});
