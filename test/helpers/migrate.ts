// Shared set-up of the migration tests (issue #18): objects in every state a migration meets, made with the plain
// ali-oss client exactly as other writers make them.
import { constants, createCipheriv, publicEncrypt, randomBytes } from 'node:crypto';
import type OSS from 'ali-oss';
import { V1Header } from '../../src/format/headers.js';
import { vectorKeys } from './vectors.js';

/**
 * Writes a legacy V1 object (oss2 2.5–2.10 form: OAEP-wrapped key, decimal start) under the vector RSA key, with
 * extra headers (user metadata, Content-Type).
 */
export async function putV1(oss: OSS, key: string, plaintext: Buffer, headers: Record<string, string> = {}): Promise<void> {
  const dataKey = randomBytes(32);
  const start = 8;
  const counter = Buffer.alloc(16);
  counter[15] = start;
  const cipher = createCipheriv('aes-256-ctr', dataKey, counter);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const oaep = (data: Buffer): string =>
    publicEncrypt({ key: vectorKeys.publicSpki(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, data).toString('base64');
  await oss.put(key, ciphertext, {
    headers: {
      ...headers,
      [V1Header.KEY]: oaep(dataKey),
      [V1Header.START]: oaep(Buffer.from(String(start))),
      [V1Header.CEK_ALG]: 'AES/GCM/NoPadding',
      [V1Header.WRAP_ALG]: 'rsa',
    },
  });
}

/** Deterministic pseudo-random bytes of a key (so a test can recompute what an object held). */
export function bytesFor(key: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = 2166136261;
  for (const c of key) x = Math.imul(x ^ c.charCodeAt(0), 16777619) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** The object's tags through ali-oss `getObjectTagging` (missing from @types/ali-oss). */
export async function tagsOf(oss: OSS, key: string): Promise<Record<string, string>> {
  const client = oss as unknown as { getObjectTagging(name: string): Promise<{ tag: Record<string, string> }> };
  return (await client.getObjectTagging(key)).tag;
}
