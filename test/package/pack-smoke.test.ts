// Packaging smoke test: what `npm install oss-cse` would give a user works, on its own, from the packed tarball.
//
// 1. `npm pack --ignore-scripts` (dist/ was built by `npm test`'s build step; packing must not rebuild it while other
//    test files import it) and a check of the file list: runtime code, types, bin and docs; no tests, vectors,
//    bench, examples, sources or source maps, and no file pointing at a map (`//# sourceMappingURL=`).
// 2. "Install" into a scratch project OFFLINE: the tarball is extracted to node_modules/oss-cse and each of its
//    dependencies (and the optional KMS peer) is a symlink to the copy `npm ci` installed in this repository. Node
//    resolves the dependencies' own dependencies from their real paths, so the whole tree is found without any
//    registry; `npm install <tgz> --offline` is not used because `npm ci` never caches the registry documents that
//    resolving version ranges needs, so it would fail on a fresh CI machine. The bin link and its executable bit are
//    made as npm makes them.
// 3. Type-check an ESM (.ts) and a CommonJS (.cts) TypeScript consumer against the shipped .d.ts (skipLibCheck off,
//    so the declarations themselves are checked too), with this repository's TypeScript.
// 4. Run an ESM consumer (import; offline round trip; put/get through ali-oss on the embedded server from
//    'oss-cse/server') and a CommonJS consumer (require(esm), unflagged since Node 20.19).
// 5. `oss-cse --help` and an offline keygen → encrypt → decrypt round trip through the installed bin.
// 6. publint (--strict) and @arethetypeswrong/cli (profile esm-only: the package is ESM; CommonJS users load it with
//    require(esm)) on the tarball, both offline.
// 7. A CommonJS TypeScript project with "module": "node16" (where a static import of an ES module is TS1479): the
//    documented form (type imports with resolution-mode, a dynamic import) type-checks, compiles and runs.
// 8. A real `npm install` of the tarball from the npm registry, at both ends of the ali-oss peer range: the lowest
//    supported version named explicitly, and a plain `npm install oss-cse` (npm ≥ 7 installs the peer: the newest
//    6.x). Each gives exactly one ali-oss, the ESM consumer round-trips through it, and the installed CLI runs. This
//    needs the registry (npm's cache makes reruns fast); `.ci/run`'s machine reaches it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  bin: Record<string, string>;
};

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}

