/**
 * `oss-cse rm`: delete objects.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl, type OssUrl } from '../online.js';

const help = `Usage: oss-cse rm oss://BUCKET/KEY [oss://BUCKET/KEY ...] [options]

Deletes objects (OSS answers success for keys that do not exist, and so does rm).

${ONLINE_HELP}
`;

export const rm: Command = {
  name: 'rm',
  summary: 'delete objects',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: ONLINE_OPTIONS, strict: true, allowPositionals: true });
    if (positionals.length === 0) throw new UsageError('expected at least one oss://BUCKET/KEY');
    const targets: OssUrl[] = positionals.map((p) => parseOssUrl(p, 'the object'));
    for (const t of targets) if (t.key === '') throw new UsageError(`oss://${t.bucket} names no object: rm deletes objects, not buckets`);
    const { withSession } = await import('../target.js');
    return withSession(values, io, targets[0]?.bucket, async ({ client }) => {
      const deleted: string[] = [];
      for (const t of targets) {
        await client.delete(t.key, { bucket: t.bucket });
        const url = `oss://${t.bucket}/${t.key}`;
        deleted.push(url);
        if (!values.json && !values.quiet) io.stdout.write(`deleted ${url}\n`);
      }
      if (values.json) io.stdout.write(JSON.stringify({ deleted }) + '\n');
      return 0;
    }, { keys: 'optional' });
  },
};
