/**
 * AES-256-CTR over `node:crypto`, startable at any plaintext byte offset.
 *
 * The content cipher of every OSS client-side-encryption SDK is AES-256-CTR with the whole 16-byte IV as the initial
 * counter block, incremented as a 128-bit big-endian integer per block (`oss-go-java.md` §3, `oss2-python.md` §2.4).
 * OpenSSL's CTR mode increments the full 128-bit block with carry, so one `aes-256-ctr` cipher started at
 * `counterAt(iv, offset)` continues exactly the stream a single PUT produced. CTR has no MAC: see SECURITY.md.
 *
 * @packageDocumentation
 */

import { createCipheriv } from 'node:crypto';
import { CseError, ErrorCode } from '../errors.js';
import { DATA_KEY_SIZE, IV_SIZE, counterAt } from '../format/layout.js';

/**
 * A running AES-256-CTR keystream. Encryption and decryption are the same operation (XOR with the keystream), so
 * one interface serves both.
 */
export interface CtrCipher {
  /**
   * XORs `chunk` with the next `chunk.length` keystream bytes.
   * @param chunk - bytes to encrypt or decrypt (may be empty)
   * @returns a new buffer of the same length
   * @throws CseError ERR_CSE_INVALID_ARGUMENT when `chunk` is not a `Uint8Array`
   */
  update(chunk: Uint8Array): Buffer;
}

/**
 * Checks the data key and IV shared by every CTR entry point.
 * @throws CseError ERR_CSE_INVALID_KEY unless the key is 32 bytes; ERR_CSE_INVALID_ARGUMENT unless the IV is 16 bytes
 */
function checkKeyAndIv(key: Uint8Array, iv: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== DATA_KEY_SIZE) {
    // oss2 silently switches to AES-128 for a 16-byte key (`oss2-python.md` §2.2); we only ever speak AES-256.
    const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
    throw new CseError(ErrorCode.INVALID_KEY, `expected a ${DATA_KEY_SIZE}-byte AES-256 data key, got ${got}`);
  }
  if (!(iv instanceof Uint8Array) || iv.length !== IV_SIZE) {
    const got = iv instanceof Uint8Array ? `${iv.length} bytes` : typeof iv;
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `expected a ${IV_SIZE}-byte IV, got ${got}`);
  }
}

/**
 * The error for a chunk that is not bytes. A string would otherwise be silently UTF-8 encoded by `node:crypto`,
 * which is never what a byte-exact cipher wants.
 * @internal
 */
export function notBytesError(chunk: unknown): CseError {
  const got =
    chunk === null ? 'null' : typeof chunk === 'object' ? Object.prototype.toString.call(chunk).slice(8, -1) : typeof chunk;
  return new CseError(ErrorCode.INVALID_ARGUMENT, `expected a Uint8Array chunk, got ${got}`);
}

/**
 * Inputs for discarding 0..15 keystream bytes after a seek, one ready view per length (only the length matters; they
 * are never written). Pool-backed Buffers: no allocation and no on-heap typed array for `node:crypto` to move per seek.
 */
const SKIP_INPUTS: readonly Buffer[] = Array.from({ length: IV_SIZE }, (_, n) => Buffer.allocUnsafe(n).fill(0));

/**
 * Starts AES-256-CTR at any plaintext byte offset: the counter block comes from `counterAt(iv, plaintextOffset)`
 * (full 128-bit add of `floor(offset / 16)`), then the first `offset % 16` keystream bytes of that block are
 * discarded. The result equals the matching slice of one stream started at offset 0.
 *
 * @param key - 32-byte AES-256 data key (copied by OpenSSL; the caller may zero its copy afterwards)
 * @param iv - 16-byte initial counter block of the object
 * @param plaintextOffset - byte offset into the object where the first `update` byte sits (default 0)
 * @returns a cipher whose `update` both encrypts and decrypts
 * @throws CseError ERR_CSE_INVALID_KEY unless `key` is 32 bytes; ERR_CSE_INVALID_ARGUMENT unless `iv` is 16 bytes and
 *   `plaintextOffset` is a non-negative safe integer
 */
export function createCtrCipher(key: Uint8Array, iv: Uint8Array, plaintextOffset = 0): CtrCipher {
  checkKeyAndIv(key, iv);
  const { counter, skip } = counterAt(iv, plaintextOffset);
  const cipher = createCipheriv('aes-256-ctr', key, counter);
  // Burn the keystream bytes before the offset inside its block (at most 15, once per cipher; a shared view, no
  // allocation per seek).
  if (skip > 0) cipher.update(SKIP_INPUTS[skip] as Buffer);
  return {
    update(chunk: Uint8Array): Buffer {
      // One type check and the one copy `cipher.update` makes: nothing else per chunk (performance budget in the brief).
      if (!(chunk instanceof Uint8Array)) throw notBytesError(chunk);
      return cipher.update(chunk);
    },
  };
}

/**
 * One-shot AES-256-CTR: encrypts or decrypts `data`, which starts at `plaintextOffset` in the object.
 *
 * @param key - 32-byte AES-256 data key
 * @param iv - 16-byte initial counter block
 * @param data - the bytes
 * @param plaintextOffset - where `data` starts in the object (default 0)
 * @returns a new buffer of the same length
 * @throws CseError ERR_CSE_INVALID_KEY, ERR_CSE_INVALID_ARGUMENT as {@link createCtrCipher}, and
 *   ERR_CSE_INVALID_ARGUMENT when `data` is not a `Uint8Array`
 */
export function ctrXor(key: Uint8Array, iv: Uint8Array, data: Uint8Array, plaintextOffset = 0): Buffer {
  return createCtrCipher(key, iv, plaintextOffset).update(data);
}
