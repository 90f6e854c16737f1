/**
 * Server credentials: generated once per data directory and kept in `<dataDir>/credentials.json` (mode 0600), or
 * generated per run in memory mode.
 *
 * @packageDocumentation
 */

import { randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/** An access key pair. */
export interface Credentials {
  /** The AccessKey id clients sign with. */
  readonly accessKeyId: string;
  /** The AccessKey secret. */
  readonly accessKeySecret: string;
}

/** Name of the credentials file inside the data directory. */
export const CREDENTIALS_FILE = 'credentials.json';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomText(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)] ?? 'A';
  return out;
}

/**
 * A fresh key pair in Alibaba Cloud's shape (`LTAI…` id of 24 characters, 30-character secret).
 * @returns the pair
 */
export function generateCredentials(): Credentials {
  return { accessKeyId: `LTAI${randomText(20)}`, accessKeySecret: randomText(30) };
}

function isCredentials(v: unknown): v is Credentials {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Credentials).accessKeyId === 'string' &&
    typeof (v as Credentials).accessKeySecret === 'string' &&
    (v as Credentials).accessKeyId !== '' &&
    (v as Credentials).accessKeySecret !== ''
  );
}

/**
 * Reads the data directory's credentials, creating them on first use.
 * @param dataDir - the server data directory
 * @returns the pair and whether it was just created
 * @throws Error when the file exists but is not valid
 */
export async function loadOrCreateCredentials(dataDir: string): Promise<{ credentials: Credentials; created: boolean }> {
  const path = join(dataDir, CREDENTIALS_FILE);
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (!isCredentials(value)) throw new Error(`${path} does not hold accessKeyId and accessKeySecret`);
    return { credentials: { accessKeyId: value.accessKeyId, accessKeySecret: value.accessKeySecret }, created: false };
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const credentials = generateCredentials();
  const tmp = join(dataDir, `.${CREDENTIALS_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(JSON.stringify(credentials, null, 2) + '\n', 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(tmp, 0o600); // umask cannot widen 0600, but be explicit
  await rename(tmp, path);
  return { credentials, created: true };
}
