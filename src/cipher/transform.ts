/**
 * Streaming AES-256-CTR: an async-generator transform (usable directly in `stream.pipeline` and over any async
 * iterable) and a thin Node `Transform` adapter (`code-style-anchors.md` "Lessons" §3: iterator-based streams, no
 * hand-made duplex plumbing).
 *
 * Both keep at most one chunk in flight and pass chunk boundaries through unchanged: one output chunk of the same
 * length per input chunk, empty chunks included.
 *
 * @packageDocumentation
 */

import { Transform, type TransformCallback } from 'node:stream';
import { CseError, ErrorCode } from '../errors.js';
import { createCtrCipher, notBytesError } from './aes-ctr.js';

/**
 * An async-generator transform function, as `stream.pipeline` and `Readable.prototype.compose` accept them.
 */
export type ChunkTransform = (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Buffer>;

/**
 * AES-256-CTR as an async-generator transform: each input chunk is XORed with the keystream continuing from
 * `plaintextOffset`. Encryption and decryption are the same.
 *
 * The key and IV are checked, and the cipher is set up, when `ctrTransform` is called, so bad arguments fail before
 * any I/O starts. The returned function may be applied to one source only: a second use would restart the same
 * keystream (for encryption, CTR keystream reuse), so it throws instead.
 *
 * @example
 * ```ts
 * await pipeline(createReadStream(src), ctrTransform(key, iv), createWriteStream(dst));
 * ```
 * @param key - 32-byte AES-256 data key
 * @param iv - 16-byte initial counter block
 * @param plaintextOffset - object offset of the first byte of the first chunk (default 0)
 * @returns the transform function
 * @throws CseError ERR_CSE_INVALID_KEY unless `key` is 32 bytes; ERR_CSE_INVALID_ARGUMENT unless `iv` is 16 bytes and
 *   `plaintextOffset` a non-negative safe integer; the generator throws ERR_CSE_INVALID_ARGUMENT on a chunk that is
 *   not a `Uint8Array` (e.g. a string from a stream with an encoding set), and the function throws
 *   ERR_CSE_INVALID_ARGUMENT when applied a second time
 */
export function ctrTransform(key: Uint8Array, iv: Uint8Array, plaintextOffset = 0): ChunkTransform {
  const cipher = createCtrCipher(key, iv, plaintextOffset);
  let used = false;
  return (source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> => {
    if (used) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'a ctrTransform can process one source only (keystream reuse)');
    }
    used = true;
    return run(source);
  };

  async function* run(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    // `update` type-checks each chunk (a string chunk is refused, never UTF-8 encoded).
    for await (const chunk of source) yield cipher.update(chunk);
  }
}

/**
 * AES-256-CTR as a Node `Transform` stream, for APIs that want a stream object rather than a generator function.
 * Strings written to it are refused (`decodeStrings` is off), so no text encoding can slip into the ciphertext.
 *
 * @param key - 32-byte AES-256 data key
 * @param iv - 16-byte initial counter block
 * @param plaintextOffset - object offset of the first byte written (default 0)
 * @returns a Transform whose output chunks match its input chunks in length
 * @throws CseError ERR_CSE_INVALID_KEY / ERR_CSE_INVALID_ARGUMENT as {@link ctrTransform}; the stream errors with
 *   ERR_CSE_INVALID_ARGUMENT on a string chunk
 */
export function createCtrStream(key: Uint8Array, iv: Uint8Array, plaintextOffset = 0): Transform {
  const cipher = createCtrCipher(key, iv, plaintextOffset);
  return new Transform({
    decodeStrings: false,
    transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
      if (!(chunk instanceof Uint8Array)) {
        callback(notBytesError(chunk));
        return;
      }
      callback(null, cipher.update(chunk));
    },
  });
}
