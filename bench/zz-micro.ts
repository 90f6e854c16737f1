import { generateKeyPairSync, randomBytes, privateDecrypt, constants } from 'node:crypto';
import { RsaMasterKey } from '../src/keys/rsa.js';
import { sealEnvelope, openEnvelope } from '../src/object-crypto.js';
import { KeyRing } from '../src/keys/key-ring.js';
import { createCtrCipher } from '../src/cipher/aes-ctr.js';
import { Crc64 } from '../src/transfer/crc64.js';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const mk = new RsaMasterKey({ privateKey });
const ring = new KeyRing([mk]);
const body = randomBytes(1024);
const N = 3000;
const sealed = await sealEnvelope({ masterKey: mk, plaintextLength: 1024, unencryptedContentLength: 1024 });
const time = async (name: string, f: () => unknown): Promise<void> => {
  for (let i = 0; i < 200; i++) await f();
  const t = performance.now();
  for (let i = 0; i < N; i++) await f();
  console.log(`${name}: ${((performance.now() - t) / N * 1000).toFixed(1)} us/op`);
};
const ct = Buffer.from(sealed.envelope.wrappedKey, 'base64');
for (let r = 0; r < 2; r++) {
  await time('raw privateDecrypt x2', () => { privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ct); privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ct); });
  await time('sealEnvelope', () => sealEnvelope({ masterKey: mk, plaintextLength: 1024, unencryptedContentLength: 1024 }));
  await time('openEnvelope', () => openEnvelope(sealed.headers, { masterKeys: ring }));
  await time('ctr cipher 1KiB', () => createCtrCipher(sealed.material.key ?? randomBytes(32), randomBytes(16)).update(body));
  await time('crc64 1KiB', () => new Crc64().update(body).digest());
}
