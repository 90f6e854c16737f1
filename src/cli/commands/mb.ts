/**
 * `oss-cse mb`: create a bucket.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';

const help = `Usage: oss-cse mb oss://BUCKET [options]

Creates a bucket (fails with ERR_CSE_TRANSFER BucketAlreadyExists when it exists).

${ONLINE_HELP}
`;

export const mb: Command = {
  name: 'mb',
  summary: 'create a bucket: mb oss://bucket',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: ONLINE_OPTIONS, strict: true, allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('expected oss://BUCKET');
    const where = parseOssUrl(positionals[0] ?? '', 'the bucket');
    if (where.key !== '') throw new UsageError('mb takes a bucket only: oss://BUCKET');
    const { withSession } = await import('../target.js');
    return withSession(values, io, where.bucket, async ({ client, where: target }) => {
      await client.putBucket(where.bucket);
      if (values.json) io.stdout.write(JSON.stringify({ bucket: where.bucket }) + '\n');
      else if (!values.quiet) io.stdout.write(`created bucket oss://${where.bucket} on ${target}\n`);
      return 0;
    }, { keys: 'optional' });
  },
};
