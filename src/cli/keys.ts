/**
 * Loading master keys from the files and flags the CLI takes.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import { parseMatDesc } from '../format/matdesc.js';
import type { MatDesc } from '../format/types.js';
import { RsaMasterKey } from '../keys/rsa.js';
import { readSmallFile } from './files.js';

const PRIVATE_PEM = /-----BEGIN (?:RSA |ENCRYPTED )?PRIVATE KEY-----/;

/** Environment variable holding the passphrase of encrypted private-key PEM files. */
export const PASSPHRASE_ENV = 'OSS_CSE_KEY_PASSPHRASE';

/** Options for {@link loadRsaKeyFile}. */
export interface LoadKeyOptions {
  /** Material description to attach. */
  readonly description?: MatDesc;
  /** Wrap with OAEP instead of PKCS#1 v1.5 (encryption only). */
  readonly wrap?: 'pkcs1' | 'oaep';
  /** Passphrase for an encrypted PEM. */
  readonly passphrase?: string;
}

/**
 * Loads an RSA master key from a PEM file (any of the four forms; a private key also encrypts).
 * @throws CseError ERR_CSE_IO, ERR_CSE_INVALID_KEY
 */
export async function loadRsaKeyFile(path: string, options: LoadKeyOptions = {}): Promise<RsaMasterKey> {
  const pem = (await readSmallFile(path, 'key file')).toString('utf8');
  const isPrivate = PRIVATE_PEM.test(pem);
  try {
    return new RsaMasterKey({
      ...(isPrivate ? { privateKey: pem } : { publicKey: pem }),
      ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.wrap === undefined ? {} : { wrap: options.wrap }),
    });
  } catch (e) {
    if (e instanceof CseError) {
      throw new CseError(e.code, `cannot load key file ${path}: ${e.message}`, { cause: e });
    }
    throw new CseError(ErrorCode.INVALID_KEY, `cannot load key file ${path}`, { cause: e });
  }
}

/**
 * Parses a `--matdesc` value (a JSON object of strings).
 * @throws CseError ERR_CSE_ENVELOPE_BAD_MATDESC
 */
export function parseMatDescFlag(value: string | undefined): MatDesc | undefined {
  return value === undefined ? undefined : parseMatDesc(value, '--matdesc');
}
