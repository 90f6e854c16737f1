/**
 * The data directory is never left through a symbolic link (issue 14, item 7; SECURITY.md "Embedded server"): files
 * inside it are opened with `O_NOFOLLOW`, and the directories the server reads or writes in are checked with `lstat`
 * first. A link planted inside the data directory (by another local user, a restore tool, a mistake) therefore cannot
 * make the server read or write a file outside it. The data directory itself may be a link: that is the user's choice.
 *
 * @packageDocumentation
 */

import { constants, fstatSync, lstatSync, openSync, readFileSync, closeSync } from 'node:fs';
import { lstat, open } from 'node:fs/promises';

/** `O_NOFOLLOW` where the platform has it (not on Windows, where the `lstat` checks still apply). */
const NOFOLLOW = (constants as { readonly O_NOFOLLOW?: number }).O_NOFOLLOW ?? 0;
/** Flags to open a file for reading without following a link in its last component. */
export const READ_NOFOLLOW = constants.O_RDONLY | NOFOLLOW;

/** Raised when a path inside the data directory is a symbolic link (or a directory is not one). */
export class SymlinkError extends Error {
  /** The offending path. */
  readonly path: string;

  /** @param path - the path that is a link */
  constructor(path: string) {
    super(`${path} is a symbolic link or not a plain file/directory: the server does not follow links inside its data directory`);
    this.name = 'SymlinkError';
    this.path = path;
  }
}

function code(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? (e as { code?: string }).code : undefined;
}

/**
 * Reads a UTF-8 file without following a link.
 * @param path - the file
 * @returns its text and its mode bits
 * @throws SymlinkError when it is a link; Node's system errors otherwise (ENOENT, EACCES, …)
 */
export async function readNoFollow(path: string): Promise<{ text: string; mode: number }> {
  let fh;
  try {
    fh = await open(path, READ_NOFOLLOW);
  } catch (e) {
    if (code(e) === 'ELOOP') throw new SymlinkError(path);
    throw e;
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw new SymlinkError(path);
    return { text: await fh.readFile('utf8'), mode: stat.mode };
  } finally {
    await fh.close();
  }
}

/**
 * {@link readNoFollow}, synchronously.
 * @param path - the file
 * @returns its text
 * @throws SymlinkError when it is a link; Node's system errors otherwise
 */
export function readNoFollowSync(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, READ_NOFOLLOW);
  } catch (e) {
    if (code(e) === 'ELOOP') throw new SymlinkError(path);
    throw e;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new SymlinkError(path);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks that each path is a real directory (not a link to one).
 * @param paths - directories inside the data directory
 * @throws SymlinkError for a link or a non-directory; Node's system errors (ENOENT, …)
 */
export async function assertRealDirs(...paths: string[]): Promise<void> {
  for (const path of paths) {
    if (!(await lstat(path)).isDirectory()) throw new SymlinkError(path);
  }
}

/**
 * {@link assertRealDirs} for one directory, synchronously; a missing path passes.
 * @param path - a directory inside the data directory
 * @throws SymlinkError for a link or a non-directory
 */
export function assertRealDirSync(path: string): void {
  try {
    if (!lstatSync(path).isDirectory()) throw new SymlinkError(path);
  } catch (e) {
    if (code(e) !== 'ENOENT') throw e;
  }
}
