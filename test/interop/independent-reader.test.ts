// What `oss-cse encrypt` writes decrypts with an independent implementation of the wire spec written here with
// plain node:crypto, sharing no code with src/ (FORMAT.md; oss-go-java.md §1–§3). If src/ and this reader agreed on
// a bug, the vectors would still catch it; if they disagree, one of them misreads the spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createDecipheriv, createHash, generateKeyPairSync, privateDecrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';

/** RSAES-PKCS1-v1_5 decryption, written plainly from RFC 8017 §7.2.2 (timing does not matter in a test). */
function pkcs1v15Decrypt(privateKeyPem: string, ciphertext: Buffer): Buffer {
  const em = privateDecrypt({ key: privateKeyPem, padding: constants.RSA_NO_PADDING }, ciphertext);
  assert.equal(em[0], 0x00);
  assert.equal(em[1], 0x02);
  const sep = em.indexOf(0x00, 2);
  assert.ok(sep >= 10, 'at least 8 bytes of non-zero padding');
  return em.subarray(sep + 1);
}

test('a ciphertext written by `oss-cse encrypt` decrypts with an independent reader and has the peers\' header set', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oss-cse-indep-'));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileSync(join(dir, 'public.pem'), publicKey);
  for (const size of [0, 1, 16, 17, 100_003]) {
    const plaintext = randomBytes(size);
    writeFileSync(join(dir, 'plain.bin'), plaintext);
    const r = await runCli([
      'encrypt', '--in', join(dir, 'plain.bin'), '--out', join(dir, 'cipher.bin'),
      '--meta-out', join(dir, 'meta.json'), '--public-key', join(dir, 'public.pem'), '--matdesc', '{"b":"2","a":"1"}',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, string>;
    const p = 'x-oss-meta-client-side-encryption-';
    assert.deepEqual(Object.keys(meta).sort(), [
      `${p}cek-alg`, `${p}key`, `${p}matdesc`, `${p}start`, `${p}unencrypted-content-length`, `${p}wrap-alg`,
    ]);
    assert.equal(meta[`${p}cek-alg`], 'AES/CTR/NoPadding');
    assert.equal(meta[`${p}wrap-alg`], 'RSA/NONE/PKCS1Padding');
    assert.equal(meta[`${p}matdesc`], '{"a":"1","b":"2"}', 'compact JSON with sorted keys, as Go writes it');
    assert.equal(meta[`${p}unencrypted-content-length`], String(size));
    const key = pkcs1v15Decrypt(privateKey, Buffer.from(meta[`${p}key`]!, 'base64'));
    const iv = pkcs1v15Decrypt(privateKey, Buffer.from(meta[`${p}start`]!, 'base64'));
    assert.equal(key.length, 32);
    assert.equal(iv.length, 16);
    assert.equal(iv.readUInt32BE(8), 0, 'IV bytes 8..11 are zero, the shape every SDK writes');
    const ciphertext = readFileSync(join(dir, 'cipher.bin'));
    assert.equal(ciphertext.length, size);
    const d = createDecipheriv('aes-256-ctr', key, iv);
    const decrypted = Buffer.concat([d.update(ciphertext), d.final()]);
    assert.equal(createHash('sha256').update(decrypted).digest('hex'), createHash('sha256').update(plaintext).digest('hex'));
  }
});
