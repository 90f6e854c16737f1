/**
 * Temporary siblings of a download's target: where plaintext is written before every check has passed, and how the
 * ones an interrupted run left behind are found and removed.
 *
 * - Created with mode 0600 (owner only): until the checks pass they hold unverified plaintext, readable by nobody
 *   else whatever the umask. The finished file gets its usual mode only when it is renamed over the target.
 * - Named `.NAME.<hex><suffix>` next to the target, where `<hex>` is the writing process's id (8 hex digits) and 8
 *   random hex digits; earlier versions wrote 12 random hex digits. The suffix says which writer made it: `.tmp` (the
 *   CLI's single-stream `get`), `.part` (the library's get to a file), `.oss-cse-download` (the resumable download).
 * - A later download to the same target removes the ones whose process no longer runs (SIGKILL, power loss): only
 *   regular files matching exactly that pattern for that target name, never one a live process is still writing, nor
 *   the one a resumed download continues (SECURITY.md "Temporary download files").
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import { chmod, lstat, readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Mode of a temporary file while it holds unverified plaintext. */
export const TEMP_FILE_MODE = 0o600;

/** The suffixes of every temporary-file writer of a download (see the module comment). */
export const TEMP_SUFFIXES = ['.tmp', '.part', '.oss-cse-download'] as const;

/** A temporary-file suffix. */
export type TempSuffix = (typeof TEMP_SUFFIXES)[number];

/**
 * A fresh temporary sibling path of `target`: `.NAME.<pid:8 hex><random:8 hex><suffix>`.
 * @param target - the file being produced
 * @param suffix - which writer
 */
export function tempSiblingPath(target: string, suffix: TempSuffix): string {
  const pid = (process.pid >>> 0).toString(16).padStart(8, '0');
  return join(dirname(target), `.${basename(target)}.${pid}${randomBytes(4).toString('hex')}${suffix}`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether process `pid` runs (on this machine): `kill(pid, 0)` fails with ESRCH only when there is none. */
function processRuns(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: unknown }).code !== 'ESRCH';
  }
}

/**
 * Removes the temporary siblings of `target` that earlier, interrupted runs left: names matching exactly
 * `.NAME.<hex><suffix>` for this target's NAME and one of {@link TEMP_SUFFIXES}, regular files only (a symlink or
 * directory of that name is left alone), whose writing process no longer runs (names of earlier versions, without a
 * process id, count as stale). Best effort: a file that cannot be examined or removed is skipped.
 *
 * @param target - the file a download is about to produce
 * @param keep - bare names to keep whatever their state (the temporary file a resumed download continues)
 * @returns the names removed
 */
export async function removeStaleTempFiles(target: string, keep: readonly string[] = []): Promise<string[]> {
  const dir = dirname(target);
  const pattern = new RegExp(
    `^\\.${escapeRegExp(basename(target))}\\.(?:([0-9a-f]{8})[0-9a-f]{8}|[0-9a-f]{12})(?:${TEMP_SUFFIXES.map(escapeRegExp).join('|')})$`,
  );
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return []; // no directory yet: nothing to clean, and writing there reports the problem
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (m === null || keep.includes(name)) continue;
    const pid = m[1] === undefined ? undefined : parseInt(m[1], 16);
    if (pid !== undefined && processRuns(pid)) continue;
    const path = join(dir, name);
    try {
      if (!(await lstat(path)).isFile()) continue;
      await rm(path, { force: true });
      removed.push(name);
    } catch {
      // Raced with another cleaner, or not ours to remove: leave it.
    }
  }
  return removed;
}

/**
 * Gives a finished temporary file the mode a new file at the target would get (`mode` less the umask), just before it
 * is renamed over the target: it was 0600 while it held unverified plaintext.
 * @param path - the temporary file
 * @param mode - the wanted mode before the umask (default 0o644, as before this module existed)
 * @throws the file system's error (the caller reports it as ERR_CSE_IO)
 */
export async function releaseTempMode(path: string, mode = 0o644): Promise<void> {
  await chmod(path, mode & ~(await currentUmask()));
}

let fallbackUmask: number | undefined;

/**
 * The process's umask. Linux reports it in /proc/self/status (read each time: a program may change it); elsewhere
 * `process.umask()` is the only way, and it sets the mask back after reading it, which can race with a worker thread
 * creating a file in that instant (hence its deprecation), so there it is read once and kept.
 */
async function currentUmask(): Promise<number> {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(await readFile('/proc/self/status', 'latin1'));
    if (m?.[1] !== undefined) return parseInt(m[1], 8);
  } catch {
    // not Linux: below
  }
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- no other portable way to read it (see above)
  fallbackUmask ??= process.umask();
  return fallbackUmask;
}
