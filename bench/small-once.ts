/**
 * Small-object round trips for profiling (issue 15, "1 KiB put+get round trips in one process"): sequential
 * put-then-get of a 1 KiB buffer with `EncryptionClient` (RSA or KMS master key) and with plain ali-oss, against the
 * embedded server in its own process, in alternating batches (A B, B A, …), printing ops/s per batch and the medians.
 * Run under a profiler to see where a round trip's client time goes.
 *
 * Usage: node --expose-gc --import tsx bench/small-once.ts [--key rsa|rsa-no-private|kms] [--ops 2000] [--batches 6]
 *        [--size 1KiB] [--only enc|plain] [--prof FILE] [--alloc]
 *
 * `--prof FILE` writes a CPU profile of the timed loops only (set-up excluded), for bench/profile-summary.ts; with
 * `--only` the profile holds one side alone. `--alloc` (with `--prof P`: also writes `P.enc.heapprofile` / `P.plain.heapprofile`) samples allocations (V8's sampling heap profiler, objects
 * collected by minor and major GCs included) per side and prints bytes allocated per round trip, with the heaviest
 * allocating functions and, per allocation, the nearest frame in `src/` (what in our code asked for it).
 */

import OSS from 'ali-oss';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import { EncryptionClient } from '../src/client.js';
import type { ContentMaterial } from '../src/format/types.js';
import type { MasterKey } from '../src/keys/master-key.js';
import { KmsMasterKey } from '../src/keys/kms.js';
import { RsaMasterKey } from '../src/keys/rsa.js';
import { sealEnvelope } from '../src/object-crypto.js';
import { startServerProcess, type ServerProcess } from './lib/processes.js';
import { plainClient } from './rows/server.js';
import { parseSize } from './lib/units.js';
import { summariseAllocations, type SamplingProfile } from './lib/alloc-summary.js';

const { values } = parseArgs({
  options: {
    key: { type: 'string', default: 'rsa' },
    ops: { type: 'string', default: '2000' },
    batches: { type: 'string', default: '6' },
    size: { type: 'string', default: '1KiB' },
    only: { type: 'string' },
    prof: { type: 'string' },
    alloc: { type: 'boolean', default: false },
    'plain-headers': { type: 'boolean', default: false },
  },
});
/** See `--key rsa-no-private`: a bench-only stand-in that skips the private-key work of an unwrap. */
function rememberingKey(inner: MasterKey): MasterKey {
  const wrapped = new Map<string, ContentMaterial>();
  return {
    kind: inner.kind,
    name: inner.name,
    description: inner.description,
    async wrap(material) {
      const w = await inner.wrap(material);
      wrapped.clear();
      wrapped.set(w.wrappedKey, { key: Uint8Array.from(material.key), iv: Uint8Array.from(material.iv) });
      return w;
    },
    async unwrap(envelope) {
      const m = wrapped.get(envelope.wrappedKey);
      return m === undefined ? null : { key: Uint8Array.from(m.key), iv: Uint8Array.from(m.iv) };
    },
  };
}

/** CPU time (ms) of each thread of this process, from /proc (Linux; empty elsewhere), by thread id. */
function threadCpu(): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name, ms: (Number(fields[11]) + Number(fields[12])) * 10 });
    }
  } catch {
    // No /proc: no per-thread figures.
  }
  return out;
}

