/**
 * Multipart rows (issue 6 "Benchmark"): a large file uploaded with `EncryptionClient.multipartUpload` ÷ plain ali-oss
 * `multipartUpload` of the same file, and downloaded with `EncryptionClient.resumableDownload` ÷ a plain parallel
 * ranged download with ali-oss (same part size, same parallelism), each with 1, 2 and 4 parts in flight, through the
 * embedded server (its own process; memory store, disk store above 1 GiB). Every run is a fresh child process, so each side reports its own
 * peak RSS.
 *
 * Targets: encryption adds at most 15 % to the time; the peak RSS stays at or under 256 MiB for a 4 GiB file (the
 * 4 GiB size runs only when asked: `OSS_CSE_BENCH_MULTIPART_SIZES=1GiB,4GiB`; sizes above 1 GiB use the disk
 * store and need ~20 GiB of free disk).
 *
 * Environment: `OSS_CSE_BENCH_MULTIPART_SIZES` (default `1GiB`, quick `32MiB`), `OSS_CSE_BENCH_MULTIPART_PARALLEL`
 * (default `1,2,4`), `OSS_CSE_BENCH_MULTIPART_PART_SIZE` (default `10MiB`).
 */

import OSS from 'ali-oss';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MultipartCaseArgs } from '../cases/multipart.js';
import type { BenchContext, RowGroup } from '../lib/context.js';
import type { Target } from '../lib/measure.js';
import { runCaseInChild, type ServerProcess } from '../lib/processes.js';
import { countingRequests } from '../lib/requests.js';
import { formatSize, parseSize } from '../lib/units.js';
import { plainClient } from './server.js';

const TIME_TARGET: Target = { op: '<=', value: 1.15, source: 'issue 6: encryption adds ≤ 15 % to multipart upload/download time' };
const RSS_TARGET_BYTES = 256 * 1024 * 1024;
const RSS_TARGET_SIZE = 4 * 1024 ** 3;

function envList(name: string): string[] | undefined {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? undefined : value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Writes `size` random bytes to `path` in 16 MiB chunks. */
async function writeRandomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    const chunk = 16 * 1024 * 1024;
    for (let at = 0; at < size; at += chunk) await handle.write(randomBytes(Math.min(chunk, size - at)));
  } finally {
    await handle.close();
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
}

/** The multipart row group. */
export const multipartRows: RowGroup = {
  name: 'multipart',
  title: 'multipart upload and parallel download of large files: EncryptionClient ÷ plain ali-oss, parallel 1/2/4, peak RSS',
  async run(ctx: BenchContext): Promise<void> {
    const sizes = (envList('OSS_CSE_BENCH_MULTIPART_SIZES') ?? [ctx.options.mode === 'quick' ? '32MiB' : '1GiB']).map(parseSize);
    const parallels = (envList('OSS_CSE_BENCH_MULTIPART_PARALLEL') ?? ['1', '2', '4']).map(Number);
    const partSize = parseSize(process.env.OSS_CSE_BENCH_MULTIPART_PART_SIZE ?? '10MiB');
    // Above 1 GiB the memory store would hold several copies of each object (parts, then the object): use the disk.
    const server: ServerProcess = await ctx.server(sizes.some((s) => s > 1024 ** 3) ? 'oss-disk' : 'oss-memory');
    const oss: OSS = plainClient(server);
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const { EncryptionClient } = await import('../../src/client.js');
    const { RsaMasterKey } = await import('../../src/keys/rsa.js');
    const client = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey: pair.privateKey }) });
    const caseModule = new URL('../cases/multipart.ts', import.meta.url);

    for (const size of sizes) {
      const dir = await mkdtemp(join(tmpdir(), 'oss-cse-bench-multipart-'));
      const label = formatSize(size);
      const tag = label.replace(' ', '');
      try {
        ctx.log(`multipart: writing a ${label} source file`);
        const source = join(dir, 'source.bin');
        await writeRandomFile(source, size);
        const args = (key: string, parallel: number): MultipartCaseArgs => ({
          endpoint: server.endpoint,
          bucket: server.bucket,
          accessKeyId: server.credentials.accessKeyId,
          accessKeySecret: server.credentials.accessKeySecret,
          source,
          target: join(dir, `${key.replace(/\//g, '_')}.out`),
          key,
          size,
          privateKeyPem,
          partSize,
          parallel,
        });
        const encKey = `multipart/enc/${tag}`;
        const plainKey = `multipart/plain/${tag}`;
        const rssNotes: string[] = [];
        for (const parallel of parallels) {
          const upload = await ctx.compare({
            group: 'multipart',
            id: `multipart.upload.${tag}.p${parallel}`,
            label: `multipart upload ${label}, parallel ${parallel}`,
            subject: `EncryptionClient.multipartUpload(path, { partSize: ${formatSize(partSize)}, parallel: ${parallel} })`,
            baseline: `ali-oss multipartUpload(path, same partSize and parallel)`,
            metric: 'time',
            unit: 'B',
            workPerUnit: size,
            batch: 1,
            a: countingRequests(server, async () => runCaseInChild(caseModule, 'encryptedMultipartUpload', args(encKey, parallel))),
            b: countingRequests(server, async () => runCaseInChild(caseModule, 'plainMultipartUpload', args(plainKey, parallel))),
            target: TIME_TARGET,
            note: 'one child process per run; peak RSS is the whole child (Node + tsx ≈ 70 MiB before any work)',
          });
          const download = await ctx.compare({
            group: 'multipart',
            id: `multipart.download.${tag}.p${parallel}`,
            label: `parallel download ${label}, parallel ${parallel}`,
            subject: `EncryptionClient.resumableDownload(name, path, { partSize: ${formatSize(partSize)}, parallel: ${parallel} })`,
            baseline: 'ali-oss getStream with a Range per part, same part size and parallel, written at each offset',
            metric: 'time',
            unit: 'B',
            workPerUnit: size,
            batch: 1,
            a: countingRequests(server, async () => runCaseInChild(caseModule, 'encryptedParallelDownload', args(encKey, parallel))),
            b: countingRequests(server, async () => runCaseInChild(caseModule, 'plainParallelDownload', args(plainKey, parallel))),
            target: TIME_TARGET,
            note: 'ali-oss has no parallel download: the baseline is the same ranged scheme without decryption or checks',
          });
          for (const [what, row] of [['upload', upload], ['download', download]] as const) {
            const peak = row?.subjectPeakRssBytes?.max;
            const base = row?.baselinePeakRssBytes?.max;
            if (peak === undefined) continue;
            const verdict = size >= RSS_TARGET_SIZE ? (peak <= RSS_TARGET_BYTES ? ' (target ≤ 256 MiB: met)' : ' (target ≤ 256 MiB: MISSED)') : '';
            rssNotes.push(`${what} p${parallel}: ${mib(peak)}${base === undefined ? '' : ` vs ali-oss ${mib(base)}`}${verdict}`);
          }
        }
        ctx.note(`multipart ${label} peak RSS (max over runs) — ${rssNotes.join('; ')}`);
        await client.delete(encKey).catch(() => undefined);
        await oss.delete(plainKey).catch(() => undefined);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  },
};
