/**
 * `oss-cse rm`: delete objects, or (with `-r`) every object under a prefix.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl, type OssUrl } from '../online.js';
import { makeFilter, walkRemote } from '../tree.js';

const help = `Usage: oss-cse rm oss://BUCKET/KEY [oss://BUCKET/KEY ...] [options]
       oss-cse rm -r oss://BUCKET/PREFIX/ [--include GLOB] [--exclude GLOB] [options]

Deletes objects (OSS answers success for keys that do not exist, and so does rm). A location ending in / (or
a bare bucket) is a prefix: it needs -r, which deletes every object below it (filtered by --include/--exclude,
matched on the path below the prefix); without -r nothing is deleted.

Options:
  --recursive, -r          delete every object below a prefix
  --include GLOB           with -r: only keys whose path below the prefix matches (repeatable)
  --exclude GLOB           with -r: keep keys whose path below the prefix matches (repeatable)

${ONLINE_HELP}
`;

export const rm: Command = {
  name: 'rm',
  summary: 'delete objects, or everything under a prefix with -r',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        ...ONLINE_OPTIONS,
        recursive: { type: 'boolean', short: 'r', default: false },
        include: { type: 'string', multiple: true },
        exclude: { type: 'string', multiple: true },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length === 0) throw new UsageError('expected at least one oss://BUCKET/KEY');
    const targets: OssUrl[] = positionals.map((p) => parseOssUrl(p, 'the object'));
    if (!values.recursive) {
      const prefix = targets.find((t) => t.key === '' || t.key.endsWith('/'));
      if (prefix !== undefined) {
        const where = `oss://${prefix.bucket}/${prefix.key}`;
        throw new UsageError(`nothing was deleted: ${where} is a prefix; use rm -r ${where} to delete every object under it (rb deletes an empty bucket)`);
      }
    }
    const filter = makeFilter(values.include ?? [], values.exclude ?? []);
    const { withSession } = await import('../target.js');
    return withSession(values, io, targets[0]?.bucket, async ({ client }) => {
      const deleted: string[] = [];
      const remove = async (bucket: string, key: string): Promise<void> => {
        await client.delete(key, { bucket });
        const url = `oss://${bucket}/${key}`;
        deleted.push(url);
        if (!values.json && !values.quiet) io.stdout.write(`deleted ${url}\n`);
      };
      for (const t of targets) {
        if (!values.recursive) {
          await remove(t.bucket, t.key);
          continue;
        }
        const prefix = t.key === '' || t.key.endsWith('/') ? t.key : `${t.key}/`;
        // With -r, oss://B/KEY also deletes the object KEY itself when it exists (as rm -r of a file would).
        const objects = await walkRemote(client, t.bucket, prefix, filter);
        const also = t.key !== prefix ? (await client.listV2({ prefix: t.key, 'max-keys': 1 }, { bucket: t.bucket })).objects.filter((o) => o.name === t.key) : [];
        for (const o of also) await remove(t.bucket, o.name);
        // Eight deletions at a time, in listing order per slot.
        for (let i = 0; i < objects.length; i += 8) await Promise.all(objects.slice(i, i + 8).map(async (o) => remove(t.bucket, o.key)));
        if (objects.length === 0 && also.length === 0 && !values.json && !values.quiet) io.stdout.write(`nothing under oss://${t.bucket}/${prefix}\n`);
      }
      if (values.json) io.stdout.write(JSON.stringify({ deleted }) + '\n');
      return 0;
    }, { keys: 'optional' });
  },
};