const size = parseSize(values.size);
const ops = Number(values.ops);
const batches = Number(values.batches);
const server = await startServerProcess('oss-memory');
let kms: ServerProcess | undefined;
try {
  const oss: OSS = plainClient(server);
  let masterKey: MasterKey;
  if (values.key === 'kms') {
    kms = await startServerProcess('kms');
    if (kms.keyId === undefined) throw new Error('the KMS child created no key');
    masterKey = new KmsMasterKey({ keyId: kms.keyId, region: 'cn-hangzhou', endpoint: kms.endpoint, credentials: kms.credentials });
  } else {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    masterKey = new RsaMasterKey({ privateKey });
    // Diagnostic only, never a real key: wraps with RSA as usual but "unwraps" by looking up what it wrapped, so the
    // run shows what a round trip costs without the two RSA private operations (what remains in the way besides them).
    if (values.key === 'rsa-no-private') masterKey = rememberingKey(masterKey);
  }
  const client = new EncryptionClient(oss, { masterKey });
  const body = randomBytes(size);
  // Diagnostic: `--plain-headers` makes the plain PUT carry an envelope's worth of headers (same names and sizes as
  // the encrypted PUT's), to tell the cost of the headers themselves from the cost of the encryption.
  const plainPutOptions = values['plain-headers']
    ? { headers: (await sealEnvelope({ masterKey, plaintextLength: size, unencryptedContentLength: size })).headers }
    : {};
  const sides = {
    enc: async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        await client.put('small/enc', body);
        const r = await client.get('small/enc');
        if (r.content.length !== size) throw new Error(`enc GET: ${r.content.length} bytes`);
      }
    },
    plain: async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        await oss.put('small/plain', body, plainPutOptions);
        const r = await oss.get('small/plain');
        if ((r.content as Buffer).length !== size) throw new Error(`plain GET: ${(r.content as Buffer).length} bytes`);
      }
    },
  };
  // Warm-up: JIT, sockets, lazy modules.
  await sides.enc(50);
  await sides.plain(50);
  const session = values.prof === undefined || values.alloc ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
  }
  const rates: Record<'enc' | 'plain', number[]> = { enc: [], plain: [] };
  // Batch intervals on the profiler's clock (monotonic µs), so one profile of both sides can be split by side.
  const spans: { side: string; start: number; end: number }[] = [];
  const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  // The server child's CPU time (utime + stime from /proc, in clock ticks of 10 ms), where Linux has it.
  const serverCpu = (): number => {
    try {
      const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      return NaN;
    }
  };
  const perBatch = Math.max(1, Math.round(ops / batches));
  if (values.alloc) {
    const heap = new Session();
    heap.connect();
    await heap.post('HeapProfiler.enable');
    for (const side of ['enc', 'plain'] as const) {
      if (values.only !== undefined && values.only !== side) continue;
      (globalThis as { gc?: () => void }).gc?.();
      const gcs: { kind: number; ms: number }[] = [];
      const observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) gcs.push({ kind: (e as unknown as { detail: { kind: number } }).detail.kind, ms: e.duration });
      });
      observer.observe({ entryTypes: ['gc'] });
      const threads0 = threadCpu();
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await sides[side](perBatch * batches);
      const c1 = process.cpuUsage(c0);
      const threads1 = threadCpu();
      const wall = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 10));
      observer.disconnect();
      const n = perBatch * batches;
      const minor = gcs.filter((g) => g.kind === constants.NODE_PERFORMANCE_GC_MINOR);
      const major = gcs.filter((g) => g.kind !== constants.NODE_PERFORMANCE_GC_MINOR);
      const sum = (xs: { ms: number }[]): number => xs.reduce((a, g) => a + g.ms, 0);
      console.log(`${side}: ${(wall / n).toFixed(3)} ms/op wall (no sampler), process CPU ${(((c1.user + c1.system) / 1000) / n).toFixed(3)} ms/op (all threads); GC pauses per 1000 ops: ${((minor.length * 1000) / n).toFixed(1)} minor (${((sum(minor) * 1000) / n).toFixed(1)} ms), ${((major.length * 1000) / n).toFixed(1)} major (${((sum(major) * 1000) / n).toFixed(1)} ms)`);
      const perThread = new Map<string, number>();
      for (const [tid, t] of threads1) perThread.set(`${t.name}#${tid}`, (perThread.get(`${t.name}#${tid}`) ?? 0) + t.ms - (threads0.get(tid)?.ms ?? 0));
      console.log(`${side}: CPU per op by thread: ${[...perThread].filter(([, ms]) => ms > 0).map(([name, ms]) => `${name} ${(ms / n).toFixed(3)} ms`).join(', ')}`);
      // 256-byte mean interval: fine enough for a 1 KiB round trip's few hundred allocations.
      await heap.post('HeapProfiler.startSampling', {
        samplingInterval: 256,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      } as never);
      await sides[side](perBatch * batches);
      const { profile } = (await heap.post('HeapProfiler.stopSampling')) as unknown as { profile: SamplingProfile };
      console.log(summariseAllocations(side, profile, perBatch * batches));
      if (values.prof !== undefined) await writeFile(`${values.prof}.${side}.heapprofile`, JSON.stringify(profile));
    }
    heap.disconnect();
  }
  for (let i = 0; i < (values.alloc ? 0 : batches); i++) {
    const order: ('enc' | 'plain')[] = i % 2 === 0 ? ['enc', 'plain'] : ['plain', 'enc'];
    for (const side of order) {
      if (values.only !== undefined && values.only !== side) continue;
      (globalThis as { gc?: () => void }).gc?.();
      const r0 = await server.counters();
      const c0 = cpu();
      const s0 = serverCpu();
      const t0 = performance.now();
      const u0 = nowUs();
      await sides[side](perBatch);
      spans.push({ side, start: u0, end: nowUs() });
      const ms = performance.now() - t0;
      const r1 = await server.counters();
      rates[side].push((perBatch * 1000) / ms);
      console.log(`${side} ${((perBatch * 1000) / ms).toFixed(0)} ops/s, ${(ms / perBatch).toFixed(3)} ms/op, cpu ${((cpu() - c0) / perBatch).toFixed(3)} ms/op, server cpu ${((serverCpu() - s0) / perBatch).toFixed(3)} ms/op, ${((r1.requests - r0.requests) / perBatch).toFixed(2)} req/op, ${((r1.connections - r0.connections) / perBatch).toFixed(2)} new conn/op`);
    }
  }
  if (session !== undefined && values.prof !== undefined && !values.alloc) {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(values.prof, JSON.stringify({ ...profile, smallOnceSpans: spans, smallOnceOpsPerBatch: perBatch }));
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const e = median(rates.enc);
  const p = median(rates.plain);
  console.log(`median (${values.key}): enc ${e.toFixed(0)} ops/s, plain ${p.toFixed(0)} ops/s, ratio ${(e / p).toFixed(2)}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  await kms?.close();
  await server.close();
}
