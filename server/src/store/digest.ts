/**
 * Hashing while streaming: size, MD5 and CRC-64 of a body, computed chunk by chunk so no body is held in memory.
 *
 * @packageDocumentation
 */

import { createHash, type Hash } from 'node:crypto';
import { Crc64 } from '../crc64.js';
import { StoreError, type BodyDigest } from './types.js';

/** Accumulates a {@link BodyDigest}. */
export class Digester {
  readonly #md5: Hash = createHash('md5');
  readonly #crc = new Crc64();
  #size = 0;
  readonly #maxBytes: number;

  /** @param maxBytes - the most bytes accepted; more raise StoreError too-large */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /**
   * @param chunk - the next bytes
   * @throws StoreError too-large
   */
  update(chunk: Uint8Array): void {
    this.#size += chunk.length;
    if (this.#size > this.#maxBytes) {
      throw new StoreError('too-large', `body exceeds ${this.#maxBytes} bytes`);
    }
    this.#md5.update(chunk);
    this.#crc.update(chunk);
  }

  /** @returns the digest of everything seen */
  digest(): BodyDigest {
    return { size: this.#size, md5: this.#md5.digest(), crc64: this.#crc.digest() };
  }
}
