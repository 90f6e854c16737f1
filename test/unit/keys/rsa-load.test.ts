import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { RsaMasterKey, generateRsaKeyPair } from '../../../src/keys/rsa.js';
import { GO_KEYS, UPSTREAM_KEYS } from './fixtures.js';

const SPKI_SHA256 = createHash('sha256')
  .update(createPublicKey(GO_KEYS.publicPkix).export({ type: 'spki', format: 'der' }))
  .digest('hex');

/** Asserts a CseError with `code` whose message leaks no line of `secret` (PEM body) and no passphrase. */
function rejectsWithout(fn: () => unknown, code: string, secret: string, passphrase?: string): void {
  assert.throws(fn, (e: any) => {
    assert.equal(e.code, code, e.message);
    for (const line of secret.split('\n')) {
      if (line.length > 20 && !line.startsWith('-----')) assert.ok(!e.message.includes(line), 'message quotes key bytes');
    }
    if (passphrase !== undefined) assert.ok(!e.message.includes(passphrase), 'message quotes the passphrase');
    return true;
  });
}

test('all four PEM forms of the vector key load, with one fingerprint and the default name', () => {
  const forms = [
    { privateKey: GO_KEYS.privatePkcs1 },
    { privateKey: GO_KEYS.privatePkcs8 },
    { publicKey: GO_KEYS.publicPkcs1 },
    { publicKey: GO_KEYS.publicPkix },
    { privateKey: Buffer.from(GO_KEYS.privatePkcs8), publicKey: Buffer.from(GO_KEYS.publicPkcs1) },
  ];
  for (const options of forms) {
    const key = new RsaMasterKey(options);
    assert.equal(key.kind, 'rsa');
    assert.equal(key.bits, 2048);
    assert.equal(key.fingerprint, SPKI_SHA256);
    assert.equal(key.name, `rsa-2048:${SPKI_SHA256.slice(0, 16)}`);
    assert.deepEqual(key.description, {});
    assert.equal(key.canWrap, true);
    assert.equal(key.canUnwrap, options.privateKey !== undefined);
  }
});

test('the public key is derived from the private key, and exported as SPKI PEM', () => {
  const key = new RsaMasterKey({ privateKey: GO_KEYS.privatePkcs1 });
  assert.equal(key.exportPublicKeyPem().trim(), GO_KEYS.publicPkix.trim());
});

test('KeyObjects are accepted in both slots', () => {
  const key = new RsaMasterKey({
    privateKey: createPrivateKey(GO_KEYS.privatePkcs1),
    publicKey: createPublicKey(GO_KEYS.publicPkix),
  });
  assert.equal(key.fingerprint, SPKI_SHA256);
  assert.throws(() => new RsaMasterKey({ privateKey: createPublicKey(GO_KEYS.publicPkix) }), { code: 'ERR_CSE_INVALID_KEY' });
  assert.throws(() => new RsaMasterKey({ publicKey: createPrivateKey(GO_KEYS.privatePkcs1) }), { code: 'ERR_CSE_INVALID_KEY' });
});

test('name, description and wrap options are kept; description is copied and frozen', () => {
  const description = { owner: 'ops', 'ключ': 'значение' };
  const key = new RsaMasterKey({ publicKey: GO_KEYS.publicPkix, description, name: 'backup', wrap: 'oaep' });
  description.owner = 'changed';
  assert.deepEqual(key.description, { owner: 'ops', 'ключ': 'значение' });
  assert.ok(Object.isFrozen(key.description));
  assert.equal(key.name, 'backup');
  assert.equal(key.wrapPadding, 'oaep');
});

test('an encrypted PKCS#8 key loads with its passphrase; a wrong or missing passphrase is INVALID_KEY without leaks', () => {
  const passphrase = 'correct horse battery staple';
  const pem = createPrivateKey(GO_KEYS.privatePkcs8).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
  assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  const key = new RsaMasterKey({ privateKey: pem, passphrase });
  assert.equal(key.fingerprint, SPKI_SHA256);
  assert.equal(key.canUnwrap, true);
  rejectsWithout(() => new RsaMasterKey({ privateKey: pem, passphrase: 'Tr0ub4dor&3' }), 'ERR_CSE_INVALID_KEY', pem, 'Tr0ub4dor&3');
  rejectsWithout(() => new RsaMasterKey({ privateKey: pem }), 'ERR_CSE_INVALID_KEY', pem);
});

test('an encrypted legacy PKCS#1 key (Proc-Type: 4,ENCRYPTED) loads with its passphrase and not without', () => {
  const passphrase = 'legacy-pass';
  const pem = createPrivateKey(UPSTREAM_KEYS.privatePkcs1).export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase }).toString();
  assert.match(pem, /Proc-Type: 4,ENCRYPTED/);
  assert.equal(new RsaMasterKey({ privateKey: pem, passphrase }).bits, 1024);
  assert.throws(() => new RsaMasterKey({ privateKey: pem }), { code: 'ERR_CSE_INVALID_KEY' });
});

