/**
 * `oss-cse head`: an object's size, metadata and encryption envelope (never key material).
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import { encodeMatDesc } from '../../format/matdesc.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { withBucketCheck } from '../not-found.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';

const help = `Usage: oss-cse head oss://BUCKET/KEY [options]

Shows an object's plaintext size, whether it is client-side encrypted, its envelope (format, algorithms,
material description, declared sizes; no key material, not even the wrapped key), its Content-Type, ETag,
last-modified time and user metadata.

${ONLINE_HELP}
`;

export const head: Command = {
  name: 'head',
  summary: 'show an object\'s size, metadata and encryption envelope',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args: [...args], options: ONLINE_OPTIONS, strict: true, allowPositionals: true });
    if (positionals.length !== 1) throw new UsageError('expected oss://BUCKET/KEY');
    const source = parseOssUrl(positionals[0] ?? '', 'the object');
    if (source.key === '') throw new UsageError('the object needs a key: oss://BUCKET/KEY');
    const { withSession } = await import('../target.js');
    return withSession(values, io, source.bucket, async ({ client }) => {
      const r = await withBucketCheck(client, source.bucket, async () => client.head(source.key));
      const headers = r.res.headers;
      const info = {
        object: `oss://${source.bucket}/${source.key}`,
        size: r.size ?? null,
        encrypted: r.encrypted,
        format: r.envelope === undefined ? null : r.envelope.version === 'v2' ? 'V2' : r.envelope.version === 'v1' ? 'V1' : 'guide',
        wrapAlgorithm: r.envelope?.wrapAlgorithm ?? null,
        cekAlgorithm: r.envelope?.cekAlgorithm ?? null,
        matdesc: r.envelope === undefined ? null : r.envelope.matdesc,
        unencryptedContentLength: r.envelope?.unencryptedContentLength ?? null,
        unencryptedContentMd5: r.envelope?.unencryptedContentMd5 ?? null,
        dataSize: r.envelope?.dataSize ?? null,
        partSize: r.envelope?.partSize ?? null,
        contentType: headers['content-type'] ?? null,
        etag: headers.etag ?? null,
        lastModified: headers['last-modified'] ?? null,
        meta: r.meta ?? {},
      };
      // docs/cli-json.md: the same `envelope` object as put and get print.
      const json = { ...info, envelope: r.envelope ?? null };
      if (values.json) {
        io.stdout.write(JSON.stringify(json) + '\n');
        return 0;
      }
      if (values.quiet) return 0;
      const rows: [string, string][] = [];
      const { meta, ...facts } = info;
      for (const [k, v] of Object.entries(facts)) {
        if (v === null && r.encrypted) continue;
        if (v === null && !['size', 'encrypted', 'contentType', 'etag', 'lastModified'].includes(k)) continue;
        rows.push([k, v === null ? '-' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : typeof v === 'object' ? encodeMatDesc(v) : String(v)]);
      }
      for (const [k, v] of Object.entries(meta)) rows.push([`meta.${k}`, v]);
      const width = Math.max(...rows.map(([k]) => k.length));
      for (const [k, v] of rows) io.stdout.write(`${k.padEnd(width)}  ${v}\n`);
      return 0;
    }, { keys: 'optional' });
  },
};
