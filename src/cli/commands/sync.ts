/**
 * `oss-cse sync LOCALDIR oss://BUCKET/PREFIX/` and back: transfers only what is new or changed, judged without reading
 * any plaintext (size, times, and the modification time recorded at upload; see the help text and docs/cli.md).
 *
 * @packageDocumentation
 */

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { EncryptionClient } from '../../client.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { BATCH_HELP, BATCH_OPTIONS, parseJobs, printOutcome, stderrIsTty } from '../batch-options.js';
import { MTIME_META, runBatch, summarize, type Task, type TaskResult } from '../batch.js';
import { withConfig } from '../config.js';
import { interruptible } from '../interrupt.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';
import { makeFilter, safeRelativePath, walkLocal, walkRemote, type LocalEntry, type RemoteEntry, type Skipped } from '../tree.js';

const help = `Usage: oss-cse sync LOCALDIR oss://BUCKET/PREFIX/ [--delete] [--dry-run] [filters] [options]
       oss-cse sync oss://BUCKET/PREFIX/ LOCALDIR [--delete] [--dry-run] [filters] [options]

Makes the destination match the source: new and changed files are transferred (encrypted on the way up,
decrypted on the way down), unchanged ones are left alone; a second run with nothing changed transfers
0 bytes and says so.

How a change is known without reading plaintext (CTR adds no bytes, so the listed size is the plaintext size):
  up    a file is sent when its object is missing, the sizes differ, or the file was modified after the
        object's Last-Modified second; in that last case one HEAD compares the file's time with the one
        recorded at upload (x-oss-meta-oss-cse-mtime) first
  down  an object is fetched when the file is missing, the sizes differ, or the file's modification time is
        neither the object's Last-Modified nor (one HEAD) the time recorded at upload; a downloaded file gets
        the recorded time (else Last-Modified), so the next run sees it as unchanged
A change that keeps the size and the modification time is not seen (as with rsync without --checksum).

Options:
  --delete                 also delete what the source no longer has (objects under PREFIX, or files under
                           LOCALDIR; only paths that pass the filters)
  --dry-run                print the plan and change nothing
${BATCH_HELP}

${ONLINE_HELP}
`;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The time recorded at upload, or undefined (one HEAD). */
async function recordedMtime(client: EncryptionClient, bucket: string, key: string, signal: AbortSignal): Promise<number | undefined> {
  const head = await client.head(key, { bucket, signal });
  const value = Number(head.meta?.[MTIME_META]);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** Times equal to the millisecond (file systems store what `utimes` sets with sub-millisecond rounding). */
function sameTime(recorded: number | undefined, local: number): boolean {
  return recorded !== undefined && Math.abs(recorded - local) <= 1;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export const sync: Command = {
  name: 'sync',
  summary: 'transfer only new and changed files: sync LOCALDIR oss://bucket/prefix/ (or back)',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...ONLINE_OPTIONS, ...BATCH_OPTIONS, delete: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 2) throw new UsageError('expected LOCALDIR oss://BUCKET/PREFIX/ (or the reverse)');
    const [a = '', b = ''] = positionals;
    const up = b.startsWith('oss://') && !a.startsWith('oss://');
    if (!up && !(a.startsWith('oss://') && !b.startsWith('oss://'))) throw new UsageError('one side must be a local directory and the other oss://BUCKET/PREFIX/');
    const remote = parseOssUrl(up ? b : a, up ? 'the destination' : 'the source');
    const local = up ? a : b;
    const prefix = remote.key === '' || remote.key.endsWith('/') ? remote.key : `${remote.key}/`;
    if (up && !(await isDirectory(local))) throw new UsageError(`${local} is not a directory`);
    const jobs = parseJobs(withConfig({ jobs: values.jobs }, io.env).jobs);
    const filter = makeFilter(values.include ?? [], values.exclude ?? []);
    const quiet = values.quiet || values.json;
    const { withSession } = await import('../target.js');
    const interrupt = interruptible();
    const { signal } = interrupt;
    return interrupt.run(
      withSession(values, io, remote.bucket, async ({ client }) => {
        const skipped: Skipped[] = [];
        const early: TaskResult[] = [];
        const remoteEntries = await walkRemote(client, remote.bucket, prefix, filter, signal);
        const localEntries = up || (await isDirectory(local)) ? await walkLocal(local, filter, values['follow-symlinks'], up ? skipped : []) : [];
        const remoteByRel = new Map<string, RemoteEntry>(remoteEntries.map((r) => [r.rel, r]));
        const localByRel = new Map<string, LocalEntry>(localEntries.map((l) => [l.rel, l]));
        const tasks: Task[] = [];
        let unchanged = 0;
        if (up) {
          const decisions = await mapLimit(localEntries, jobs, async (l) => {
            const r = remoteByRel.get(l.rel);
            if (r === undefined || r.size !== l.size) return true;
            if (seconds(l.mtimeMs) <= seconds(r.lastModifiedMs)) return false;
            return !sameTime(await recordedMtime(client, remote.bucket, r.key, signal), l.mtimeMs);
          });
          localEntries.forEach((l, i) => {
            if (decisions[i] === true) tasks.push({ kind: 'upload', local: l.path, bucket: remote.bucket, key: prefix + l.rel, size: l.size, mtimeMs: l.mtimeMs });
            else unchanged++;
          });
          if (values.delete) for (const r of remoteEntries) if (!localByRel.has(r.rel)) tasks.push({ kind: 'delete-remote', bucket: remote.bucket, key: r.key });
        } else {
          const safe = remoteEntries.filter((r) => {
            if (safeRelativePath(r.rel)) return true;
            early.push({ action: 'download', source: `oss://${remote.bucket}/${r.key}`, destination: local, bytes: 0, status: 'failed', error: { code: 'ERR_CSE_INVALID_ARGUMENT', message: `the key ${JSON.stringify(r.key)} would leave ${local} (empty, . or .. segment): not downloaded` } });
            return false;
          });
          const decisions = await mapLimit(safe, jobs, async (r) => {
            const l = localByRel.get(r.rel);
            if (l === undefined || l.size !== r.size) return true;
            if (seconds(l.mtimeMs) === seconds(r.lastModifiedMs)) return false;
            return !sameTime(await recordedMtime(client, remote.bucket, r.key, signal), l.mtimeMs);
          });
          safe.forEach((r, i) => {
            if (decisions[i] === true) tasks.push({ kind: 'download', local: join(local, ...r.rel.split('/')), bucket: remote.bucket, key: r.key, size: r.size, lastModifiedMs: r.lastModifiedMs });
            else unchanged++;
          });
          if (values.delete) for (const l of localEntries) if (!remoteByRel.has(l.rel)) tasks.push({ kind: 'delete-local', local: l.path });
        }
        for (const e of early) if (!values.json) io.stderr.write(`error [${e.error?.code ?? ''}]: ${e.error?.message ?? ''}\n`);
        const results = await runBatch(client, tasks, io, {
          jobs,
          failFast: values['fail-fast'],
          dryRun: values['dry-run'],
          verbose: !quiet,
          reportFailures: !values.json,
          progress: !quiet && stderrIsTty(io),
          signal,
        });
        const all = [...early, ...results];
        return printOutcome(io, 'sync', all, skipped, { ...summarize(all), unchanged, dryRun: values['dry-run'] }, { json: values.json, quiet: values.quiet });
      }),
    );
  },
};