/** The lowest ali-oss the package supports (6.11 lacks listV2): the low end of the peer range, tested here. */
const LOWEST_ALI_OSS = '6.12.0';

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 60_000): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env, npm_config_update_notifier: 'false' }, timeout });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${String(r.status)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

/** Links node_modules/<name> of the scratch project to this repository's installed copy. */
function linkDependency(project: string, name: string): void {
  const target = join(root, 'node_modules', name);
  assert.ok(existsSync(target), `${name} is not installed in this repository (run npm ci)`);
  const link = join(project, 'node_modules', name);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(target, link, 'dir');
}

const ESM_CONSUMER = `
import assert from 'node:assert/strict';
import OSS from 'ali-oss';
import { EncryptionClient, RsaMasterKey, decryptObject, encryptObject, generateRsaKeyPair, isCseError } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const { privateKeyPem } = await generateRsaKeyPair(2048);
const masterKey = new RsaMasterKey({ privateKey: privateKeyPem, description: { smoke: 'esm' } });
const plaintext = Buffer.from('installed from the packed tarball');
const sealed = await encryptObject(plaintext, { masterKey });
assert.notDeepEqual(sealed.body, plaintext);
assert.deepEqual(await decryptObject({ headers: sealed.headers, body: sealed.body }, { masterKeys: [masterKey] }), plaintext);

const server = await startServer({ memory: true, buckets: ['smoke'] });
try {
  const oss = new OSS({ endpoint: server.endpoint, bucket: 'smoke', ...server.credentials });
  const client = new EncryptionClient(oss, { masterKey });
  await client.put('a.txt', plaintext);
  assert.deepEqual((await client.get('a.txt')).content, plaintext);
  assert.notDeepEqual((await oss.get('a.txt')).content, plaintext);
} finally {
  await server.close();
}
try {
  await decryptObject({ headers: {}, body: plaintext }, { masterKeys: [masterKey] });
  assert.fail('expected a CseError');
} catch (e) {
  assert.ok(isCseError(e));
}
console.log('esm consumer ok');
`;

const CJS_CONSUMER = `
const assert = require('node:assert/strict');
const cse = require('oss-cse');
const { startServer } = require('oss-cse/server');
assert.equal(typeof startServer, 'function');
(async () => {
  const { privateKeyPem } = await cse.generateRsaKeyPair(2048);
  const masterKey = new cse.RsaMasterKey({ privateKey: privateKeyPem });
  const plaintext = Buffer.from('required from CommonJS');
  const sealed = await cse.encryptObject(plaintext, { masterKey });
  assert.deepEqual(await cse.decryptObject({ headers: sealed.headers, body: sealed.body }, { masterKeys: [masterKey] }), plaintext);
  console.log('cjs consumer ok');
})().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
`;

const TS_CONSUMER = `
import OSS from 'ali-oss';
import { CseError, EncryptionClient, ErrorCode, RsaMasterKey, type GetResult, type MasterKey, type PutResult } from 'oss-cse';
import { startServer, type RunningServer } from 'oss-cse/server';

export async function roundTrip(oss: OSS, pem: string): Promise<Buffer> {
  const key: MasterKey = new RsaMasterKey({ privateKey: pem, description: { app: 'ts' } });
  const client = new EncryptionClient(oss, { masterKey: key, decryptionKeys: [], keySelection: 'strict' });
  const put: PutResult = await client.put('k', Buffer.from('x'), { meta: { a: 'b' } });
  const got: GetResult = await client.get('k', { headers: { Range: 'bytes=0-0' } });
  const code: string = ErrorCode.NO_MATCHING_KEY;
  if (put.size !== got.size) throw new CseError(ErrorCode.INTEGRITY, code);
  return got.content;
}

export async function server(): Promise<RunningServer> {
  return startServer({ memory: true });
}
`;

const CTS_CONSUMER = `
import { encryptObject, RsaMasterKey } from 'oss-cse';
import { startServer } from 'oss-cse/server';

export async function seal(pem: string): Promise<Record<string, string>> {
  const sealed = await encryptObject(Buffer.from('x'), { masterKey: new RsaMasterKey({ publicKey: pem }) });
  return sealed.headers;
}
export const start: typeof startServer = startServer;
`;

const NODE16_CONSUMER = `
import type { EncryptionClient, RsaMasterKey as RsaMasterKeyType } from 'oss-cse' with { 'resolution-mode': 'import' };

export type Client = EncryptionClient;

async function main(): Promise<void> {
  const { RsaMasterKey, decryptObject, encryptObject, generateRsaKeyPair } = await import('oss-cse');
  const { privateKeyPem } = await generateRsaKeyPair(2048);
  const masterKey: RsaMasterKeyType = new RsaMasterKey({ privateKey: privateKeyPem });
  const sealed = await encryptObject(Buffer.from('node16 commonjs'), { masterKey });
  const opened = await decryptObject({ headers: sealed.headers, body: sealed.body }, { masterKeys: [masterKey] });
  if (opened.toString() !== 'node16 commonjs') throw new Error('round trip failed');
  console.log('node16 cjs consumer ok');
}
main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
`;

describe('the packed tarball, installed offline in a scratch project', () => {
  let dir: string;
  let project: string;
  let tarball: string;
  let packed: PackResult;

  before(() => {
    assert.ok(existsSync(join(root, 'dist/src/index.js')) && existsSync(join(root, 'dist/server/src/index.d.ts')), 'run `npm run build` first');
    dir = mkdtempSync(join(tmpdir(), 'oss-cse-pack-'));
    const out = ok(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root), 'npm pack');
    const results = JSON.parse(out.slice(out.indexOf('['))) as PackResult[];
    assert.equal(results.length, 1);
    packed = results[0]!;
    tarball = join(dir, packed.filename);

    project = join(dir, 'consumer');
    const installed = join(project, 'node_modules', pkg.name);
    mkdirSync(installed, { recursive: true });
    ok(run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], dir), 'tar');
    for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies), '@types/node']) linkDependency(project, name);
    // What npm does for `bin`: a link in node_modules/.bin and the executable bit.
    mkdirSync(join(project, 'node_modules/.bin'));
    for (const [name, file] of Object.entries(pkg.bin)) {
      chmodSync(join(installed, file), 0o755);
      symlinkSync(join('..', pkg.name, file), join(project, 'node_modules/.bin', name));
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { [pkg.name]: `file:${tarball}` } }));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('the tarball holds the runtime, the types, the bin and the docs, and nothing else', () => {
    const paths = packed.files.map((f) => f.path);
    for (const required of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'FORMAT.md', 'SECURITY.md', 'bin/oss-cse.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/server/src/index.js', 'dist/server/src/index.d.ts', 'dist/src/cli/main.js', 'dist/gateway/src/index.js']) {
      assert.ok(paths.includes(required), `${required} is missing from the tarball`);
    }
    // docs/ ships its Markdown pages (README links to them), never the generated API reference under docs/api/.
    const unwanted = paths.filter((p) => /^(test|bench|examples|scripts|src|\.tmp|\.ci)\/|^docs\/(?![a-z-]+\.md$)|\.map$|\.ts$(?<!\.d\.ts)|\.tsbuildinfo$/.test(p));
    assert.deepEqual(unwanted, []);
    assert.ok(paths.every((p) => !p.startsWith('dist/') || p.endsWith('.js') || p.endsWith('.d.ts')), 'dist/ ships .js and .d.ts only');
    // No map ships, so no file may point at one (tsconfig.build.json: no sourceMap, no declarationMap).
    const installed = join(project, 'node_modules', pkg.name);
    const pointing = paths.filter((p) => /^\/\/# sourceMappingURL=/m.test(readFileSync(join(installed, p), 'utf8')));
    assert.deepEqual(pointing, [], 'shipped files with a sourceMappingURL comment');
    // Budget: the whole library, server and CLI in well under a megabyte.
    assert.ok(packed.size < 600_000, `tarball is ${packed.size} bytes`);
    console.log(`tarball ${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.entryCount} files`);
  });

  test('every relative link of README.md and docs/*.md resolves to a file in the tarball', () => {
    const paths = new Set(packed.files.map((f) => f.path));
    const pages = [...paths].filter((p) => p === 'README.md' || /^docs\/[a-z-]+\.md$/.test(p));
    assert.ok(pages.length >= 5, `pages: ${pages.join(', ')}`);
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(project, 'node_modules', pkg.name, page), 'utf8');
      for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1] ?? '';
        if (/^[a-z]+:/.test(target)) continue;
        const resolved = posix.normalize(posix.join(posix.dirname(page), target));
        if (!paths.has(resolved)) broken.push(`${page} → ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  test('a TypeScript consumer (ESM .ts and CommonJS .cts) type-checks against the shipped declarations', () => {
    writeFileSync(join(project, 'consumer.ts'), TS_CONSUMER);
    writeFileSync(join(project, 'consumer.cts'), CTS_CONSUMER);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['consumer.ts', 'consumer.cts'],
      }),
    );
    ok(run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project), 'tsc');
  });

  test('an ESM consumer imports oss-cse and oss-cse/server, round-trips offline and through ali-oss', () => {
    writeFileSync(join(project, 'consumer.mjs'), ESM_CONSUMER);
    assert.match(ok(run(process.execPath, ['consumer.mjs'], project), 'ESM consumer'), /esm consumer ok/);
  });

  test('a CommonJS consumer requires oss-cse (require(esm), Node ≥ 20.19)', () => {
    writeFileSync(join(project, 'consumer.cjs'), CJS_CONSUMER);
    assert.match(ok(run(process.execPath, ['consumer.cjs'], project), 'CommonJS consumer'), /cjs consumer ok/);
  });

  test('the installed bin prints its help and round-trips a file offline with a generated key', () => {
    const bin = join(project, 'node_modules/.bin/oss-cse');
    const env = { OSS_CSE_HOME: join(dir, 'home') };
    assert.match(ok(run(bin, ['--help'], project, env), 'oss-cse --help'), /^Usage: oss-cse <command>/);
    ok(run(bin, ['keygen', '--out', 'keys'], project, env), 'oss-cse keygen');
    writeFileSync(join(project, 'plain.txt'), 'a file encrypted by the installed CLI\n'.repeat(100));
    ok(run(bin, ['encrypt', '--in', 'plain.txt', '--out', 'plain.enc', '--meta-out', 'plain.meta.json', '--public-key', 'keys/public.pem'], project, env), 'oss-cse encrypt');
    ok(run(bin, ['decrypt', '--in', 'plain.enc', '--out', 'plain.out', '--meta', 'plain.meta.json', '--private-key', 'keys/private.pem'], project, env), 'oss-cse decrypt');
    assert.notDeepEqual(readFileSync(join(project, 'plain.enc')), readFileSync(join(project, 'plain.txt')));
    assert.deepEqual(readFileSync(join(project, 'plain.out')), readFileSync(join(project, 'plain.txt')));
  });

  test('a CommonJS TypeScript project with "module": "node16" uses the documented form (resolution-mode types, dynamic import)', () => {
    const sub = join(dir, 'node16');
    mkdirSync(sub);
    // Its own package (CommonJS: no "type"), resolving oss-cse from the scratch project's node_modules.
    symlinkSync(join(project, 'node_modules'), join(sub, 'node_modules'), 'dir');
    writeFileSync(join(sub, 'package.json'), JSON.stringify({ name: 'node16-consumer', private: true }));
    writeFileSync(join(sub, 'consumer.ts'), NODE16_CONSUMER);
    writeFileSync(
      join(sub, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, skipLibCheck: false, outDir: 'out', types: ['node'] },
        files: ['consumer.ts'],
      }),
    );
    ok(run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], sub), 'tsc (node16, CommonJS)');
    assert.match(readFileSync(join(sub, 'out/consumer.js'), 'utf8'), /import\('oss-cse'\)/, 'the dynamic import stays an import()');
    assert.match(ok(run(process.execPath, ['out/consumer.js'], sub), 'node16 CommonJS consumer'), /node16 cjs consumer ok/);
  });

  for (const [label, spec] of [
    [`ali-oss ${LOWEST_ALI_OSS} (the lowest supported) named by the application`, `ali-oss@${LOWEST_ALI_OSS}`],
    ['a plain `npm install oss-cse` (npm installs the peer: the newest ali-oss 6.x)', undefined],
  ] as const) {
    test(`npm install of the tarball with ${label}: one ali-oss copy, the consumer and the CLI work`, () => {
      const app = join(dir, `app-${spec === undefined ? 'latest' : 'lowest'}`);
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      const args = ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball, ...(spec === undefined ? [] : [spec])];
      ok(run('npm', args, app, {}, 600_000), `npm ${args.join(' ')}`);
      const copies = ok(run('npm', ['ls', 'ali-oss', '--all', '--parseable'], app), 'npm ls ali-oss').trim().split('\n').filter((l) => l !== '');
      assert.equal(copies.length, 1, `ali-oss copies: ${copies.join(', ')}`);
      const version = (JSON.parse(readFileSync(join(app, 'node_modules/ali-oss/package.json'), 'utf8')) as { version: string }).version;
      if (spec !== undefined) assert.equal(version, LOWEST_ALI_OSS);
      assert.ok(/^6\./.test(version), version);
      console.log(`${label}: ali-oss ${version}`);
      writeFileSync(join(app, 'consumer.mjs'), ESM_CONSUMER);
      assert.match(ok(run(process.execPath, ['consumer.mjs'], app), `ESM consumer with ali-oss ${version}`), /esm consumer ok/);
      assert.match(ok(run(join(app, 'node_modules/.bin/oss-cse'), ['--help'], app, { OSS_CSE_HOME: join(app, 'home') }), 'oss-cse --help'), /^Usage: oss-cse <command>/);
    });
  }

  test('publint --strict finds nothing', () => {
    const out = ok(run(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), 'run', tarball, '--strict'], root), 'publint');
    assert.match(out, /All good/);
  });

  test('@arethetypeswrong/cli finds no problem for ESM and bundler resolution', () => {
    const cli = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    ok(run(process.execPath, [cli, tarball, '--profile', 'esm-only', '--format', 'table-flipped', '--no-emoji', '--no-color'], root), 'attw');
  });
});
