/**
 * End-to-end rows (issue 8 §2, §3): `EncryptionClient` ÷ plain `ali-oss` on the same bytes, through the embedded
 * server (memory store, in its own process): put, get, put+get, ranged get of 1 KiB at random offsets, requests per
 * operation, the CRC-64's share of a GET, and a streaming file round trip in child processes with peak RSS. The
 * "cached unwrap" rows measure the opt-in `CachingMasterKey` (warm cache), not the default client.
 *
 * Both sides pay the same server; the server rows say how much of each figure that is (a slow server makes every
 * ratio here look closer to 1 than the client alone would be).
 */

import OSS from 'ali-oss';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EncryptionClient as EncryptionClientType } from '../../src/client.js';
import type { FileRoundTripArgs } from '../cases/file-round-trip.js';
import type { BenchContext, RowGroup } from '../lib/context.js';
import { timed, type Sample, type Side, type Target } from '../lib/measure.js';
import { runCaseInChild, type ServerProcess } from '../lib/processes.js';
import { countingRequests } from '../lib/requests.js';
import { formatSize } from '../lib/units.js';
import { loadClientCrc64 } from './crc64.js';
import { plainClient, plainGet, plainPut } from './server.js';

const SMALL = 64 * 1024;
const LARGE = 256 * 1024 * 1024;
const RANGE = 1024;
const SMALL_TARGET: Target = { op: '<=', value: 1.1, source: 'issue 8 §3: small-object put/get latency within 10 % of plain ali-oss' };
const LARGE_TARGET: Target = { op: '<=', value: 1.15, source: 'issue 8 §3: end-to-end put+get of 256 MiB ≤ 1.15 × plain ali-oss' };
const CRC_TARGET: Target = { op: '<=', value: 0.15, source: 'issue 8 §3: CRC64 ≤ 15 % of an end-to-end GET' };

/** The EncryptionClient class, or why it cannot be used. */
async function loadClient(): Promise<typeof EncryptionClientType | string> {
  try {
    const mod = await import('../../src/client.js');
    return typeof mod.EncryptionClient === 'function' ? mod.EncryptionClient : 'src/client.ts exports no EncryptionClient';
  } catch (e) {
    return `src/client.ts cannot be loaded (${e instanceof Error ? e.message : String(e)})`;
  }
}

function seconds(s: Sample | number): number {
  return typeof s === 'number' ? s : s.seconds;
}

/** `batch` ranged GETs of 1 KiB at random offsets (fresh offsets per run, the same list for both sides). */
function rangedOffsets(size: number, count: number): number[] {
  return Array.from({ length: count }, () => Math.floor(Math.random() * (size - RANGE + 1)));
}

