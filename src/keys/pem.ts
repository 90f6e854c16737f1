/**
 * Minimal PEM inspection: find the first block and its label, so that key loading can refuse what `node:crypto`
 * would otherwise accept in the wrong place (`createPublicKey` happily takes an X.509 CERTIFICATE or a private key).
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';

/** The first PEM block found in a text. */
export interface PemBlock {
  /** The label, e.g. `RSA PRIVATE KEY`, `PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, `PUBLIC KEY`, `RSA PUBLIC KEY`. */
  readonly label: string;
  /** The block from `-----BEGIN` to the end of its `-----END` line, including any RFC 1421 headers (`Proc-Type`). */
  readonly text: string;
  /** True for `ENCRYPTED PRIVATE KEY` and for legacy blocks with a `Proc-Type: 4,ENCRYPTED` header. */
  readonly encrypted: boolean;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n[\s\S]*?\r?\n-----END \1-----/;

/**
 * Finds the first PEM block (text before it, such as OpenSSL "Bag Attributes", is ignored).
 *
 * @param input - PEM text, as a string or bytes
 * @param what - what the caller expected, for the error message (e.g. `"private key"`)
 * @returns the block
 * @throws CseError ERR_CSE_INVALID_KEY when there is no complete PEM block; the message never quotes the input
 */
export function firstPemBlock(input: string | Uint8Array, what: string): PemBlock {
  const text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  const m = BLOCK.exec(text);
  const label = m?.[1];
  if (m === null || label === undefined) {
    throw new CseError(ErrorCode.INVALID_KEY, `the ${what} is not PEM (no complete -----BEGIN …----- / -----END …----- block)`);
  }
  const encrypted = label === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type:\s*4,\s*ENCRYPTED\s*$/m.test(m[0]);
  return { label, text: m[0], encrypted };
}
