// An independent, deliberately naive AES-256-CTR for tests: keystream block i = AES-256-ECB(key, (int(iv) + i) mod
// 2^128), computed block by block with BigInt. It shares no code with src/cipher or src/format/layout.
import { createCipheriv } from 'node:crypto';

const MOD128 = 1n << 128n;

export function blockAt(iv: Uint8Array, blockIndex: bigint): Buffer {
  let v = (BigInt('0x' + Buffer.from(iv).toString('hex')) + blockIndex) % MOD128;
  const out = Buffer.alloc(16);
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function aesBlock(key: Uint8Array, block: Uint8Array): Buffer {
  const ecb = createCipheriv('aes-256-ecb', key, null);
  ecb.setAutoPadding(false);
  return Buffer.concat([ecb.update(block), ecb.final()]);
}

/** XORs `data`, which sits at byte `offset` of the object, with the naive keystream. */
export function referenceCtr(key: Uint8Array, iv: Uint8Array, data: Uint8Array, offset = 0): Buffer {
  const out = Buffer.alloc(data.length);
  let cached = -1n;
  let ks: Buffer = Buffer.alloc(0);
  for (let i = 0; i < data.length; i++) {
    const pos = BigInt(offset + i);
    const b = pos / 16n;
    if (b !== cached) {
      ks = aesBlock(key, blockAt(iv, b));
      cached = b;
    }
    out[i] = data[i]! ^ ks[Number(pos % 16n)]!;
  }
  return out;
}

export const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** Splits `data` at the given cut lengths (cycled); zero-length cuts produce empty chunks. */
export function chunkBy(data: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  let i = 0;
  if (sizes.length === 0 || sizes.every((s) => s === 0)) return [data];
  while (pos < data.length) {
    const n = sizes[i++ % sizes.length]!;
    out.push(data.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}