/** The end-to-end row group. */
export const e2eRows: RowGroup = {
  name: 'e2e',
  title: 'end to end through the embedded server: EncryptionClient ÷ plain ali-oss',
  async run(ctx: BenchContext): Promise<void> {
    const Client = await loadClient();
    if (typeof Client === 'string') {
      ctx.skip('e2e', 'e2e.*', Client);
      return;
    }
    const crc = await loadClientCrc64();
    const server: ServerProcess = await ctx.server('oss-memory');
    const oss: OSS = plainClient(server);
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const { RsaMasterKey } = await import('../../src/keys/rsa.js');
    const rsaKey = new RsaMasterKey({ privateKey: pair.privateKey });
    const client = new Client(oss, { masterKey: rsaKey });
    // The opt-in unwrap cache (src/keys/caching-master-key.ts) for the "cached unwrap" rows only; the other rows
    // measure the default client, which has no cache.
    const { CachingMasterKey } = await import('../../src/keys/caching-master-key.js');
    const cachedClient = new Client(oss, { masterKey: new CachingMasterKey(rsaKey, { maxEntries: 64, maxAgeMs: 10 * 60_000 }) });
    const counted = (side: Side): Side => countingRequests(server, side);

    for (const size of ctx.options.objectSizes) {
      const label = formatSize(size);
      const tag = label.replace(' ', '');
      const body = randomBytes(size);
      const encKey = `e2e/enc/${size}`;
      const plainKey = `e2e/plain/${size}`;
      const encGet: Side = async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) {
            const r = await client.get(encKey);
            if (r.content.length !== size) throw new Error(`GET ${encKey}: ${r.content.length} bytes, expected ${size}`);
          }
        });
      const cachedGet: Side = async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) {
            const r = await cachedClient.get(encKey);
            if (r.content.length !== size) throw new Error(`cached GET ${encKey}: ${r.content.length} bytes, expected ${size}`);
          }
        });
      const encPut: Side = async (batch) =>
        timed(async () => {
          for (let i = 0; i < batch; i++) await client.put(encKey, body);
        });
      const small = size <= SMALL;

      await ctx.compare({
        group: 'e2e',
        id: `e2e.put.${tag}`,
        label: `PUT ${label}`,
        subject: 'EncryptionClient.put(buffer)',
        baseline: 'ali-oss put(buffer)',
        metric: 'time',
        unit: 'B',
        workPerUnit: size,
        a: counted(encPut),
        b: counted(plainPut(oss, plainKey, body)),
        ...(small ? { target: SMALL_TARGET } : {}),
      });
      // Issue 14 item 2: the opt-in plaintext MD5 (one more pass over the plaintext) against the default put.
      await ctx.compare({
        group: 'e2e',
        id: `e2e.put-md5.${tag}`,
        label: `PUT ${label} with contentMd5`,
        subject: 'EncryptionClient.put(buffer, { contentMd5: true })',
        baseline: 'EncryptionClient.put(buffer)',
        metric: 'time',
        unit: 'B',
        workPerUnit: size,
        a: async (batch) =>
          timed(async () => {
            for (let i = 0; i < batch; i++) await client.put(encKey, body, { contentMd5: true });
          }),
        b: encPut,
        note: 'cost of storing the plaintext MD5 (SECURITY.md: detects accidents, not attackers)',
      });
      await ctx.compare({
        group: 'e2e',
        id: `e2e.get.${tag}`,
        label: `GET ${label}`,
        subject: 'EncryptionClient.get → Buffer',
        baseline: 'ali-oss get → Buffer',
        metric: 'time',
        unit: 'B',
        workPerUnit: size,
        a: counted(encGet),
        b: counted(plainGet(oss, plainKey, size)),
        ...(small ? { target: SMALL_TARGET } : {}),
      });
      if (size <= RANGE) {
        await ctx.compare({
          group: 'e2e',
          id: `e2e.get-cached.${tag}`,
          label: `GET ${label}, cached unwrap`,
          subject: 'EncryptionClient.get → Buffer, masterKey: CachingMasterKey (opt-in, warm)',
          baseline: 'ali-oss get → Buffer',
          metric: 'time',
          unit: 'B',
          workPerUnit: size,
          a: counted(cachedGet),
          b: counted(plainGet(oss, plainKey, size)),
          target: SMALL_TARGET,
          note: 'opt-in CachingMasterKey, not the default: every read after the first skips the RSA unwrap',
        });
      }
      if (size >= 1024 * 1024) {
        await ctx.compare({
          group: 'e2e',
          id: `e2e.putget.${tag}`,
          label: `PUT+GET ${label}`,
          subject: 'EncryptionClient put then get (Buffer)',
          baseline: 'ali-oss put then get (Buffer)',
          metric: 'time',
          unit: 'B',
          workPerUnit: size,
          a: async (batch) => seconds(await encPut(batch)) + seconds(await encGet(batch)),
          b: async (batch) => seconds(await plainPut(oss, plainKey, body)(batch)) + seconds(await plainGet(oss, plainKey, size)(batch)),
          ...(size >= LARGE ? { target: LARGE_TARGET } : {}),
        });
      }
      if (size >= 4 * RANGE) {
        const offsets = rangedOffsets(size, 64);
        const plainRanged: Side = counted(async (batch) =>
          timed(async () => {
            for (let i = 0; i < batch; i++) {
              const start = offsets[i % offsets.length]!;
              const r = await oss.get(plainKey, { headers: { Range: `bytes=${start}-${start + RANGE - 1}` } });
              if ((r.content as Buffer).length !== RANGE) throw new Error(`ranged GET: ${(r.content as Buffer).length} bytes`);
            }
          }),
        );
        await ctx.compare({
          group: 'e2e',
          id: `e2e.range.${tag}`,
          label: `ranged GET 1 KiB of ${label}`,
          subject: 'EncryptionClient.get with { range } (random offsets)',
          baseline: 'ali-oss get with Range: bytes=… (same offsets)',
          metric: 'time',
          unit: 'op',
          workPerUnit: 1,
          a: counted(async (batch) =>
            timed(async () => {
              for (let i = 0; i < batch; i++) {
                const start = offsets[i % offsets.length]!;
                const r = await client.get(encKey, { range: { start, end: start + RANGE - 1 } });
                if (r.content.length !== RANGE) throw new Error(`ranged GET: ${r.content.length} bytes`);
              }
            }),
          ),
          b: plainRanged,
          target: SMALL_TARGET,
        });
        await ctx.compare({
          group: 'e2e',
          id: `e2e.range-cached.${tag}`,
          label: `ranged GET 1 KiB of ${label}, cached unwrap`,
          subject: 'EncryptionClient.get with { range } (random offsets), masterKey: CachingMasterKey (opt-in, warm)',
          baseline: 'ali-oss get with Range: bytes=… (same offsets)',
          metric: 'time',
          unit: 'op',
          workPerUnit: 1,
          a: counted(async (batch) =>
            timed(async () => {
              for (let i = 0; i < batch; i++) {
                const start = offsets[i % offsets.length]!;
                const r = await cachedClient.get(encKey, { range: { start, end: start + RANGE - 1 } });
                if (r.content.length !== RANGE) throw new Error(`cached ranged GET: ${r.content.length} bytes`);
              }
            }),
          ),
          b: plainRanged,
          target: SMALL_TARGET,
          note: 'opt-in CachingMasterKey, not the default: every read of the object after the first skips the RSA unwrap',
        });
      }
      if (size >= 1024 * 1024) {
        if (typeof crc === 'string') {
          ctx.skip('e2e', `e2e.crc-share.${tag}`, crc);
        } else {
          const chunks: Buffer[] = [];
          for (let i = 0; i < size; i += 64 * 1024) chunks.push(body.subarray(i, i + 64 * 1024));
          await ctx.compare({
            group: 'e2e',
            id: `e2e.crc-share.${tag}`,
            label: `CRC-64 share of GET ${label}`,
            subject: `src/transfer/crc64.ts over ${label} (64 KiB chunks)`,
            baseline: 'EncryptionClient.get of the same object',
            metric: 'time',
            unit: 'B',
            workPerUnit: size,
            a: async (batch) =>
              timed(() => {
                for (let i = 0; i < batch; i++) {
                  const h = new crc.Crc64();
                  for (const c of chunks) h.update(c);
                  h.digest();
                }
              }),
            b: encGet,
            target: CRC_TARGET,
            note: 'the ratio is the CRC time as a fraction of the whole GET it is part of',
          });
        }
      }
      await client.delete(encKey);
      await oss.delete(plainKey);
    }

    // Streaming file round trip, one child process per run: time and the client's peak RSS (the peers' table).
    const largest = Math.max(...ctx.options.objectSizes);
    if (largest >= 1024 * 1024) {
      const dir = await mkdtemp(join(tmpdir(), 'oss-cse-bench-files-'));
      try {
        const source = join(dir, 'source.bin');
        await writeFile(source, randomBytes(largest));
        const args = (key: string): FileRoundTripArgs => ({
          endpoint: server.endpoint,
          bucket: server.bucket,
          accessKeyId: server.credentials.accessKeyId,
          accessKeySecret: server.credentials.accessKeySecret,
          source,
          target: join(dir, `${key.replace(/\//g, '_')}.out`),
          key,
          privateKeyPem,
        });
        const caseModule = new URL('../cases/file-round-trip.ts', import.meta.url);
        const label = formatSize(largest);
        // A file with contentMd5 is read twice (once for the MD5, once for the upload): in-process, same client.
        const filePut = (contentMd5: boolean): Side => async (batch) =>
          timed(async () => {
            for (let i = 0; i < batch; i++) await client.put('e2e/file-md5', source, { contentMd5 });
          });
        await ctx.compare({
          group: 'e2e',
          id: `e2e.put-md5.file.${label.replace(' ', '')}`,
          label: `file PUT ${label} with contentMd5`,
          subject: 'EncryptionClient.put(path, { contentMd5: true })',
          baseline: 'EncryptionClient.put(path)',
          metric: 'time',
          unit: 'B',
          workPerUnit: largest,
          a: filePut(true),
          b: filePut(false),
          note: 'the file is read twice: once for its MD5, once for the upload',
        });
        await client.delete('e2e/file-md5');
        await ctx.compare({
          group: 'e2e',
          id: `e2e.file.${label.replace(' ', '')}`,
          label: `file PUT+GET ${label}, child process`,
          subject: 'EncryptionClient put(path) + get(name, path)',
          baseline: 'ali-oss put(path) + get(name, path)',
          metric: 'time',
          unit: 'B',
          workPerUnit: largest,
          batch: 1,
          a: async () => runCaseInChild(caseModule, 'encryptedFileRoundTrip', args('e2e/file-enc')),
          b: async () => runCaseInChild(caseModule, 'plainFileRoundTrip', args('e2e/file-plain')),
          ...(largest >= LARGE ? { target: LARGE_TARGET } : {}),
          note: 'peak RSS is the whole child process (Node + tsx loader included); peers: oss2 41 MiB, Go 12 MiB (peer-performance.md)',
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  },
};
