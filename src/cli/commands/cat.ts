/**
 * `oss-cse cat`: decrypt an object to standard output.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';
import { withBucketCheck } from '../not-found.js';
import { RANGE_HELP, RANGE_OPTIONS, rangeHeaders, toStdout } from './get.js';

const help = `Usage: oss-cse cat oss://BUCKET/KEY [--range A-B] [--range-behavior standard] [options]

Writes the decrypted object to standard output (--json is refused: the output is the object). An integrity failure (length, CRC-64, the writer's declared
MD5) is reported after the last byte, with exit code 1: use \`get\` to a file when that matters.

Options:
${RANGE_HELP}

${ONLINE_HELP}
`;

export const cat: Command = {
  name: 'cat',
  summary: 'decrypt an object to standard output',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...ONLINE_OPTIONS, ...RANGE_OPTIONS },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError('expected oss://BUCKET/KEY');
    // The plaintext is the output: a JSON result could not be told apart from it.
    if (values.json) throw new UsageError('cat writes the object itself to standard output, so --json is refused: use head --json for its facts, or get --json to a file');
    const source = parseOssUrl(positionals[0] ?? '', 'the object');
    if (source.key === '') throw new UsageError('the object needs a key: oss://BUCKET/KEY');
    const headers = rangeHeaders(values.range, values['range-behavior']);
    const { withSession } = await import('../target.js');
    return withSession(values, io, source.bucket, async ({ client }) => {
      const { stream } = await withBucketCheck(client, source.bucket, async () => client.getStream(source.key, { headers }));
      await toStdout(io, stream as AsyncIterable<Uint8Array>);
      return 0;
    });
  },
};
