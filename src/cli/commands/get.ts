/**
 * `oss-cse get`: download an object and decrypt it (to a file, or standard output with `-`).
 *
 * @packageDocumentation
 */

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command, CliIo } from '../command.js';
import { removeStaleTempFiles, writeFileAtomic } from '../files.js';
import { UsageError } from '../command.js';
import { withBucketCheck } from '../not-found.js';
import { counted, progressBar } from '../progress.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl } from '../online.js';
import {
  useParallelTransfer,
  TRANSFER_OPTIONS,
  checkpointFile,
  increments,
  transferHelp,
  transferSettings,
} from '../transfer-options.js';
import { interruptible } from '../interrupt.js';

/** `--range` and `--range-behavior`, shared with `cat`. */
export const RANGE_OPTIONS = {
  range: { type: 'string' },
  'range-behavior': { type: 'string' },
} as const;

/** Help for {@link RANGE_OPTIONS}. */
export const RANGE_HELP = `  --range A-B              only bytes A..B (inclusive) of the plaintext; also A- (to the end) and, written
                           --range=-N, the last N bytes; answered exactly as OSS answers a Range on an
                           unencrypted object (a range past the end is ignored: the whole object comes back)
  --range-behavior standard  OSS's standard range semantics: an end past the object is clipped, a start
                           past it is an error (ERR_CSE_RANGE_NOT_SATISFIABLE)`;

/**
 * The request headers for `--range`/`--range-behavior`.
 * @throws UsageError for a malformed value
 */
export function rangeHeaders(range: string | undefined, behavior: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (range !== undefined) {
    if (!/^(?:[0-9]+-[0-9]*|-[0-9]+)$/.test(range)) throw new UsageError(`--range expects A-B, A- or -N, got ${JSON.stringify(range)}`);
    const [a = '', b = ''] = range.split('-');
    if (a !== '' && b !== '' && BigInt(a) > BigInt(b)) throw new UsageError(`--range ${range}: the end is before the start`);
    headers.Range = `bytes=${range}`;
  }
  if (behavior !== undefined) {
    if (behavior !== 'standard') throw new UsageError(`--range-behavior accepts only "standard", got ${JSON.stringify(behavior)}`);
    headers['x-oss-range-behavior'] = 'standard';
  }
  return headers;
}

/** Writes chunks to standard output with back-pressure (without ending it). */
export async function toStdout(io: CliIo, source: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of source) {
    bytes += chunk.length;
    if (!io.stdout.write(chunk)) await new Promise<void>((resolve) => io.stdout.once('drain', resolve));
  }
  return bytes;
}

const help = `Usage: oss-cse get oss://BUCKET/KEY LOCAL [--range A-B] [--range-behavior standard] [options]

Downloads an object and decrypts it on this machine. Objects written by any official OSS SDK with
client-side encryption (Go, Java, Python oss2, C++) are read, as are unencrypted objects (returned as
stored; --require-encrypted refuses them). LOCAL may be a directory (the key's last segment is used as the
file name) or - for standard output. The file is written to a temporary name (.NAME.<hex>.tmp beside it,
mode 0600) and renamed only after every check passed (length, CRC-64 of the whole object, the writer's
declared MD5 and length): a failed download leaves nothing at LOCAL. Temporary files of earlier runs to the
same LOCAL that were killed before they finished are removed (not those of a run still going, nor the one a
checkpoint continues).

An object of 4 GiB or more (or any object with one of the transfer flags, to a file and without --range)
is fetched as parallel ranged GETs pinned to the object's ETag (an object replaced meanwhile fails the
download), decrypted into the temporary file, checked as a whole and renamed; with --checkpoint or --resume
an interrupted download fetches only what is missing.

Options:
${RANGE_HELP}
${transferHelp('download')}

${ONLINE_HELP}
`;

