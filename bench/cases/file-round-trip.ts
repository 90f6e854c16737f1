/**
 * Child-process cases (run by `runCaseInChild`, one process per run, so the peak RSS is the run's own): upload a
 * local file and download it to another file, streaming both ways, with `EncryptionClient` or with plain ali-oss.
 * Set-up (client, key) is outside the timed region; the peak RSS covers the whole child (Node + tsx ≈ 60–80 MiB
 * before any work: compare the two sides, not the absolute value).
 */

import OSS from 'ali-oss';
import { rm } from 'node:fs/promises';
import { EncryptionClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { timed } from '../lib/measure.js';

/** What both cases take (JSON over IPC). */
export interface FileRoundTripArgs {
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
  /** RSA private key PEM for the encrypted case (a throwaway benchmark key). */
  readonly privateKeyPem: string;
}

function ossOf(a: FileRoundTripArgs): OSS {
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

/** EncryptionClient: put(file path) then get(name, file path). */
export async function encryptedFileRoundTrip(a: FileRoundTripArgs): Promise<number> {
  const client = new EncryptionClient(ossOf(a), { masterKey: new RsaMasterKey({ privateKey: a.privateKeyPem }) });
  const seconds = await timed(async () => {
    await client.put(a.key, a.source);
    await client.get(a.key, a.target);
  });
  await rm(a.target, { force: true });
  return seconds;
}

/** Plain ali-oss: put(file path) then get(name, file path). */
export async function plainFileRoundTrip(a: FileRoundTripArgs): Promise<number> {
  const oss = ossOf(a);
  const seconds = await timed(async () => {
    await oss.put(a.key, a.source);
    await oss.get(a.key, a.target);
  });
  await rm(a.target, { force: true });
  return seconds;
}
