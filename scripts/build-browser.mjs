#!/usr/bin/env node
// Bundles the browser entry (browser/src/index.ts) into one self-contained, minified ESM file,
// dist/browser/oss-cse.js, with its type declarations beside it (dist/browser/oss-cse.d.ts re-exports the tsc
// output). Part of `npm run build`.
//
// - platform "browser": a Node built-in import fails the build (nothing node-bound can slip in);
// - src/format/base64.ts (Node Buffer) is swapped for browser/src/base64.ts (same exports, atob/btoa);
// - a metafile lists every input: scripts and tests check that only browser/src, src/errors.ts, src/format/ and the
//   two pure src/transfer modules (crc64.ts, range-plan.ts) are bundled (docs/browser.md "What the bundle contains").
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'browser');
mkdirSync(out, { recursive: true });

/** Swaps the Node base64 module for the browser one. */
const browserBase64 = {
  name: 'oss-cse-browser-base64',
  setup(b) {
    b.onResolve({ filter: /\/base64\.js$/ }, (args) => {
      if (resolve(args.resolveDir) === join(root, 'src', 'format')) return { path: join(root, 'browser', 'src', 'base64.ts') };
      return undefined;
    });
  },
};

const result = await build({
  entryPoints: [join(root, 'browser', 'src', 'index.ts')],
  outfile: join(out, 'oss-cse.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  legalComments: 'none',
  metafile: true,
  plugins: [browserBase64],
  logLevel: 'warning',
});
writeFileSync(join(out, 'meta.json'), JSON.stringify(result.metafile));
// Types: tsc emits dist/browser/src/*.d.ts (tsconfig.build.json includes browser/src); point one name at them.
writeFileSync(join(out, 'oss-cse.d.ts'), "export * from './src/index.js';\n");
