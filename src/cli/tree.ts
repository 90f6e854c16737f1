/**
 * What `cp -r` and `sync` work on: the files below a local directory and the objects below an OSS prefix, as
 * relative paths with `/`, filtered by `--include`/`--exclude` globs. Keys never escape the local target: a key whose
 * relative path has an empty, `.` or `..` segment is refused for download.
 *
 * @packageDocumentation
 */

import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CseError, ErrorCode } from '../errors.js';
import type { EncryptionClient } from '../client.js';

/**
 * A glob as a regular expression: `*` matches within one path segment, `**` across segments (`**\/` also matches no
 * directory), `?` one character, `[abc]` a class. A pattern without `/` matches the file name in any directory (as in
 * .gitignore), so `--include '*.txt'` means every .txt file.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(glob.includes('/') ? `^${re}$` : `(?:^|/)${re}$`);
}

/** `--include`/`--exclude`: a path is kept when it matches some include (or none are given) and no exclude. */
export interface Filter {
  (relativePath: string): boolean;
}

/** Builds the filter of the repeated `--include` and `--exclude` values. */
export function makeFilter(include: readonly string[], exclude: readonly string[]): Filter {
  const inc = include.map(globToRegExp);
  const exc = exclude.map(globToRegExp);
  return (path) => (inc.length === 0 || inc.some((r) => r.test(path))) && !exc.some((r) => r.test(path));
}

/** A local file below the root. */
export interface LocalEntry {
  /** Relative path with `/`. */
  readonly rel: string;
  /** Absolute (or root-joined) path. */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Modification time, whole milliseconds. */
  readonly mtimeMs: number;
}

/** What the walk left out and why (symlinks not followed, special files). */
export interface Skipped {
  /** The path. */
  readonly path: string;
  /** Why. */
  readonly reason: string;
}

/**
 * Every regular file below `root` that passes `filter`, in a stable order. Symbolic links are not followed unless
 * `followSymlinks` (then a link cycle is cut at the directory already visited).
 * @throws CseError ERR_CSE_IO when `root` cannot be read
 */
export async function walkLocal(root: string, filter: Filter, followSymlinks: boolean, skipped: Skipped[]): Promise<LocalEntry[]> {
  const out: LocalEntry[] = [];
  const seen = new Set<string>();
  const visit = async (dir: string, relDir: string): Promise<void> => {
    const real = await realpath(dir);
    if (seen.has(real)) {
      skipped.push({ path: dir, reason: 'a symbolic link cycle' });
      return;
    }
    seen.add(real);
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const path = join(dir, name);
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      let info = await lstat(path);
      if (info.isSymbolicLink()) {
        if (!followSymlinks) {
          skipped.push({ path, reason: 'a symbolic link (use --follow-symlinks)' });
          continue;
        }
        try {
          info = await stat(path);
        } catch {
          skipped.push({ path, reason: 'a broken symbolic link' });
          continue;
        }
      }
      if (info.isDirectory()) await visit(path, rel);
      else if (info.isFile()) {
        if (filter(rel)) out.push({ rel, path, size: info.size, mtimeMs: Math.round(info.mtimeMs) });
      } else skipped.push({ path, reason: 'not a regular file' });
    }
  };
  try {
    await visit(root, '');
  } catch (e) {
    if (e instanceof CseError) throw e;
    throw new CseError(ErrorCode.IO, `cannot read ${root}: ${(e as Error).message}`, { cause: e });
  }
  return out;
}

/** An object below a prefix. */
export interface RemoteEntry {
  /** Relative path (the key without the prefix). */
  readonly rel: string;
  /** The full key. */
  readonly key: string;
  /** Size (the plaintext size too: CTR adds no bytes). */
  readonly size: number;
  /** Last-Modified, milliseconds. */
  readonly lastModifiedMs: number;
}

/**
 * Every object below `prefix` (all pages) that passes `filter`; "directory" markers (keys ending in `/`) are left out.
 * @throws TransferError / CseError from the listing
 */
export async function walkRemote(client: EncryptionClient, bucket: string, prefix: string, filter: Filter, signal?: AbortSignal): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  let token: string | undefined;
  do {
    const page = await client.listV2(
      { prefix, 'max-keys': 1000, ...(token === undefined ? {} : { 'continuation-token': token }) },
      { bucket, ...(signal === undefined ? {} : { signal }) },
    );
    for (const o of page.objects) {
      if (o.name.endsWith('/')) continue;
      const rel = o.name.slice(prefix.length);
      if (filter(rel)) out.push({ rel, key: o.name, size: o.size, lastModifiedMs: Date.parse(o.lastModified) });
    }
    token = page.isTruncated && page.nextContinuationToken !== null ? page.nextContinuationToken : undefined;
  } while (token !== undefined);
  return out;
}

/**
 * Whether a relative path from a key may become a local path: no empty, `.` or `..` segment and no backslash (a key
 * like `../../etc/x` must not write outside the target directory).
 */
export function safeRelativePath(rel: string): boolean {
  return rel !== '' && !rel.includes('\\') && rel.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}
