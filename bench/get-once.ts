/**
 * One-off GET timing for profiling the read path (issue 15): uploads an object once, then downloads it N times to a
 * file with EncryptionClient and with plain ali-oss, alternating, printing each time, the client's CPU time and its
 * minor page faults. Run under `--cpu-prof` to see where a GET's client time goes.
 *
 * Usage: node --expose-gc --import tsx bench/get-once.ts [--size 256MiB] [--runs 4] [--only enc|plain] [--prof FILE]
 *
 * `--prof FILE` writes a CPU profile of the GET loop only (set-up excluded), for bench/profile-summary.ts.
 */

import OSS from 'ali-oss';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import { EncryptionClient } from '../src/client.js';
import { RsaMasterKey } from '../src/keys/rsa.js';
import { startServerProcess } from './lib/processes.js';
import { parseSize } from './lib/units.js';

const { values } = parseArgs({ options: { size: { type: 'string', default: '256MiB' }, runs: { type: 'string', default: '4' }, only: { type: 'string' }, prof: { type: 'string' } } });
const size = parseSize(values.size);
const server = await startServerProcess('oss-memory');
const dir = await mkdtemp(join(tmpdir(), 'oss-cse-get-once-'));
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
  const source = join(dir, 'source.bin');
  await writeFile(source, randomBytes(size));
  await client.put('enc', source);
  await oss.put('plain', source);
  const target = join(dir, 'out.bin');
  const faults = (): number => process.resourceUsage().minorPageFault;
  const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  const runs = Number(values.runs);
  const session = values.prof === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const sides = { enc: () => client.get('enc', target), plain: () => oss.get('plain', target) };
  for (let i = 0; i < runs; i++) {
    const order: ('enc' | 'plain')[] = i % 2 === 0 ? ['enc', 'plain'] : ['plain', 'enc'];
    for (const side of order) {
      if (values.only !== undefined && values.only !== side) continue;
      (globalThis as { gc?: () => void }).gc?.();
      const f0 = faults();
      const c0 = cpu();
      const t0 = performance.now();
      await sides[side]();
      const ms = performance.now() - t0;
      console.log(`${side} ${ms.toFixed(0)} ms (${((size / ms) * 1e-3).toFixed(0)} MB/s) cpu ${(cpu() - c0).toFixed(0)} ms fault MiB ${(((faults() - f0) * 4096) / 1048576).toFixed(0)} load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    }
  }
  if (session !== undefined && values.prof !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(values.prof, JSON.stringify(profile));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
  await server.close();
}
