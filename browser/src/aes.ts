/**
 * AES-256-CTR on WebCrypto. WebCrypto has no streaming CTR, but CTR is seekable: the bytes at plaintext offset `o`
 * are encrypted with counter block `IV + floor(o / 16)` (FORMAT.md §4, `counterAt` in src/format/layout.ts), so
 * every chunk is one independent `encrypt` call. The counter `length` is 128 bits: WebCrypto then increments the
 * whole block and wraps mod 2^128, exactly the full-carry arithmetic of the format (an IV near 2^128 − 1 carries
 * through all 16 bytes, which a 64-bit counter length would not).
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../../src/errors.js';
import { BLOCK_SIZE, DATA_KEY_SIZE, IV_SIZE, counterAt } from '../../src/format/layout.js';

/** A data key ready for WebCrypto, with its initial counter block. */
export interface CtrKey {
  readonly key: CryptoKey;
  readonly iv: Uint8Array;
}

/**
 * Imports a 32-byte data key (non-extractable) for AES-CTR.
 * @param raw - the data key
 * @param iv - the 16-byte initial counter block
 * @throws CseError ERR_CSE_UNWRAP_BAD_LENGTH for a key that is not 32 bytes or an IV that is not 16
 */
export async function importCtrKey(raw: Uint8Array, iv: Uint8Array): Promise<CtrKey> {
  if (raw.length !== DATA_KEY_SIZE || iv.length !== IV_SIZE) {
    throw new CseError(ErrorCode.UNWRAP_BAD_LENGTH, `expected a ${DATA_KEY_SIZE}-byte data key and a ${IV_SIZE}-byte IV`);
  }
  const key = await crypto.subtle.importKey('raw', plainBuffer(raw), { name: 'AES-CTR' }, false, ['encrypt']);
  return { key, iv: Uint8Array.from(iv) };
}

/**
 * Encrypts or decrypts (the same operation) `data` found at plaintext byte `offset` of the object.
 * @param ctr - key and IV
 * @param offset - where `data` starts in the object (any offset; a partial first block is padded and cut off)
 * @param data - the bytes
 * @returns new bytes of the same length
 * @throws CseError ERR_CSE_INVALID_ARGUMENT for a negative or unsafe offset
 */
export async function ctrAt(ctr: CtrKey, offset: number, data: Uint8Array): Promise<Uint8Array> {
  if (data.length === 0) return new Uint8Array(0);
  const { counter, skip } = counterAt(ctr.iv, offset);
  let input: Uint8Array = data;
  if (skip !== 0) {
    input = new Uint8Array(skip + data.length);
    input.set(data, skip);
  }
  const out = await crypto.subtle.encrypt({ name: 'AES-CTR', counter: Uint8Array.from(counter), length: BLOCK_SIZE * 8 }, ctr.key, plainBuffer(input));
  return new Uint8Array(out, skip);
}

/**
 * The same bytes typed for WebCrypto and Blob (which refuse views of a SharedArrayBuffer): a view of an ArrayBuffer
 * as is, anything else copied.
 * @param bytes - the bytes
 * @returns a view backed by an ArrayBuffer
 */
export function plainBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}
