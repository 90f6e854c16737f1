/**
 * Where the CLI's parallel paths pay (issue 15): for each size, one PUT vs parallel multipart upload and one GET vs
 * parallel ranged download, both with EncryptionClient against the embedded server (memory store, its own process),
 * files on disk, pairs alternated A B / B A. Prints the median ratio parallel ÷ single per size (below 1: the parallel
 * path is faster) and the load average. The thresholds in src/cli/transfer-options.ts come from this.
 *
 * Usage: node --expose-gc --import tsx bench/transfer-choice.ts [--sizes 32MiB,128MiB,512MiB] [--pairs 3]
 *   [--parallel 4] [--part-size 10MiB]
 */

import OSS from 'ali-oss';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EncryptionClient } from '../src/client.js';
import { RsaMasterKey } from '../src/keys/rsa.js';
import { startServerProcess } from './lib/processes.js';
import { formatSize, parseSize } from './lib/units.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '32MiB,128MiB,512MiB' },
    pairs: { type: 'string', default: '3' },
    parallel: { type: 'string', default: '4' },
    'part-size': { type: 'string', default: '10MiB' },
  },
});
const sizes = values.sizes.split(',').map(parseSize);
const pairs = Number(values.pairs);
const parallel = Number(values.parallel);
const partSize = parseSize(values['part-size']);
const server = await startServerProcess('oss-memory');
const dir = await mkdtemp(join(tmpdir(), 'oss-cse-choice-'));
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
try {
  const oss = new OSS({
    region: 'oss-cn-hangzhou',
    bucket: server.bucket,
    endpoint: server.endpoint,
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    secure: false,
    timeout: 600_000,
  });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const client = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) }) });
  const timed = async (f: () => Promise<unknown>): Promise<number> => {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = performance.now();
    await f();
    return performance.now() - t0;
  };
  console.log(`load at start ${load()}; parallel ${parallel}, part size ${formatSize(partSize)}`);
  for (const size of sizes) {
    const source = join(dir, 'source.bin');
    const target = join(dir, 'target.bin');
    const handle = await open(source, 'w');
    for (let at = 0; at < size; at += 16 << 20) await handle.write(randomBytes(Math.min(16 << 20, size - at)));
    await handle.close();
    const single = { up: () => client.put('single', source), down: () => client.get('single', target) };
    const multi = {
      up: () => client.multipartUpload('multi', source, { partSize, parallel }),
      down: () => client.resumableDownload('multi', target, { partSize, parallel }),
    };
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 0; i < pairs + 1; i++) {
      const first = i % 2 === 0;
      const [a, b] = first ? [single, multi] : [multi, single];
      const ua = await timed(a.up);
      const ub = await timed(b.up);
      const da = await timed(a.down);
      const db = await timed(b.down);
      if (i === 0) continue; // warm-up pair
      up.push(first ? ub / ua : ua / ub);
      down.push(first ? db / da : da / db);
    }
    console.log(
      `${formatSize(size)}: multipart upload ÷ one PUT ${median(up).toFixed(2)} [${Math.min(...up).toFixed(2)}–${Math.max(...up).toFixed(2)}], ` +
        `parallel download ÷ one GET ${median(down).toFixed(2)} [${Math.min(...down).toFixed(2)}–${Math.max(...down).toFixed(2)}]; load ${load()}`,
    );
    await rm(target, { force: true });
  }
} finally {
  await rm(dir, { recursive: true, force: true });
  await server.close();
}
