/**
 * `oss-cse uploads`: list and abort unfinished multipart uploads, so that an interrupted upload can always be cleaned
 * up, whatever keys are at hand (listing and aborting need none).
 *
 * @packageDocumentation
 */

import { parseArgs } from 'node:util';
import type { EncryptionClient } from '../../client.js';
import { CseError, ErrorCode, TransferError } from '../../errors.js';
import type { CliIo, Command } from '../command.js';
import { UsageError } from '../command.js';
import { ONLINE_HELP, ONLINE_OPTIONS, parseOssUrl, type OssUrl } from '../online.js';

const help = `Usage: oss-cse uploads ls oss://BUCKET[/PREFIX] [--json] [options]
       oss-cse uploads abort oss://BUCKET/KEY --upload-id ID [--json] [options]
       oss-cse uploads abort oss://BUCKET[/PREFIX] --all [--json] [options]

Unfinished multipart uploads keep their parts (and their storage cost) on OSS until they are completed or
aborted. An interrupted \`put --checkpoint/--resume\` keeps its upload on purpose, to be resumed.

uploads ls lists the uploads of keys under PREFIX: initiation time, upload id, whether it was initiated with
client-side encryption, number of parts and their bytes, key. With --json: {"bucket", "prefix", "uploads":
[{"key", "uploadId", "initiated", "encrypted", "parts", "bytes"}]}.

uploads abort aborts one upload (KEY and --upload-id), or with --all every upload under PREFIX (all of the
bucket's with no PREFIX). With --json: {"bucket", "aborted": [{"key", "uploadId"}], "failed": [{"key",
"uploadId", "error"}]}. A failed abort is reported and the others go on; the exit code is then 1. Aborting
the upload a checkpoint records makes that checkpoint useless: \`put --restart\` does both.

Neither needs a key, and neither creates one.

Options:
  --upload-id ID           the upload to abort (with oss://BUCKET/KEY)
  --all                    abort every upload under oss://BUCKET[/PREFIX]

${ONLINE_HELP}
`;

/** One unfinished upload, as listed. */
interface UploadRow {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: string;
  readonly encrypted: boolean;
  readonly parts: number;
  readonly bytes: number;
}

/** Every upload under `prefix`, all pages. */
async function allUploads(client: EncryptionClient, prefix: string): Promise<{ key: string; uploadId: string; initiated: string }[]> {
  const out: { key: string; uploadId: string; initiated: string }[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.listUploads({
      prefix,
      'max-uploads': 1000,
      ...(keyMarker === undefined ? {} : { 'key-marker': keyMarker }),
      ...(uploadIdMarker === undefined ? {} : { 'upload-id-marker': uploadIdMarker }),
    });
    for (const u of page.uploads) out.push({ key: u.key, uploadId: u.uploadId, initiated: u.initiated });
    if (!page.isTruncated || (page.nextKeyMarker === keyMarker && page.nextUploadIdMarker === uploadIdMarker)) return out;
    keyMarker = page.nextKeyMarker;
    uploadIdMarker = page.nextUploadIdMarker;
  }
}

/** Parts and encryption of one upload (all ListParts pages); undefined when it vanished meanwhile. */
async function describeUpload(client: EncryptionClient, key: string, uploadId: string): Promise<{ encrypted: boolean; parts: number; bytes: number } | undefined> {
  let parts = 0;
  let bytes = 0;
  let encrypted = false;
  let marker: number | undefined;
  try {
    for (;;) {
      const page = await client.listParts(key, uploadId, { 'max-parts': 1000, ...(marker === undefined ? {} : { 'part-number-marker': marker }) });
      if (page.encryption?.key !== undefined) encrypted = true;
      parts += page.parts.length;
      for (const p of page.parts) bytes += p.size;
      if (!page.isTruncated || page.nextPartNumberMarker === undefined || page.nextPartNumberMarker === marker) break;
      marker = page.nextPartNumberMarker;
    }
  } catch (e) {
    if (e instanceof TransferError && e.ossCode === 'NoSuchUpload') return undefined;
    throw e;
  }
  return { encrypted, parts, bytes };
}

