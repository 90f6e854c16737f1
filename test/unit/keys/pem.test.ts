import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstPemBlock } from '../../../src/keys/pem.js';
import { GO_KEYS } from './fixtures.js';

test('firstPemBlock finds the first block and its label, skipping leading text', () => {
  const b = firstPemBlock(`Bag Attributes\n  localKeyID: 01\n${GO_KEYS.privatePkcs1}${GO_KEYS.publicPkix}`, 'key');
  assert.equal(b.label, 'RSA PRIVATE KEY');
  assert.equal(b.text.trim(), GO_KEYS.privatePkcs1.trim());
  assert.equal(b.encrypted, false);
  assert.equal(firstPemBlock(Buffer.from(GO_KEYS.publicPkix), 'key').label, 'PUBLIC KEY');
});

test('firstPemBlock handles CRLF line endings', () => {
  assert.equal(firstPemBlock(GO_KEYS.publicPkcs1.replace(/\n/g, '\r\n'), 'key').label, 'RSA PUBLIC KEY');
});

test('firstPemBlock flags encrypted blocks (PKCS#8 and legacy Proc-Type)', () => {
  assert.equal(firstPemBlock('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----', 'k').encrypted, true);
  const legacy = '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----';
  assert.equal(firstPemBlock(legacy, 'k').encrypted, true);
});

test('firstPemBlock refuses text without a complete block, with INVALID_KEY and without quoting the input', () => {
  for (const bad of ['', 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA', '-----BEGIN PUBLIC KEY-----\nAAAA\n', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PRIVATE KEY-----']) {
    assert.throws(() => firstPemBlock(bad, 'public key'), (e: any) => {
      assert.equal(e.code, 'ERR_CSE_INVALID_KEY');
      assert.match(e.message, /public key is not PEM/);
      assert.ok(!e.message.includes('MIIB') && !e.message.includes('AAAA'));
      return true;
    });
  }
});
