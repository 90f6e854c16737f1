// The offline CLI through the real bin/oss-cse.js: keygen → encrypt → inspect → decrypt, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { VECTORS_DIR, vectorKeys } from '../helpers/vectors.js';

const ERROR_LINE = /^error \[ERR_CSE_[A-Z0-9_]+\]: [^\n]+\n$/;

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'oss-cse-cli-'));
}

test('keygen → encrypt → inspect → decrypt round-trips a file, with private.pem at mode 0600', async () => {
  const dir = scratch();
  const keys = join(dir, 'keys');
  let r = await runCli(['keygen', '--out', keys]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(join(keys, 'private.pem')).mode & 0o777, 0o600);
  assert.match(readFileSync(join(keys, 'private.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  assert.match(readFileSync(join(keys, 'public.pem'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);

  const plaintext = randomBytes(70_001);
  writeFileSync(join(dir, 'in.bin'), plaintext);
  r = await runCli([
    'encrypt', '--in', join(dir, 'in.bin'), '--out', join(dir, 'ct.bin'), '--meta-out', join(dir, 'meta.json'),
    '--public-key', join(keys, 'public.pem'), '--matdesc', '{"owner":"ops"}', '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).bytes, 70_001);
  assert.ok(!readFileSync(join(dir, 'ct.bin')).equals(plaintext));

  r = await runCli(['inspect', '--meta', join(dir, 'meta.json'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.format, 'V2');
  assert.equal(info.wrapAlgorithm, 'RSA/NONE/PKCS1Padding');
  assert.deepEqual(info.matdesc, { owner: 'ops' });
  assert.equal(info.unencryptedContentLength, 70_001);
  const meta: Record<string, string> = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  for (const value of Object.values(meta)) {
    if (value.length > 40) assert.ok(!r.stdout.includes(value), 'inspect prints no wrapped key material');
  }

  r = await runCli([
    'decrypt', '--in', join(dir, 'ct.bin'), '--out', join(dir, 'out.bin'), '--meta', join(dir, 'meta.json'),
    '--private-key', join(keys, 'private.pem'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(join(dir, 'out.bin')).equals(plaintext));

  // A ranged slice with --offset.
  writeFileSync(join(dir, 'slice.bin'), readFileSync(join(dir, 'ct.bin')).subarray(4097, 5000));
  r = await runCli([
    'decrypt', '--in', join(dir, 'slice.bin'), '--out', join(dir, 'slice.out'), '--meta', join(dir, 'meta.json'),
    '--private-key', join(keys, 'private.pem'), '--offset', '4097',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(join(dir, 'slice.out')).equals(plaintext.subarray(4097, 5000)));
});

test('decrypt reads a Go SDK vector object given its request headers as --meta', async () => {
  const dir = scratch();
  const cases = JSON.parse(readFileSync(join(VECTORS_DIR, 'go', 'vectors.json'), 'utf8')).cases;
  const c = cases.find((x: any) => x.name === 'put-17-matdesc');
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(c.request_headers));
  const r = await runCli([
    'decrypt', '--in', join(VECTORS_DIR, 'go', c.ciphertext_file), '--out', join(dir, 'out.bin'),
    '--meta', join(dir, 'meta.json'), '--private-key', vectorKeys.privatePath(),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(join(dir, 'out.bin')).equals(readFileSync(join(VECTORS_DIR, 'go', c.plaintext_file))));
});

test('a failed decrypt (wrong key, tampered metadata, unencrypted object) exits 1 with one error line and leaves no file', async () => {
  const dir = scratch();
  let r = await runCli(['keygen', '--out', join(dir, 'other')]);
  assert.equal(r.code, 0, r.stderr);
  const cases = JSON.parse(readFileSync(join(VECTORS_DIR, 'go', 'vectors.json'), 'utf8')).cases;
  const c = cases.find((x: any) => x.name === 'put-17');
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(c.request_headers));
  const ct = join(VECTORS_DIR, 'go', c.ciphertext_file);

  r = await runCli(['decrypt', '--in', ct, '--out', join(dir, 'out.bin'), '--meta', join(dir, 'meta.json'),
    '--private-key', join(dir, 'other', 'private.pem')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, ERROR_LINE);
  assert.match(r.stderr, /ERR_CSE_NO_MATCHING_KEY/);

  const bad = { ...c.request_headers, 'x-oss-meta-client-side-encryption-cek-alg': 'AES/GCM/NoPadding' };
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
  r = await runCli(['decrypt', '--in', ct, '--out', join(dir, 'out.bin'), '--meta', join(dir, 'bad.json'),
    '--private-key', vectorKeys.privatePath()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error \[ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM\]: .*cek-alg/);

  writeFileSync(join(dir, 'plain.json'), JSON.stringify({ 'content-type': 'text/plain' }));
  r = await runCli(['decrypt', '--in', ct, '--out', join(dir, 'out.bin'), '--meta', join(dir, 'plain.json'),
    '--private-key', vectorKeys.privatePath()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error \[ERR_CSE_NOT_ENCRYPTED\]/);

  // Length check: metadata declaring a different plaintext length fails after decryption; nothing is kept.
  const lying = { ...c.request_headers, 'x-oss-meta-client-side-encryption-unencrypted-content-length': '18' };
  writeFileSync(join(dir, 'lying.json'), JSON.stringify(lying));
  r = await runCli(['decrypt', '--in', ct, '--out', join(dir, 'out.bin'), '--meta', join(dir, 'lying.json'),
    '--private-key', vectorKeys.privatePath()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error \[ERR_CSE_INTEGRITY\]/);

  assert.ok(!existsSync(join(dir, 'out.bin')));
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp files left behind');
});

test('bad command lines exit 2; --help exits 0; --debug adds a stack trace', async () => {
  let r = await runCli(['encrypt', '--in', 'x']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--out FILE is required/);
  r = await runCli(['decrypt', '--bogus']);
  assert.equal(r.code, 2);
  r = await runCli(['nope']);
  assert.equal(r.code, 2);
  for (const cmd of ['keygen', 'encrypt', 'decrypt', 'inspect']) {
    r = await runCli([cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^Usage: oss-cse ${cmd}`));
  }
  r = await runCli(['inspect', '--meta', '/nonexistent/meta.json', '--debug']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error \[ERR_CSE_IO\]/);
  assert.match(r.stderr, /\n\s+at /);
});

test('legacy objects need --allow-legacy', async () => {
  const dir = scratch();
  // A V1 envelope (its wrapped values need not be valid to reach the legacy gate, which comes first).
  writeFileSync(join(dir, 'v1.json'), JSON.stringify({
    'x-oss-meta-oss-crypto-key': Buffer.alloc(256, 1).toString('base64'),
    'x-oss-meta-oss-crypto-start': Buffer.alloc(256, 2).toString('base64'),
    'x-oss-meta-oss-cek-alg': 'AES/GCM/NoPadding',
    'x-oss-meta-oss-wrap-alg': 'rsa',
  }));
  writeFileSync(join(dir, 'ct.bin'), randomBytes(10));
  const r = await runCli(['decrypt', '--in', join(dir, 'ct.bin'), '--out', join(dir, 'out.bin'),
    '--meta', join(dir, 'v1.json'), '--private-key', vectorKeys.privatePath()]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error \[ERR_CSE_LEGACY_NOT_ALLOWED\]: .*--allow-legacy/);
  assert.ok(!existsSync(join(dir, 'out.bin')));
});