export const get: Command = {
  name: 'get',
  summary: 'download an object and decrypt it: get oss://bucket/key LOCAL',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...ONLINE_OPTIONS, ...RANGE_OPTIONS, ...TRANSFER_OPTIONS },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 2) throw new UsageError('expected oss://BUCKET/KEY and LOCAL');
    const [remote = '', localArg = ''] = positionals;
    const source = parseOssUrl(remote, 'the source');
    if (source.key === '' || source.key.endsWith('/')) throw new UsageError('the source needs an object key: oss://BUCKET/KEY');
    const headers = rangeHeaders(values.range, values['range-behavior']);
    let local = localArg;
    if (local !== '-' && (local.endsWith('/') || (await isDirectory(local)))) {
      local = join(local, source.key.split('/').pop() ?? source.key);
    }
    const transfer = transferSettings(values);
    if (transfer.explicit && (local === '-' || Object.keys(headers).length > 0)) {
      throw new UsageError('--part-size, --parallel, --checkpoint and --resume need a LOCAL file and no --range');
    }
    const quiet = values.quiet || values.json || local === '-';
    const { withSession } = await import('../target.js');
    // Ctrl-C stops the download through the client (nothing is left at LOCAL; the temporary file is kept only for
    // --checkpoint/--resume), not mid-write.
    const interrupt = interruptible(transfer.checkpoint !== undefined || transfer.resume ? 'run the same command again to continue' : undefined);
    const { signal } = interrupt;
    return interrupt.run(withSession(values, io, source.bucket, async ({ client }) => withBucketCheck(client, source.bucket, async () => {
      const whole = local !== '-' && Object.keys(headers).length === 0;
      // Without flags, the size decides: one HEAD, then the parallel path for large objects.
      const parallel = whole && (transfer.explicit || useParallelTransfer('download', (await client.head(source.key, { signal })).size, transfer));
      if (parallel) {
        const checkpoint = checkpointFile(io, transfer, 'download', source.bucket, source.key, local);
        let progress: ReturnType<typeof progressBar> | undefined;
        let advance: ((total: number) => void) | undefined;
        let r;
        try {
          r = await client.resumableDownload(source.key, local, {
            ...(transfer.partSize === undefined ? {} : { partSize: transfer.partSize }),
            ...(transfer.parallel === undefined ? {} : { parallel: transfer.parallel }),
            ...(checkpoint === undefined ? {} : { checkpoint }),
            signal,
            progress: (_fraction, info) => {
              progress ??= progressBar(io, `get ${source.key}`, info.totalBytes, !quiet);
              const bar = progress;
              advance ??= increments((bytes) => {
                bar.add(bytes);
              });
              advance(info.bytes);
            },
          });
        } finally {
          progress?.end();
        }
        const url = `oss://${source.bucket}/${source.key}`;
        if (values.json) {
          io.stdout.write(
            JSON.stringify({
              object: url,
              file: local,
              size: r.size,
              status: 200,
              encrypted: r.encrypted,
              range: null,
              objectSize: r.size,
              crc64: r.crc64 ?? null,
              envelope: r.envelope ?? null,
              parts: r.partCount,
              partsFetched: r.partsFetched,
              resumed: r.resumed,
            }) + '\n',
          );
        } else if (!values.quiet) {
          const what = r.encrypted ? 'decrypted' : 'not encrypted, stored as is';
          const how = `${r.partCount} range${r.partCount === 1 ? '' : 's'}${r.resumed ? `, resumed: ${r.partCount - r.partsFetched} were already there` : ''}`;
          io.stdout.write(`downloaded ${r.size} bytes from ${url} to ${local} (${what}; ${how})\n`);
        }
        return 0;
      }
      // Plaintext that earlier runs killed before their checks passed left beside LOCAL (the parallel path does the
      // same in the library, keeping the file a checkpoint continues): SECURITY.md "Temporary download files".
      if (local !== '-') await removeStaleTempFiles(local);
      const result = await client.getStream(source.key, { headers, signal });
      const progress = progressBar(io, `get ${source.key}`, result.size, !quiet);
      // The bytes actually written: `result.size` is only what the answer declared (unknown without Content-Length).
      let written = 0;
      const tallied = (async function* tally(): AsyncGenerator<Uint8Array> {
        for await (const chunk of counted(result.stream as AsyncIterable<Buffer>, progress)) {
          written += chunk.length;
          yield chunk;
        }
      })();
      try {
        if (local === '-') await toStdout(io, tallied);
        else await writeFileAtomic(local, tallied);
      } finally {
        progress.end();
      }
      const url = `oss://${source.bucket}/${source.key}`;
      if (values.json) {
        io.stdout.write(
          JSON.stringify({
            object: url,
            file: local,
            size: written,
            status: result.res.status,
            encrypted: result.encrypted,
            range: result.range ?? null,
            objectSize: result.objectSize ?? null,
            envelope: result.envelope ?? null,
          }) + '\n',
        );
      } else if (!values.quiet && local !== '-') {
        const what = result.encrypted ? 'decrypted' : 'not encrypted, stored as is';
        io.stdout.write(`downloaded ${written} bytes from ${url} to ${local} (${what})\n`);
      }
      return 0;
    })));
  },
};

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
