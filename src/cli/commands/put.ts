/**
 * `oss-cse put`: encrypt a local file (or standard input) and upload it.
 *
 * @packageDocumentation
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { CseError, ErrorCode } from '../../errors.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
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
import { explainResumeFailure, prepareUploadCheckpoint, publicKeyNote, publicOnlyKey } from '../upload-resume.js';

const help = `Usage: oss-cse put LOCAL oss://BUCKET/KEY [--meta NAME=VALUE ...] [--content-type TYPE] [options]

Encrypts LOCAL on this machine (AES-256-CTR with a fresh data key, wrapped by your RSA key) and uploads it
in one PutObject. The object is readable by every official OSS SDK with client-side encryption (Go, Java,
Python oss2, C++) holding the private key. LOCAL may be - for standard input. A KEY ending in / gets
LOCAL's file name appended. The CRC-64 OSS computes over what it stored is checked against ours.

A file of 1 GiB or more (or any file with one of the transfer flags) is sent as an encrypted multipart
upload: parts encrypted at their own counter, several in flight, failed parts retried; with --checkpoint or
--resume an interrupted upload continues where it stopped.

Resuming unwraps the upload's data key again (the checkpoint holds only the wrapped envelope): with only a
--public-key, put says at the start that resuming will need the private key of that pair (by fingerprint),
and a resume without it says what to give, or to use --restart. A recorded upload gone from OSS is checked
against the object: holding this upload's envelope and LOCAL's size, it is reported complete (exit 0,
nothing sent); absent, the upload starts again from the start (said on stderr); holding anything else, put
fails (ERR_CSE_MULTIPART) and sends nothing: --restart replaces it. \`oss-cse uploads\` lists and aborts
unfinished uploads.

Options:
  --meta NAME=VALUE        user metadata (x-oss-meta-NAME), repeatable
  --content-type TYPE      Content-Type (default: from LOCAL's extension)
${transferHelp('upload')}
  --restart                with --checkpoint/--resume: abort the upload the checkpoint records (on OSS),
                           delete the checkpoint and upload from the start

${ONLINE_HELP}
`;

export const put: Command = {
  name: 'put',
  summary: 'encrypt a file and upload it: put LOCAL oss://bucket/key',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        ...ONLINE_OPTIONS,
        ...TRANSFER_OPTIONS,
        meta: { type: 'string', multiple: true },
        'content-type': { type: 'string' },
        restart: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 2) throw new UsageError('expected LOCAL and oss://BUCKET/KEY');
    const [local = '', remote = ''] = positionals;
    const target = parseOssUrl(remote, 'the destination');
    const key = target.key === '' || target.key.endsWith('/') ? `${target.key}${local === '-' ? '' : basename(local)}` : target.key;
    if (key === '') throw new UsageError('the destination needs an object key: oss://BUCKET/KEY');
    const meta: Record<string, string> = {};
    for (const item of values.meta ?? []) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw new UsageError(`--meta expects NAME=VALUE, got ${JSON.stringify(item)}`);
      const name = item.slice(0, eq).toLowerCase();
      if (!/^[a-z0-9-]+$/.test(name)) throw new UsageError(`--meta name ${JSON.stringify(name)} may only use a-z, 0-9 and -`);
      meta[name] = item.slice(eq + 1);
    }
    let size: number | undefined;
    if (local !== '-') {
      try {
        const info = await stat(local);
        if (!info.isFile()) throw new CseError(ErrorCode.IO, `${local} is not a file`);
        size = info.size;
      } catch (e) {
        if (e instanceof CseError) throw e;
        throw new CseError(ErrorCode.IO, `cannot read ${local}: ${(e as Error).message}`, { cause: e });
      }
    }
    const transfer = transferSettings(values);
    if (local === '-' && transfer.explicit) {
      throw new UsageError('--part-size, --parallel, --checkpoint and --resume need a LOCAL file, not standard input');
    }
    if (values.restart && transfer.checkpoint === undefined && !transfer.resume) {
      throw new UsageError('--restart goes with --checkpoint FILE or --resume (it discards the upload they record)');
    }
    const quiet = values.quiet || values.json;
    const mime = values['content-type'] ?? (local !== '-' && extname(local) !== '' ? extname(local) : undefined);
    const { withSession } = await import('../target.js');
    // Ctrl-C stops the upload through the client (aborted on OSS, or kept for --checkpoint/--resume), not mid-request.
    const interrupt = interruptible(transfer.checkpoint !== undefined || transfer.resume ? 'run the same command again to continue' : undefined);
    const { signal } = interrupt;
    if (size !== undefined && useParallelTransfer('upload', size, transfer)) {
      const fileSize = size;
      return interrupt.run(withSession(values, io, target.bucket, async ({ client, keys }) => {
        const checkpoint = checkpointFile(io, transfer, 'upload', target.bucket, key, local);
        const url = `oss://${target.bucket}/${key}`;
        const publicOnly = publicOnlyKey(keys);
        const resume = checkpoint === undefined ? undefined : await prepareUploadCheckpoint(io, client, { bucket: target.bucket, key }, checkpoint, values.restart);
        if (checkpoint !== undefined && publicOnly !== undefined) publicKeyNote(io, publicOnly);
        const progress = progressBar(io, `put ${key}`, fileSize, !quiet);
        const advance = increments((bytes) => {
          progress.add(bytes);
        });
        let result;
        try {
          result = await client.multipartUpload(key, local, {
            ...(transfer.partSize === undefined ? {} : { partSize: transfer.partSize }),
            ...(transfer.parallel === undefined ? {} : { parallel: transfer.parallel }),
            ...(checkpoint === undefined ? {} : { checkpoint }),
            ...(mime === undefined ? {} : { mime }),
            ...(Object.keys(meta).length === 0 ? {} : { meta }),
            signal,
            // ali-oss's progress(p, checkpoint, res): no checkpoint on the final call, after Complete.
            progress: (_fraction, checkpoint) => {
              advance(checkpoint === null ? fileSize : checkpoint.bytes);
            },
          });
        } catch (e) {
          throw resume === undefined ? e : explainResumeFailure(e, resume, publicOnly, url);
        } finally {
          progress.end();
        }
        if (result.restartedFrom !== undefined) {
          // Not silent: the recorded upload was lost (aborted or expired) and nothing was at the key to overwrite.
          io.stderr.write(
            `oss-cse: upload ${result.restartedFrom} recorded in ${checkpoint ?? '?'} no longer existed on OSS (aborted or expired) and ` +
              `${url} did not exist: uploaded again from the start\n`,
          );
        }
        if (values.json) {
          io.stdout.write(
            JSON.stringify({
              object: url,
              bucket: target.bucket,
              key,
              size: result.size,
              crc64: result.crc64,
              etag: result.etag ?? null,
              envelope: result.envelope,
              method: result.method,
              uploadId: result.uploadId ?? null,
              partSize: result.partSize,
              parts: result.partCount,
              partsSent: result.partsSent,
              resumed: result.resumed,
              alreadyComplete: result.alreadyComplete,
              restartedFrom: result.restartedFrom ?? null,
            }) + '\n',
          );
        } else if (!values.quiet && result.alreadyComplete) {
          io.stdout.write(`${url} is already complete: upload ${result.uploadId ?? '?'} was finished by an earlier run; nothing sent\n`);
        } else if (!values.quiet) {
          const how =
            result.method === 'put'
              ? 'in one request'
              : `in ${result.partCount} parts of ${result.partSize} bytes${result.resumed ? ` (resumed: ${result.partCount - result.partsSent} were already uploaded)` : ''}`;
          io.stdout.write(`uploaded ${result.size} bytes from ${local} to ${url}, encrypted, ${how}\n`);
        }
        return 0;
      }));
    }
    return interrupt.run(withSession(values, io, target.bucket, async ({ client }) => {
      const fileStream = local === '-' ? undefined : createReadStream(local, { highWaterMark: 1 << 20 });
      const source: AsyncIterable<Buffer> = fileStream ?? process.stdin;
      const progress = progressBar(io, `put ${key}`, size, !quiet);
      let result;
      try {
        result = await client.putStream(key, counted(source, progress), {
          ...(size === undefined ? {} : { contentLength: size }),
          ...(mime === undefined ? {} : { mime }),
          ...(Object.keys(meta).length === 0 ? {} : { meta }),
          signal,
        });
      } finally {
        progress.end();
        fileStream?.destroy();
      }
      const url = `oss://${target.bucket}/${key}`;
      if (values.json) {
        io.stdout.write(
          JSON.stringify({
            object: url,
            bucket: target.bucket,
            key,
            size: result.size,
            crc64: result.crc64,
            etag: result.res.headers.etag ?? null,
            envelope: result.envelope,
          }) + '\n',
        );
      } else if (!values.quiet) {
        io.stdout.write(`uploaded ${result.size} bytes from ${local === '-' ? 'standard input' : local} to ${url}, encrypted\n`);
      }
      return 0;
    }));
  },
};
