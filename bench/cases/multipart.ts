/**
 * Child-process cases of the multipart rows (issue 6 "Benchmark"): a file uploaded as a multipart upload and an
 * object downloaded to a file in parallel ranges, with `EncryptionClient` or with plain ali-oss, at the same part size
 * and parallelism. One process per run (see `runCaseInChild`), so the peak RSS is the run's own; set-up (client, key)
 * is outside the timed region; the downloaded file is removed afterwards.
 *
 * The plain download baseline is ali-oss `getStream` with a `Range` per part, `parallel` at a time, each written at
 * its offset into one file: the same scheme as `resumableDownload` without decryption, CRC joining and the checkpoint,
 * since ali-oss has no parallel download of its own.
 */

import OSS from 'ali-oss';
import { open, rm } from 'node:fs/promises';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { timed } from '../lib/measure.js';

/** What every multipart case takes (JSON over IPC). */
export interface MultipartCaseArgs {
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  /** The local file to upload. */
  readonly source: string;
  /** Where to download to (removed afterwards). */
  readonly target: string;
  /** Object key. */
  readonly key: string;
  /** The object's size (download cases check it). */
  readonly size: number;
  /** RSA private key PEM for the encrypted cases (a throwaway benchmark key). */
  readonly privateKeyPem: string;
  readonly partSize: number;
  readonly parallel: number;
}

function ossOf(a: MultipartCaseArgs): OSS {
  return new OSS({
    region: 'oss-cn-hangzhou',
    bucket: a.bucket,
    endpoint: a.endpoint,
    accessKeyId: a.accessKeyId,
    accessKeySecret: a.accessKeySecret,
    secure: false,
    timeout: 600_000,
  });
}

function encryptedClient(a: MultipartCaseArgs): EncryptionClient {
  return new EncryptionClient(ossOf(a), { masterKey: new RsaMasterKey({ privateKey: a.privateKeyPem }) });
}

/** EncryptionClient.multipartUpload(path). */
export async function encryptedMultipartUpload(a: MultipartCaseArgs): Promise<number> {
  const client = encryptedClient(a);
  return timed(async () => {
    const r = await client.multipartUpload(a.key, a.source, { partSize: a.partSize, parallel: a.parallel });
    if (r.method !== 'multipart') throw new Error(`expected a multipart upload, got ${r.method}`);
  });
}

/** ali-oss multipartUpload(path) with the same part size and parallelism. */
export async function plainMultipartUpload(a: MultipartCaseArgs): Promise<number> {
  const oss = ossOf(a);
  return timed(async () => {
    await oss.multipartUpload(a.key, a.source, { partSize: a.partSize, parallel: a.parallel });
  });
}

/** EncryptionClient.resumableDownload(name, path). */
export async function encryptedParallelDownload(a: MultipartCaseArgs): Promise<number> {
  const client = encryptedClient(a);
  const seconds = await timed(async () => {
    const r = await client.resumableDownload(a.key, a.target, { partSize: a.partSize, parallel: a.parallel });
    if (r.size !== a.size) throw new Error(`downloaded ${r.size} bytes, expected ${a.size}`);
  });
  await rm(a.target, { force: true });
  return seconds;
}

/** ali-oss getStream with a Range per part, `parallel` at a time, written at each part's offset. */
export async function plainParallelDownload(a: MultipartCaseArgs): Promise<number> {
  const oss = ossOf(a);
  const seconds = await timed(async () => {
    const handle = await open(a.target, 'w');
    try {
      await handle.truncate(a.size);
      const count = Math.ceil(a.size / a.partSize);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const n = next++;
          const start = n * a.partSize;
          const end = Math.min(start + a.partSize, a.size) - 1;
          const { stream } = await oss.getStream(a.key, { headers: { Range: `bytes=${start}-${end}` } });
          let at = start;
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            await handle.write(chunk, 0, chunk.length, at);
            at += chunk.length;
          }
          if (at !== end + 1) throw new Error(`range ${start}-${end}: ${at - start} bytes`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(a.parallel, count) }, async () => worker()));
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
  await rm(a.target, { force: true });
  return seconds;
}
