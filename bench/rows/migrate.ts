/**
 * Bulk migration rows (issue 18 "Done when": "objects per second migrated, 10,000 × 16 KiB, 1 vs 4 shards").
 *
 * Each timed run migrates a fresh prefix of plaintext 16 KiB objects to encrypted ones with the real CLI, as workers
 * would run it: A = four `oss-cse migrate --shard i/4` processes at once, B = one `oss-cse migrate` process. Both
 * pay their process start-up (a worker does too); the seeding of the objects and their removal afterwards are not
 * timed. The server is the embedded one in its own process (memory store), so on this 2-core machine the four
 * workers share one core with each other and the other with the server: the row shows how far sharding scales when
 * the CPU, not the network, is the limit. A second row runs the same against a server that waits BENCH_LATENCY_MS
 * before each request, as a remote endpoint would: there the workers overlap their round trips. Every run checks that the workers together migrated every object exactly
 * once (the sum of their `--json` summaries) before its time counts.
 */

import OSS from 'ali-oss';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, RowGroup } from '../lib/context.js';
import type { Sample, Side } from '../lib/measure.js';
import { BENCH_LATENCY_MS } from '../lib/server-protocol.js';
import { isolatedCliEnv } from '../lib/cli-env.js';
import { plainClient } from './server.js';

const CLI = fileURLToPath(new URL('../../bin/oss-cse.js', import.meta.url));
const OBJECT_SIZE = 16 * 1024;
/** Uploads and deletes in flight while seeding and cleaning up (untimed). */
const SEED_PARALLEL = 16;

interface MigrateSummary {
  readonly migrated: number;
  readonly failed: number;
}

/**
 * Runs one `oss-cse migrate` process and returns its `--json` summary.
 * @throws Error when it exits other than with 0 or prints no summary (its stderr in the message)
 */
async function runMigrate(args: readonly string[], env: NodeJS.ProcessEnv): Promise<MigrateSummary> {
  const child = spawn(process.execPath, [CLI, 'migrate', ...args, '--json', '--quiet'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`oss-cse migrate ${args.join(' ')} exited with ${code}\n${stderr}`);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const summary = JSON.parse(last) as Partial<MigrateSummary>;
  if (typeof summary.migrated !== 'number' || typeof summary.failed !== 'number') throw new Error(`no summary from oss-cse migrate: ${stdout}`);
  return { migrated: summary.migrated, failed: summary.failed };
}

/** Runs `work` over `items` with at most `parallel` in flight. */
async function eachLimited<T>(items: readonly T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
}

/** One measured comparison: `count` objects on `server`, four shard processes ÷ one. */
async function migrateRow(ctx: BenchContext, kind: 'oss-memory' | 'oss-memory-latency', count: number, dir: string, publicKeyFile: string): Promise<void> {
  const server = await ctx.server(kind);
  const oss: OSS = plainClient(server);
  const env = isolatedCliEnv(server, join(dir, 'home'));
  const body = randomBytes(OBJECT_SIZE);
  let runNumber = 0;

  /** One side: seed a fresh prefix (untimed), migrate it with `shards` processes (timed), remove it (untimed). */
  const side =
    (shards: number): Side =>
    async (batch): Promise<Sample> => {
      if (batch !== 1) throw new Error(`the migrate rows run one job per timed run, not ${batch}`);
      const prefix = `migrate/run-${++runNumber}-${shards}/`;
      const keys = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);
      await eachLimited(keys, SEED_PARALLEL, async (key) => {
        await oss.put(key, body, { headers: { 'x-oss-meta-origin': 'bench' }, mime: 'application/octet-stream' });
      });
      const common = [`oss://${server.bucket}/${prefix}`, '--endpoint', server.endpoint, '--public-key', publicKeyFile];
      const before = await server.counters();
      const started = process.hrtime.bigint();
      const summaries = await Promise.all(
        Array.from({ length: shards }, (_, i) => runMigrate(shards === 1 ? common : [...common, '--shard', `${i}/${shards}`], env)),
      );
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const after = await server.counters();
      const migrated = summaries.reduce((n, s) => n + s.migrated, 0);
      const failed = summaries.reduce((n, s) => n + s.failed, 0);
      if (migrated !== count || failed !== 0) throw new Error(`${shards} shard(s) migrated ${migrated} of ${count} objects, ${failed} failed`);
      await eachLimited(
        Array.from({ length: Math.ceil(keys.length / 1000) }, (_, i) => keys.slice(i * 1000, (i + 1) * 1000)),
        4,
        async (chunk) => {
          await oss.deleteMulti(chunk, { quiet: true });
        },
      );
      // Per object, not per job, so that the report's "req/op" reads as requests per migrated object.
      return { seconds, requests: (after.requests - before.requests) / count, connections: (after.connections - before.connections) / count };
    };

  const latency = kind === 'oss-memory-latency';
  await ctx.compare({
    group: 'migrate',
    id: `migrate.plaintext.${count}x16KiB.shards4${latency ? `.latency${BENCH_LATENCY_MS}ms` : ''}`,
    label: `objects per second migrated, ${count.toLocaleString('en-US')} × 16 KiB, 1 vs 4 shards${latency ? `, ${BENCH_LATENCY_MS} ms per request` : ''}`,
    subject: 'four `oss-cse migrate --shard i/4` processes at once (plaintext → encrypted, RSA public key)',
    baseline: 'one `oss-cse migrate` process over the same kind of prefix',
    metric: 'speed',
    unit: 'op',
    workPerUnit: count,
    batch: 1,
    a: side(4),
    b: side(1),
    note: latency
      ? `as the row above, against a server that waits ${BENCH_LATENCY_MS} ms before each request (a remote OSS endpoint): what sharding buys when round trips, not the CPU, set the pace`
      : 'rates are objects/s and req/op is server requests per object; process start-up included on both sides, seeding and clean-up not timed; the CLI runs from dist/ (npm run build first)',
  });
}

/** The migration row group. */
export const migrateRows: RowGroup = {
  name: 'migrate',
  title: 'bulk migration: plaintext → encrypted objects per second, 4 shard processes ÷ 1 process',
  async run(ctx: BenchContext): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'oss-cse-bench-migrate-'));
    try {
      const pair = generateKeyPairSync('rsa', { modulusLength: ctx.options.rsaBits });
      const publicKeyFile = join(dir, 'public.pem');
      await writeFile(publicKeyFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
      await migrateRow(ctx, 'oss-memory', ctx.options.migrateObjects, dir, publicKeyFile);
      // A tenth of the objects: at BENCH_LATENCY_MS per request one process migrates only some 50 objects a second.
      await migrateRow(ctx, 'oss-memory-latency', Math.max(20, Math.round(ctx.options.migrateObjects / 10)), dir, publicKeyFile);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
