/**
 * Server credentials: generated once per data directory and kept in `<dataDir>/credentials.json` (mode 0600), or
 * generated per run in memory mode.
 *
 * @packageDocumentation
 */

import { randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { readNoFollow } from './nofollow.js';

/** An access key pair. */
export interface Credentials {
  /** The AccessKey id clients sign with. */
  readonly accessKeyId: string;
  /** The AccessKey secret. */
  readonly accessKeySecret: string;
}

/**
 * The warning for a credentials file others can read, or undefined when only its owner can.
 * @param path - the file
 * @param mode - its mode bits (from stat)
 * @returns the warning line
 */
export function credentialsModeWarning(path: string, mode: number): string | undefined {
  if ((mode & 0o044) === 0) return undefined;
  const who = (mode & 0o004) !== 0 ? 'everyone' : 'its group';
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `oss-cse server: warning: ${path} (mode ${octal}) is readable by ${who}: anyone who can read it can use this server; run chmod 600 ${path}`;
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
 * @returns the pair, whether it was just created, the file's path and its mode bits (to warn when others can read it)
 * @throws Error when the file exists but is not valid; SymlinkError when it is a symbolic link (never followed)
 */
export async function loadOrCreateCredentials(
  dataDir: string,
): Promise<{ credentials: Credentials; created: boolean; path: string; mode: number }> {
  const path = join(dataDir, CREDENTIALS_FILE);
  try {
    const { text, mode } = await readNoFollow(path);
    const value: unknown = JSON.parse(text);
    if (!isCredentials(value)) throw new Error(`${path} does not hold accessKeyId and accessKeySecret`);
    return { credentials: { accessKeyId: value.accessKeyId, accessKeySecret: value.accessKeySecret }, created: false, path, mode };
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
  return { credentials, created: true, path, mode: 0o100600 };
}
