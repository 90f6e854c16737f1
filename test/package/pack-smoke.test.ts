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

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env, npm_config_update_notifier: 'false' }, timeout: 60_000 });
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
    for (const required of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'FORMAT.md', 'SECURITY.md', 'bin/oss-cse.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/server/src/index.js', 'dist/server/src/index.d.ts', 'dist/src/cli/main.js']) {
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

  test('publint --strict finds nothing', () => {
    const out = ok(run(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), 'run', tarball, '--strict'], root), 'publint');
    assert.match(out, /All good/);
  });

  test('@arethetypeswrong/cli finds no problem for ESM and bundler resolution', () => {
    const cli = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    ok(run(process.execPath, [cli, tarball, '--profile', 'esm-only', '--format', 'table-flipped', '--no-emoji', '--no-color'], root), 'attw');
  });
});
