/**
 * `oss-cse ls`: list objects under a bucket or prefix.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';

const help = `Usage: oss-cse ls oss://BUCKET[/PREFIX] [--recursive] [options]

Lists the objects under PREFIX: one line per object (last-modified time, size, key) and one "PRE" line per
common prefix ("directory"); with --recursive, every object below PREFIX. Sizes are plaintext sizes too:
AES-CTR adds no bytes. (Whether each object is encrypted needs one HEAD per object: use \`head\`.)

Options:
  --recursive, -r          list every object below PREFIX instead of one level

${ONLINE_HELP}
`;

export const ls: Command = {
  name: 'ls',
  summary: 'list objects: ls oss://bucket[/prefix]',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...ONLINE_OPTIONS, recursive: { type: 'boolean', short: 'r', default: false } },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError('expected oss://BUCKET[/PREFIX]');
    const where = parseOssUrl(positionals[0] ?? '', 'the location');
    const { withSession } = await import('../target.js');
    return withSession(values, io, where.bucket, async ({ client }) => {
      const objects: { key: string; size: number; lastModified: string; etag: string }[] = [];
      const prefixes: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.listV2({
          prefix: where.key,
          'max-keys': 1000,
          ...(values.recursive ? {} : { delimiter: '/' }),
          ...(token === undefined ? {} : { 'continuation-token': token }),
        });
        for (const p of page.prefixes) prefixes.push(p);
        for (const o of page.objects) objects.push({ key: o.name, size: o.size, lastModified: o.lastModified, etag: o.etag });
        if (!values.json && !values.quiet) {
          for (const p of page.prefixes) io.stdout.write(`${'PRE'.padStart(36)}  ${p}\n`);
          for (const o of page.objects) io.stdout.write(`${o.lastModified.padEnd(24)} ${String(o.size).padStart(11)}  ${o.name}\n`);
        }
        token = page.isTruncated && page.nextContinuationToken !== null ? page.nextContinuationToken : undefined;
      } while (token !== undefined);
      if (values.json) io.stdout.write(JSON.stringify({ bucket: where.bucket, prefix: where.key, prefixes, objects }) + '\n');
      return 0;
    }, { keys: 'optional' });
  },
};