async function list(io: CliIo, client: EncryptionClient, where: OssUrl, json: boolean, quiet: boolean): Promise<number> {
  const rows: UploadRow[] = [];
  for (const u of await allUploads(client, where.key)) {
    const facts = await describeUpload(client, u.key, u.uploadId);
    if (facts !== undefined) rows.push({ ...u, ...facts });
  }
  if (json) {
    io.stdout.write(JSON.stringify({ bucket: where.bucket, prefix: where.key, uploads: rows }) + '\n');
  } else if (!quiet) {
    for (const r of rows) {
      io.stdout.write(
        `${r.initiated.padEnd(24)}  ${r.uploadId}  ${(r.encrypted ? 'encrypted' : 'plain').padEnd(9)}  ` +
          `${String(r.parts).padStart(5)} parts ${String(r.bytes).padStart(12)} bytes  ${r.key}\n`,
      );
    }
  }
  return 0;
}

async function abort(
  io: CliIo,
  client: EncryptionClient,
  where: OssUrl,
  targets: readonly { key: string; uploadId: string }[],
  json: boolean,
  quiet: boolean,
): Promise<number> {
  const aborted: { key: string; uploadId: string }[] = [];
  const failed: { key: string; uploadId: string; error: string }[] = [];
  for (const t of targets) {
    try {
      await client.abortMultipartUpload(t.key, t.uploadId);
      aborted.push(t);
      if (!json && !quiet) io.stdout.write(`aborted upload ${t.uploadId} of oss://${where.bucket}/${t.key}\n`);
    } catch (e) {
      // cseCode, not code: since errors took ali-oss's shape, `code` is OSS's (NoSuchUpload); ours is the stable one.
      const code = e instanceof CseError ? e.cseCode : 'ERR_CSE_UNEXPECTED';
      failed.push({ ...t, error: `${code}: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  if (json) io.stdout.write(JSON.stringify({ bucket: where.bucket, aborted, failed }) + '\n');
  if (failed.length === 0) return 0;
  const first = failed[0];
  throw new CseError(
    ErrorCode.TRANSFER,
    `${failed.length} of ${targets.length} abort${targets.length === 1 ? '' : 's'} failed` +
      (first === undefined ? '' : `; first: upload ${first.uploadId} of oss://${where.bucket}/${first.key}: ${first.error}`),
  );
}

export const uploads: Command = {
  name: 'uploads',
  summary: 'list or abort unfinished multipart uploads: uploads ls|abort oss://bucket[/prefix]',
  help,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...ONLINE_OPTIONS, 'upload-id': { type: 'string' }, all: { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: true,
    });
    const [sub, url, ...extra] = positionals;
    if ((sub !== 'ls' && sub !== 'abort') || url === undefined || extra.length > 0) {
      throw new UsageError('expected `uploads ls oss://BUCKET[/PREFIX]` or `uploads abort oss://BUCKET/KEY --upload-id ID | --all`');
    }
    const where = parseOssUrl(url, 'the location');
    const uploadId = values['upload-id'];
    if (sub === 'ls' && (uploadId !== undefined || values.all)) throw new UsageError('--upload-id and --all go with `uploads abort`');
    if (sub === 'abort') {
      if ((uploadId === undefined) === !values.all) throw new UsageError('uploads abort takes either --upload-id ID (with oss://BUCKET/KEY) or --all');
      if (uploadId === '') throw new UsageError('--upload-id expects an upload id');
      if (uploadId !== undefined && (where.key === '' || where.key.endsWith('/'))) {
        throw new UsageError('--upload-id needs the object key: oss://BUCKET/KEY');
      }
    }
    const json = values.json;
    const quiet = values.quiet;
    const { withSession } = await import('../target.js');
    return withSession(
      values,
      io,
      where.bucket,
      async ({ client }) => {
        if (sub === 'ls') return list(io, client, where, json, quiet);
        const targets = uploadId !== undefined ? [{ key: where.key, uploadId }] : (await allUploads(client, where.key)).map((u) => ({ key: u.key, uploadId: u.uploadId }));
        return abort(io, client, where, targets, json, quiet);
      },
      { keys: 'optional' },
    );
  },
};
