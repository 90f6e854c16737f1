/**
 * `oss-cse cp SRC... DST`: local → OSS encrypts, OSS → local decrypts; files, directories and prefixes (`-r`), several
 * sources, filters, `--jobs` files in flight, one progress line, per-file failures summarised (exit 1).
 *
 * @packageDocumentation
 */

import { lstat, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { BATCH_HELP, BATCH_OPTIONS, parseJobs, printOutcome, stderrIsTty } from '../batch-options.js';
import { runBatch, summarize, type Task, type TaskResult } from '../batch.js';
import { withConfig } from '../config.js';
import { interruptible } from '../interrupt.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl, type OssUrl } from '../online.js';
import { failureOf } from '../report.js';
import { makeFilter, safeRelativePath, walkLocal, walkRemote, type Filter, type Skipped } from '../tree.js';

const help = `Usage: oss-cse cp SRC [SRC ...] DST [-r] [--include GLOB] [--exclude GLOB] [--jobs N] [options]

Copies files to OSS, encrypting them (DST is oss://BUCKET/PREFIX), or objects from OSS to this machine,
decrypting them (every SRC is oss://BUCKET/KEY and DST is a local path). With several sources, a directory or
a DST ending in /, each file keeps its name under DST.

  oss-cse cp report.pdf oss://backup/docs/                 one file: key docs/report.pdf
  oss-cse cp -r photos oss://backup/photos/                 a directory: keys photos/<relative path>
  oss-cse cp -r oss://backup/photos/ restored/              a prefix: files restored/<relative path>
  oss-cse cp -r --include '*.jpg' --exclude 'tmp/**' photos oss://backup/photos/

With -r, keys are DST + the path relative to SRC (with /), and local parent directories are created. A key
whose relative path has an empty, . or .. segment is refused (it would leave the target directory). Each file
records its modification time in x-oss-meta-oss-cse-mtime (restored on download; \`sync\` relies on it). A
failing file does not stop the others: it is reported, counted in the summary, and the exit code is 1.

Options:
  --recursive, -r          copy directories and prefixes
  --no-clobber, -n         keep existing local files (they are listed as skipped)
  --force, -f              overwrite existing local files (the default; cancels an earlier -n)
${BATCH_HELP}

${ONLINE_HELP}
`;

/** Where to put the files of a prefix or directory: '' or a key ending in '/'. */
function asPrefix(key: string): string {
  return key === '' || key.endsWith('/') ? key : `${key}/`;
}

function failed(source: string, destination: string, action: TaskResult['action'], message: string, code = 'ERR_CSE_IO'): TaskResult {
  return { action, source, destination, bytes: 0, status: 'failed', error: { code, message } };
}

async function kindOf(path: string, follow: boolean): Promise<'file' | 'dir' | 'link' | 'other' | undefined> {
  try {
    const info = follow ? await stat(path) : await lstat(path);
    return info.isSymbolicLink() ? 'link' : info.isDirectory() ? 'dir' : info.isFile() ? 'file' : 'other';
  } catch {
    return undefined;
  }
}

export const cp: Command = {
  name: 'cp',
  summary: 'copy files and directories to or from OSS: cp [-r] SRC... DST',
  help,
  async run(args, io) {
    const parsed = parseArgs({
      args: [...args],
      options: {
        ...ONLINE_OPTIONS,
        ...BATCH_OPTIONS,
        recursive: { type: 'boolean', short: 'r', default: false },
        'no-clobber': { type: 'boolean', short: 'n', default: false },
        force: { type: 'boolean', short: 'f', default: false },
      },
      strict: true,
      allowPositionals: true,
      tokens: true,
    });
    const { values, positionals } = parsed;
    if (positionals.length < 2) throw new UsageError('expected SRC [SRC ...] DST');
    const jobs = parseJobs(withConfig({ jobs: values.jobs }, io.env).jobs);
    // The later of -n and -f wins, as with cp(1).
    const clobberFlags = parsed.tokens.filter((t) => t.kind === 'option' && (t.name === 'no-clobber' || t.name === 'force'));
    const noClobber = clobberFlags.at(-1)?.kind === 'option' && clobberFlags.at(-1)?.name === 'no-clobber';
    const filter: Filter = makeFilter(values.include ?? [], values.exclude ?? []);
    const dst = positionals.at(-1) ?? '';
    const sources = positionals.slice(0, -1);
    const upload = dst.startsWith('oss://');
    if (upload && sources.some((s) => s.startsWith('oss://'))) throw new UsageError('copying from OSS to OSS is not supported: use get and put (or cp through a local directory)');
    if (!upload && !sources.every((s) => s.startsWith('oss://'))) throw new UsageError('one side must be oss://BUCKET/…: cp LOCAL... oss://BUCKET/PREFIX or cp oss://BUCKET/KEY... LOCAL');
    const remoteDst = upload ? parseOssUrl(dst, 'the destination') : undefined;
    const remoteSources: OssUrl[] = upload ? [] : sources.map((s) => parseOssUrl(s, 'the source'));
    const follow = values['follow-symlinks'];
    const quiet = values.quiet || values.json;
    const { withSession } = await import('../target.js');
    const interrupt = interruptible();
    const bucket = remoteDst?.bucket ?? remoteSources[0]?.bucket;
    return interrupt.run(
      withSession(values, io, bucket, async ({ client }) => {
        const tasks: Task[] = [];
        const early: TaskResult[] = [];
        const skipped: Skipped[] = [];
        if (remoteDst !== undefined) {
          const several = sources.length > 1 || remoteDst.key === '' || remoteDst.key.endsWith('/');
          for (const src of sources) {
            const kind = await kindOf(src, follow);
            if (kind === undefined) early.push(failed(src, dst, 'upload', `${src}: no such file or directory`));
            else if (kind === 'link') skipped.push({ path: src, reason: 'a symbolic link (use --follow-symlinks)' });
            else if (kind === 'other') skipped.push({ path: src, reason: 'not a regular file' });
            else if (kind === 'dir') {
              if (!values.recursive) {
                early.push(failed(src, dst, 'upload', `${src} is a directory (use -r)`, 'ERR_CSE_USAGE'));
                continue;
              }
              const prefix = asPrefix(remoteDst.key);
              for (const f of await walkLocal(src, filter, follow, skipped)) {
                tasks.push({ kind: 'upload', local: f.path, bucket: remoteDst.bucket, key: prefix + f.rel, size: f.size, mtimeMs: f.mtimeMs });
              }
            } else {
              if (!filter(basename(src))) continue;
              const info = await stat(src);
              const key = several || sources.length > 1 ? asPrefix(remoteDst.key) + basename(src) : remoteDst.key;
              tasks.push({ kind: 'upload', local: src, bucket: remoteDst.bucket, key, size: info.size, mtimeMs: Math.round(info.mtimeMs) });
            }
          }
        } else {
          const dstIsDir = dst.endsWith('/') || (await kindOf(dst, true)) === 'dir' || sources.length > 1 || values.recursive;
          for (const [i, src] of remoteSources.entries()) {
            const text = sources[i] ?? '';
            if (values.recursive) {
              const prefix = asPrefix(src.key);
              for (const o of await walkRemote(client, src.bucket, prefix, filter, interrupt.signal)) {
                if (!safeRelativePath(o.rel)) {
                  early.push(failed(`oss://${src.bucket}/${o.key}`, dst, 'download', `the key ${JSON.stringify(o.key)} would leave ${dst} (empty, . or .. segment): not downloaded`, 'ERR_CSE_INVALID_ARGUMENT'));
                  continue;
                }
                tasks.push({ kind: 'download', local: join(dst, ...o.rel.split('/')), bucket: src.bucket, key: o.key, size: o.size, lastModifiedMs: o.lastModifiedMs });
              }
              continue;
            }
            if (src.key === '' || src.key.endsWith('/')) {
              early.push(failed(text, dst, 'download', `${text} is a prefix (use -r)`, 'ERR_CSE_USAGE'));
              continue;
            }
            const name = src.key.split('/').pop() ?? src.key;
            if (!filter(name)) continue;
            try {
              const { withBucketCheck } = await import('../not-found.js');
              const head = await withBucketCheck(client, src.bucket, async () => client.head(src.key, { bucket: src.bucket, signal: interrupt.signal }));
              const modified = Date.parse(head.res.headers['last-modified'] ?? '');
              tasks.push({ kind: 'download', local: dstIsDir ? join(dst, name) : dst, bucket: src.bucket, key: src.key, size: head.size ?? 0, lastModifiedMs: Number.isNaN(modified) ? Date.now() : modified });
            } catch (e) {
              const f = failureOf(e);
              early.push({ ...failed(text, dst, 'download', f.message, f.code) });
            }
          }
        }
        let runnable = tasks;
        if (noClobber) {
          runnable = [];
          for (const t of tasks) {
            if (t.kind === 'download' && (await kindOf(t.local, false)) !== undefined) skipped.push({ path: t.local, reason: 'exists (--no-clobber)' });
            else runnable.push(t);
          }
        }
        for (const e of early) if (!values.json) io.stderr.write(`error [${e.error?.code ?? ''}]: ${e.error?.message ?? ''}\n`);
        const stopEarly = values['fail-fast'] && early.length > 0;
        const results = await runBatch(stopEarly ? undefined : client, stopEarly ? [] : runnable, io, {
          jobs,
          failFast: values['fail-fast'],
          dryRun: false,
          verbose: !quiet,
          reportFailures: !values.json,
          progress: !quiet && stderrIsTty(io),
          signal: interrupt.signal,
        });
        const all = [...early, ...results];
        return printOutcome(io, 'cp', all, skipped, summarize(all), { json: values.json, quiet: values.quiet });
      }),
    );
  },
};