test('non-RSA keys are refused with INVALID_KEY (EC, Ed25519, RSA-PSS)', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = generateKeyPairSync('ed25519');
  const pss = generateKeyPairSync('rsa-pss', { modulusLength: 1024 });
  for (const pair of [ec, ed, pss]) {
    const priv = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pub = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    rejectsWithout(() => new RsaMasterKey({ privateKey: priv }), 'ERR_CSE_INVALID_KEY', priv);
    rejectsWithout(() => new RsaMasterKey({ publicKey: pub }), 'ERR_CSE_INVALID_KEY', pub);
  }
  const ecSec1 = ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString(); // EC PRIVATE KEY label
  rejectsWithout(() => new RsaMasterKey({ privateKey: ecSec1 }), 'ERR_CSE_INVALID_KEY', ecSec1);
});

test('RSA keys below 1024 bits are refused', () => {
  const small = generateKeyPairSync('rsa', { modulusLength: 768 });
  assert.throws(() => new RsaMasterKey({ privateKey: small.privateKey.export({ type: 'pkcs1', format: 'pem' }) }), {
    code: 'ERR_CSE_INVALID_KEY',
    message: /at least 1024 bits/,
  });
  assert.throws(() => new RsaMasterKey({ publicKey: small.publicKey }), { code: 'ERR_CSE_INVALID_KEY' });
});

test('a CERTIFICATE block is refused in both slots (createPublicKey alone would accept it)', () => {
  const cert = rootCertificates[0]!;
  assert.doesNotThrow(() => createPublicKey(cert)); // the trap we guard against
  assert.throws(() => new RsaMasterKey({ publicKey: cert }), { code: 'ERR_CSE_INVALID_KEY', message: /found a CERTIFICATE block/ });
  assert.throws(() => new RsaMasterKey({ privateKey: cert }), { code: 'ERR_CSE_INVALID_KEY', message: /found a CERTIFICATE block/ });
});

test('keys in the wrong slot are refused: a private PEM as publicKey, a public PEM as privateKey', () => {
  rejectsWithout(() => new RsaMasterKey({ publicKey: GO_KEYS.privatePkcs8 }), 'ERR_CSE_INVALID_KEY', GO_KEYS.privatePkcs8);
  assert.throws(() => new RsaMasterKey({ privateKey: GO_KEYS.publicPkix }), { code: 'ERR_CSE_INVALID_KEY' });
});

test('garbage is refused with INVALID_KEY: not PEM, DER bytes, a truncated or corrupted PEM body', () => {
  const der = createPrivateKey(GO_KEYS.privatePkcs8).export({ type: 'pkcs8', format: 'der' });
  const corrupted = GO_KEYS.privatePkcs8.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA');
  const truncated = GO_KEYS.privatePkcs8.split('\n').filter((_, i) => i !== 5).join('\n');
  for (const bad of ['', 'hello', der, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', corrupted, truncated]) {
    rejectsWithout(() => new RsaMasterKey({ privateKey: bad }), 'ERR_CSE_INVALID_KEY', GO_KEYS.privatePkcs8);
  }
  assert.throws(() => new RsaMasterKey({ publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }), {
    code: 'ERR_CSE_INVALID_KEY',
  });
  assert.throws(() => new RsaMasterKey({ privateKey: 42 as any }), { code: 'ERR_CSE_INVALID_KEY' });
});

test('a public and a private key from different pairs are refused', () => {
  assert.throws(() => new RsaMasterKey({ privateKey: GO_KEYS.privatePkcs1, publicKey: UPSTREAM_KEYS.publicPkix }), {
    code: 'ERR_CSE_INVALID_KEY',
    message: /not the same key pair/,
  });
});

test('malformed options are INVALID_ARGUMENT: no key, unknown wrap, empty name, non-string description value', () => {
  assert.throws(() => new RsaMasterKey({}), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => new RsaMasterKey({ publicKey: GO_KEYS.publicPkix, wrap: 'raw' as any }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => new RsaMasterKey({ publicKey: GO_KEYS.publicPkix, name: '' }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => new RsaMasterKey({ publicKey: GO_KEYS.publicPkix, description: { a: 1 } as any }), {
    code: 'ERR_CSE_INVALID_ARGUMENT',
  });
});

test('generateRsaKeyPair gives PKCS#8 + SPKI PEM that load as one pair; a passphrase gives encrypted PKCS#8', async () => {
  const plain = await generateRsaKeyPair(1024);
  assert.match(plain.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.match(plain.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
  const key = new RsaMasterKey({ privateKey: plain.privateKeyPem, publicKey: plain.publicKeyPem });
  assert.equal(key.bits, 1024);

  const locked = await generateRsaKeyPair(1024, { passphrase: 'pw' });
  assert.match(locked.privateKeyPem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.equal(new RsaMasterKey({ privateKey: locked.privateKeyPem, passphrase: 'pw' }).canUnwrap, true);
});

test('generateRsaKeyPair defaults to 2048 bits and refuses sizes outside 1024..16384 and empty passphrases', async () => {
  const pair = await generateRsaKeyPair();
  assert.equal(new RsaMasterKey({ publicKey: pair.publicKeyPem }).bits, 2048);
  for (const bits of [512, 1023.5, 16385, Number.NaN]) {
    await assert.rejects(generateRsaKeyPair(bits), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  }
  await assert.rejects(generateRsaKeyPair(1024, { passphrase: '' }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});
