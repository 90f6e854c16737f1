/**
 * One run of each multipart case for a large file (issue 6: "peak RSS ≤ 256 MiB for a 4 GiB file, both directions"),
 * without the A/B repetitions of `npm run bench`: encrypted and plain upload, then encrypted and plain parallel
 * download, each in its own child process, printing the time and the child's peak RSS (`VmHWM`). A 4 GiB row in the
 * full harness needs ≥ 5 pairs per direction (about 40 transfers of 4 GiB); this answers the memory question in four.
 *
 * Usage: node --expose-gc --import tsx bench/multipart-once.ts [--size 4GiB] [--parallel 4] [--part-size 10MiB]
 *   [--dir /tmp] [--store disk|memory]
 * Needs about 2 × size of free disk in --dir (the source and one download at a time) plus 2 × size for the disk
 * store (both uploaded objects, in the system temp directory).
 */

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { MultipartCaseArgs } from './cases/multipart.js';
import { runCaseInChild, startServerProcess } from './lib/processes.js';
import { formatSize, parseSize } from './lib/units.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '4GiB' },
    parallel: { type: 'string', default: '4' },
    'part-size': { type: 'string', default: '10MiB' },
    dir: { type: 'string', default: tmpdir() },
    store: { type: 'string', default: 'disk' },
  },
});
const size = parseSize(values.size);
const partSize = parseSize(values['part-size']);
const parallel = Number(values.parallel);
if (!Number.isSafeInteger(parallel) || parallel < 1) throw new Error(`--parallel: expected a positive integer, got ${values.parallel}`);
const kind = values.store === 'memory' ? 'oss-memory' : 'oss-disk';

const dir = await mkdtemp(join(values.dir, 'oss-cse-mp-once-'));
const server = await startServerProcess(kind);
try {
  const source = join(dir, 'source.bin');
  const handle = await open(source, 'w');
  try {
    for (let at = 0; at < size; at += 16 * 1024 * 1024) await handle.write(randomBytes(Math.min(16 * 1024 * 1024, size - at)));
  } finally {
    await handle.close();
  }
  const privateKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const args = (key: string): MultipartCaseArgs => ({
    endpoint: server.endpoint,
    bucket: server.bucket,
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    source,
    target: join(dir, `${key}.out`),
    key: `once/${key}`,
    size,
    privateKeyPem,
    partSize,
    parallel,
  });
  const caseModule = new URL('./cases/multipart.ts', import.meta.url);
  const mib = (bytes: number | undefined): string => (bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
  console.log(`multipart once: ${formatSize(size)}, parallel ${parallel}, part ${formatSize(partSize)}, ${kind} store`);
  const times: Record<string, number> = {};
  for (const [label, exportName, key] of [
    ['upload, EncryptionClient.multipartUpload', 'encryptedMultipartUpload', 'enc'],
    ['upload, ali-oss multipartUpload', 'plainMultipartUpload', 'plain'],
    ['download, EncryptionClient.resumableDownload', 'encryptedParallelDownload', 'enc'],
    ['download, ali-oss ranged getStream', 'plainParallelDownload', 'plain'],
  ] as const) {
    const sample = await runCaseInChild(caseModule, exportName, args(key));
    times[exportName] = sample.seconds;
    console.log(`  ${label}: ${sample.seconds.toFixed(1)} s, ${((size / sample.seconds) / 1e6).toFixed(0)} MB/s, peak RSS ${mib(sample.peakRssBytes)}`);
  }
  const ratio = (a: string, b: string): string => ((times[a] ?? NaN) / (times[b] ?? NaN)).toFixed(2);
  console.log(`  time ratio (one run each, not a median): upload ${ratio('encryptedMultipartUpload', 'plainMultipartUpload')}, ` +
    `download ${ratio('encryptedParallelDownload', 'plainParallelDownload')}`);
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
