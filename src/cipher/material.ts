/**
 * Fresh content material (data key and IV) for one object, in the shape every official SDK writes.
 *
 * @packageDocumentation
 */

import { randomFillSync } from 'node:crypto';
import type { ContentMaterial } from '../format/types.js';
import { DATA_KEY_SIZE, IV_SIZE } from '../format/layout.js';

/**
 * Generates a data key and IV from the CSPRNG.
 *
 * - Key: 32 random bytes, drawn again while the first byte is zero, as the Java SDK does
 *   (`CryptoModuleBase.generateCEK`, `oss-go-java.md` §2). Harmless (it removes 8 bits of a 256-bit space from
 *   1/256 of the draws) and rules out any peer mishandling a leading zero.
 * - IV: 16 random bytes with bytes 8..11 zeroed: the IV shape of Go, Java, oss2 and C++ (`oss-go-java.md` §3). The
 *   zero bytes keep the Java and Go seek arithmetic (32-bit read, 64-bit add) equal to the full 128-bit add for
 *   any object size OSS allows, so every peer can range-read what we write.
 *
 * @returns new material; the caller owns it and should {@link zeroMaterial} it when done
 */
export function randomContentMaterial(): ContentMaterial {
  const key = new Uint8Array(DATA_KEY_SIZE);
  do randomFillSync(key);
  while (key[0] === 0);
  const iv = randomFillSync(new Uint8Array(IV_SIZE));
  iv.fill(0, 8, 12);
  return { key, iv };
}

/**
 * Overwrites the key and IV with zeros. Best-effort hygiene: JavaScript cannot promise that no other copy exists
 * (OpenSSL holds its own expanded key, and the garbage collector may have moved buffers).
 *
 * @param m - the material to wipe
 */
export function zeroMaterial(m: ContentMaterial): void {
  m.key.fill(0);
  m.iv.fill(0);
}
