// Loads the known-answer vectors in test/vectors/ (provenance: test/vectors/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const VECTORS_DIR = new URL('../vectors/', import.meta.url).pathname;

export interface PutVector {
  readonly source: 'go' | 'oss2';
  readonly name: string;
  readonly headers: Record<string, string>;
  readonly plaintext: Buffer;
  readonly ciphertext: Buffer;
  readonly dataKeyHex: string;
  readonly ivHex: string;
  readonly wrap: string;
}

export function readVectorFile(...parts: string[]): Buffer {
  return readFileSync(join(VECTORS_DIR, ...parts));
}

export function vectorJson(source: 'go' | 'oss2' | 'upstream'): any {
  return JSON.parse(readVectorFile(source, 'vectors.json').toString('utf8'));
}

/** Every put-object case of the Go and oss2 vectors, with files loaded. */
export function putVectors(): PutVector[] {
  const out: PutVector[] = [];
  for (const source of ['go', 'oss2'] as const) {
    for (const c of vectorJson(source).cases) {
      if (c.kind !== 'put-object') continue;
      const plaintextFile: string = c.plaintext_file;
      out.push({
        source,
        name: c.name,
        headers: c.request_headers,
        plaintext: readVectorFile(source, plaintextFile),
        ciphertext: readVectorFile(source, c.ciphertext_file),
        dataKeyHex: c.data_key_hex,
        ivHex: c.iv_hex,
        wrap: c.wrap ?? (c.request_headers['x-oss-meta-client-side-encryption-wrap-alg'] === 'KMS/ALICLOUD' ? 'kms' : 'rsa'),
      });
    }
  }
  return out;
}

/** The RSA-2048 test key pair the Go and oss2 vectors were wrapped with (throw-away test keys). */
export const vectorKeys = {
  privatePkcs8: () => readVectorFile('go', 'keys', 'rsa2048-private-pkcs8.pem').toString('utf8'),
  privatePkcs1: () => readVectorFile('go', 'keys', 'rsa2048-private-pkcs1.pem').toString('utf8'),
  publicSpki: () => readVectorFile('go', 'keys', 'rsa2048-public-pkix.pem').toString('utf8'),
  publicPkcs1: () => readVectorFile('go', 'keys', 'rsa2048-public-pkcs1.pem').toString('utf8'),
  privatePath: () => join(VECTORS_DIR, 'go', 'keys', 'rsa2048-private-pkcs8.pem'),
  publicPath: () => join(VECTORS_DIR, 'go', 'keys', 'rsa2048-public-pkix.pem'),
};

/** Splits bytes into chunks of the given size (the last may be shorter). */
export async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, Math.min(i + size, data.length));
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts);
}

/** The boundary offsets the issue asks every vector to be range-decrypted at, clipped to the object. */
export function boundaryOffsets(size: number): number[] {
  const raw = [0, 1, 15, 16, 17, 31, 32, 33, 4095, 4096, 4097, size - 1];
  return [...new Set(raw.filter((o) => o >= 0 && o < size))].sort((a, b) => a - b);
}

/** True when the stream yields exactly `expected` (compared chunk by chunk, without concatenating). */
export async function streamEquals(source: AsyncIterable<Uint8Array>, expected: Uint8Array): Promise<boolean> {
  let at = 0;
  for await (const c of source) {
    if (at + c.length > expected.length) return false;
    if (Buffer.compare(c, expected.subarray(at, at + c.length)) !== 0) return false;
    at += c.length;
  }
  return at === expected.length;
}
