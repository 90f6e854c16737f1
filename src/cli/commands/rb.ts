/**
 * `oss-cse rb`: delete an (empty) bucket.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';

const help = `Usage: oss-cse rb oss://BUCKET [options]

Deletes a bucket. OSS refuses a bucket that still holds objects or unfinished multipart uploads
(BucketNotEmpty): empty it first with \`oss-cse rm -r oss://BUCKET/\` (and \`oss-cse uploads\` for uploads).

${ONLINE_HELP}
`;

export const rb: Command = {
  name: 'rb',
  summary: 'delete an empty bucket: rb oss://bucket',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: ONLINE_OPTIONS, strict: true, allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('expected oss://BUCKET');
    const where = parseOssUrl(positionals[0] ?? '', 'the bucket');
    if (where.key !== '') throw new UsageError('rb takes a bucket only: oss://BUCKET (rm deletes objects)');
    const { withSession } = await import('../target.js');
    return withSession(values, io, where.bucket, async ({ client, where: target }) => {
      await client.deleteBucket(where.bucket);
      if (values.json) io.stdout.write(JSON.stringify({ bucket: where.bucket, deleted: true }) + '\n');
      else if (!values.quiet) io.stdout.write(`deleted bucket oss://${where.bucket} on ${target}\n`);
      return 0;
    }, { keys: 'optional' });
  },
};
