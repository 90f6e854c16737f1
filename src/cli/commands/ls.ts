/**
 * `oss-cse ls`: list buckets, or the objects under a bucket or prefix.
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';

const help = `Usage: oss-cse ls [oss://BUCKET[/PREFIX]] [-r] [-l] [options]

Without an argument, lists the buckets. With one, lists the objects under PREFIX: one line per object
(last-modified time, size, key) and one "PRE" line per common prefix ("directory"); with -r, every object
below PREFIX. Sizes are plaintext sizes too: AES-CTR adds no bytes. With -l, one HEAD per object adds whether
it is encrypted ("enc" or "-") and the plaintext size the writer recorded.

Options:
  --recursive, -r          list every object below PREFIX instead of one level
  --long, -l               also show whether each object is encrypted (one HEAD per object)

${ONLINE_HELP}
`;

interface Listed {
  key: string;
  size: number;
  lastModified: string;
  etag: string;
  encrypted?: boolean;
}

export const ls: Command = {
  name: 'ls',
  summary: 'list buckets, or objects: ls [-r] [-l] [oss://bucket[/prefix]]',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...ONLINE_OPTIONS, recursive: { type: 'boolean', short: 'r', default: false }, long: { type: 'boolean', short: 'l', default: false } },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 1) throw new UsageError('expected at most one oss://BUCKET[/PREFIX]');
    const { withSession } = await import('../target.js');
    if (positionals.length === 0) {
      return withSession(values, io, undefined, async ({ client }) => {
        const buckets = await client.listBuckets();
        if (values.json) {
          io.stdout.write(JSON.stringify({ buckets: buckets.map((b) => ({ bucket: b.name, region: b.region ?? null, created: b.creationDate ?? null })) }) + '\n');
        } else if (!values.quiet) {
          for (const b of buckets) io.stdout.write(`${(b.creationDate ?? '').padEnd(24)} ${(b.region ?? '').padEnd(20)} oss://${b.name}\n`);
        }
        return 0;
      }, { keys: 'optional' });
    }
    const where = parseOssUrl(positionals[0] ?? '', 'the location');
    return withSession(values, io, where.bucket, async ({ client }) => {
      const objects: Listed[] = [];
      const prefixes: string[] = [];
      const print = !values.json && !values.quiet;
      let token: string | undefined;
      do {
        const page = await client.listV2({
          prefix: where.key,
          'max-keys': 1000,
          ...(values.recursive ? {} : { delimiter: '/' }),
          ...(token === undefined ? {} : { 'continuation-token': token }),
        });
        const batch: Listed[] = page.objects.map((o) => ({ key: o.name, size: o.size, lastModified: o.lastModified, etag: o.etag }));
        if (values.long) {
          // Eight HEADs at a time: enough to hide the latency, few enough not to crowd a shared endpoint.
          for (let i = 0; i < batch.length; i += 8) {
            await Promise.all(
              batch.slice(i, i + 8).map(async (o) => {
                const head = await client.head(o.key);
                o.encrypted = head.encrypted;
                if (head.envelope?.unencryptedContentLength !== undefined) o.size = head.envelope.unencryptedContentLength;
              }),
            );
          }
        }
        for (const p of page.prefixes) prefixes.push(p);
        objects.push(...batch);
        if (print) {
          const pad = values.long ? 42 : 36;
          for (const p of page.prefixes) io.stdout.write(`${'PRE'.padStart(pad)}  ${p}\n`);
          for (const o of batch) {
            const enc = values.long ? ` ${o.encrypted === true ? 'enc' : '  -'}  ` : '';
            io.stdout.write(`${o.lastModified.padEnd(24)} ${String(o.size).padStart(11)}${enc}  ${o.key}\n`);
          }
        }
        token = page.isTruncated && page.nextContinuationToken !== null ? page.nextContinuationToken : undefined;
      } while (token !== undefined);
      if (values.json) io.stdout.write(JSON.stringify({ bucket: where.bucket, prefix: where.key, prefixes, objects }) + '\n');
      return 0;
    }, { keys: 'optional' });
  },
};
