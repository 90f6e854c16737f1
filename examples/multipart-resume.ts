// Multipart upload with a checkpoint: interrupt it, then resume where it stopped.
//
// Run: npx tsx examples/multipart-resume.ts
//
// Each part is encrypted at its own counter (IV + offset/16), so parts can be sent in parallel, retried, and
// resumed later. The checkpoint file records the upload id, the wrapped key and the finished parts; it never holds
// the plaintext data key. Large downloads resume the same way (client.resumableDownload with `checkpoint`).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { EncryptionClient, ErrorCode, RsaMasterKey, generateRsaKeyPair, isCseError } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const PART_SIZE = 256 * 1024; // a multiple of 16, at least 100 KiB
const dir = await mkdtemp(join(tmpdir(), 'oss-cse-example-'));
const server = await startServer({ memory: true, buckets: ['examples'] });
try {
  const oss = new OSS({ endpoint: server.endpoint, bucket: 'examples', ...server.credentials });
  const { privateKeyPem } = await generateRsaKeyPair(2048);
  const client = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey: privateKeyPem }) });

  const file = join(dir, 'backup.tar');
  const plaintext = randomBytes(12 * PART_SIZE + 1234); // 13 parts
  await writeFile(file, plaintext);
  const checkpoint = join(dir, 'backup.upload.json');

  // 1. Start the upload and interrupt it (here: abort after 4 parts; in real life a crash or a lost network).
  const stop = new AbortController();
  let interrupted: unknown;
  try {
    await client.multipartUpload('backups/backup.tar', file, {
      partSize: PART_SIZE,
      parallel: 1, // one part at a time, so the abort lands between parts (parallel parts in flight are cancelled too)
      checkpoint,
      signal: stop.signal,
      // ali-oss's progress(p, checkpoint, res); the checkpoint is null only on the final call, after Complete.
      progress: (_p, cpt) => {
        if (cpt !== null && cpt.bytes >= 4 * PART_SIZE) stop.abort();
      },
    });
  } catch (e) {
    interrupted = e;
  }
  assert.ok(isCseError(interrupted) && interrupted.code === ErrorCode.ABORTED, `expected ERR_CSE_ABORTED, got ${String(interrupted)}`);
  const saved = JSON.parse(await readFile(checkpoint, 'utf8')) as { uploadId: string; parts: unknown[] };
  console.log(`interrupted: ${interrupted.code}, ${saved.parts.length} parts recorded in the checkpoint`);

  // 2. Run the same call again with the same checkpoint: finished parts are not sent again.
  const done = await client.multipartUpload('backups/backup.tar', file, { partSize: PART_SIZE, parallel: 2, checkpoint });
  assert.equal(done.resumed, true);
  assert.equal(done.uploadId, saved.uploadId);
  assert.ok(done.partsSent < done.partCount, 'the resumed run sent only the missing parts');
  console.log(`resumed upload ${done.uploadId}: sent ${done.partsSent} of ${done.partCount} parts`);

  // 3. Check: download to a file (written to a temporary name, renamed only once verified) and compare.
  const copy = join(dir, 'copy.tar');
  await client.get('backups/backup.tar', copy);
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  assert.equal(sha(await readFile(copy)), sha(plaintext));

  console.log(`verified: interrupted upload resumed (${done.partsSent}/${done.partCount} parts sent on resume); the download equals the ${plaintext.length}-byte file`);
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
