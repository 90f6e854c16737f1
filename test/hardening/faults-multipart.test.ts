// Seeded fault suites for the parallel transfers (issue 9, item 2): `multipartUpload` (bytes or file, with or without
// a checkpoint) and `resumableDownload` (with or without a checkpoint) under a random schedule of server faults. Runs
// go in batches: a batch runs under faults, then the faults are cleared and every failed run is run again (resumed
// from its checkpoint when it has one), which must finish. Invariants checked on every run:
// - the object / file is complete and byte-identical, or absent: never partial at the final path;
// - an upload that failed without a checkpoint leaves no multipart upload behind; a download that failed without a
//   checkpoint leaves nothing in the target directory (with one, only its temporary file);
// - requests are bounded by (steps × (retries + 1)); a resumed transfer finishes and is byte-identical;
// - no socket stays in use after the call; no descriptor leaks and no rejection or exception goes unhandled, checked
//   after every batch and at the end of each suite;
// - every step has a node:test timeout (about 8–10× its measured duration), so a hung run fails instead of stalling.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultPlan } from '../../server/src/index.js';
import { isCseError } from '../../src/errors.js';
import { MultipartUploadError } from '../../src/transfer/multipart-upload.js';
import {
  BASE_SEED,
  ONLY,
  SLOW,
  between,
  faultSuite,
  newCounters,
  objectExists,
  report,
  rng,
  runClient,
  seededBytes,
  timeoutFor,
  type RunClient,
  type SuiteCounters,
} from './support.js';

const RUNS = SLOW ? 1000 : 100;
const BATCH = 10;
const PART = 102_400; // OSS's smallest part
/** Most retries a run allows (runs draw 0..MAX_RETRIES: with 0, one fault fails a transfer, which is then resumed). */
const MAX_RETRIES = 2;
/**
 * Timeouts. Measured at 100 runs on a 2-core VM: each test 6.5–7.5 s, the download seeding hook 2 s, the whole file
 * 17 s. About 8–10× that, scaled with the run count.
 */
const TEST_TIMEOUT = timeoutFor(60_000, RUNS, 100);
const HOOK_TIMEOUT = timeoutFor(20_000, RUNS, 100);
const ctx = faultSuite('the multipart fault suites', HOOK_TIMEOUT);

/** One run: the faulted attempt, then (faults cleared) the retry / resume. Both return whether they succeeded. */
interface Run {
  first(): Promise<boolean>;
  again(): Promise<void>;
}

/**
 * Runs `RUNS` runs in batches of `BATCH` under `plan(batch)`, then again without faults for the failed ones, checks
 * the process after each batch, and fails with every failing run's reproduction line.
 */
async function batches(suite: string, plan: (batchSeed: number) => FaultPlan, make: (index: number, seed: number) => Run): Promise<void> {
  const failures: string[] = [];
  const where = (i: number): string => `${suite} run ${i} (reproduce: HARDENING_SEED=${BASE_SEED} HARDENING_ONLY=${i})`;
  for (let b = 0; b < RUNS; b += BATCH) {
    const indices = [...Array(Math.min(BATCH, RUNS - b)).keys()].map((k) => b + k).filter((i) => ONLY === undefined || ONLY.has(i));
    const runs = new Map(indices.map((i) => [i, make(i, BASE_SEED + i)]));
    // The plan's seed is the batch's; the run's key is in every decision, so a run alone meets the same faults.
    ctx.h.faults.set(plan(BASE_SEED + b));
    const failed: number[] = [];
    try {
      await Promise.all(
        [...runs].map(async ([i, run]) => {
          try {
            if (!(await run.first())) failed.push(i);
          } catch (e) {
            failures.push(`${where(i)}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
          }
        }),
      );
    } finally {
      ctx.h.faults.clear();
    }
    await Promise.all(
      failed.map(async (i) => {
        try {
          await runs.get(i)?.again();
        } catch (e) {
          failures.push(`${where(i)}, after the faults: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        }
      }),
    );
    try {
      await ctx.assertProcessClean(`${suite}, after runs ${b}..${b + BATCH - 1}`);
    } catch (e) {
      // A leaked descriptor or a trapped rejection would fail every later batch too: stop here.
      failures.push(e instanceof Error ? e.message : String(e));
      break;
    }
  }
  if (failures.length > 0) throw new Error(`${failures.length} runs failed:\n${failures.slice(0, 5).join('\n\n')}`);
}

function tally(c: SuiteCounters, key: string, client: RunClient, ok: boolean): void {
  c.requests += client.agent.requestCount;
  c.faultsInjected += ctx.appliedFor(key).length;
  c.runs++;
  if (ok) c.succeeded++;
  else c.failedTyped++;
}

describe('multipart upload under faults', () => {
  const counters = newCounters();

  test(`${RUNS} seeded multipart uploads: the object is whole or absent, no upload is left, a resumed upload finishes`, { timeout: TEST_TIMEOUT }, async () => {
    const dir = join(ctx.h.dir, 'mpu');
    await mkdir(dir);
    const plan = (seed: number): FaultPlan => ({
      seed,
      rules: [
        // The Complete commits and its answer is lost / replaced by a 500: the client must notice the object exists.
        { fault: 'lost-response', operations: ['CompleteMultipartUpload'], keyPrefix: 'mpu/', probability: 0.1 },
        { fault: { kind: 'internal-error', afterCommit: true }, operations: ['UploadPart'], keyPrefix: 'mpu/', probability: 0.04 },
      ],
      random: {
        seed,
        rate: 0.15,
        keyPrefix: 'mpu/',
        operations: ['InitiateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'AbortMultipartUpload', 'ListParts'],
        kinds: ['internal-error', 'service-unavailable', 'reset-request', 'slow', 'wrong-crc', 'wrong-etag'],
        maxDelayMs: 20,
      },
    });
    await batches('multipart upload', plan, (i, seed) => {
      const r = rng(seed);
      const key = `mpu/${i}`;
      const data = seededBytes(between(r, PART + 1, 4 * PART - 5), seed);
      const parts = Math.ceil(data.length / PART);
      const parallel = between(r, 1, 3);
      const retries = between(r, 0, MAX_RETRIES);
      const useCheckpoint = r() < 0.5;
      const source = join(dir, `src-${i}`);
      const checkpoint = join(dir, `cp-${i}.json`);
      const options = { partSize: PART, parallel, retries, ...(useCheckpoint ? { checkpoint } : {}) };
      const check = async (what: string): Promise<void> => {
        assert.ok(await objectExists(ctx.verify.oss, key), `${what}: the object is missing`);
        const stored = (await ctx.verify.client.get(key)).content;
        assert.ok(stored.equals(data), `${what}: the object differs`);
        counters.bytesVerified += stored.length;
        assert.deepEqual((await ctx.verify.client.listUploads({ prefix: key })).uploads, [], `${what}: an upload is left`);
      };
      return {
        first: async () => {
          await writeFile(source, data);
          const c = runClient(ctx.h.server);
          let ok = false;
          try {
            await c.client.multipartUpload(key, useCheckpoint ? source : data, options);
            ok = true;
          } catch (e) {
            assert.ok(isCseError(e) && ['ERR_CSE_MULTIPART', 'ERR_CSE_TRANSFER', 'ERR_CSE_INTEGRITY'].includes(e.cseCode), `failed with ${String(e)}`);
            const faults = ctx.appliedFor(key).join(',');
            assert.ok(faults !== '', `failed without any fault: ${String(e)}`);
            // Never partial: either no object, or the whole right one (a Complete that committed and was not answered).
            if (await objectExists(ctx.verify.oss, key)) {
              const stored = (await ctx.verify.client.get(key)).content;
              assert.ok(stored.equals(data), `faults ${faults}: a failed upload left a partial or foreign object`);
            }
            const left = (await ctx.verify.client.listUploads({ prefix: key })).uploads;
            if (!useCheckpoint && e instanceof MultipartUploadError && e.uploadAborted) assert.deepEqual(left, [], `faults ${faults}: aborted, yet listed`);
          } finally {
            await ctx.assertNoSocketInUse(c, key);
            c.close();
          }
          // Init, Complete, Abort, a listing and each part: each at most retries + 1 attempts.
          assert.ok(c.agent.requestCount <= (parts + 4) * (retries + 1), `${c.agent.requestCount} requests for ${parts} parts`);
          tally(counters, key, c, ok);
          if (ok) await check(`faults ${ctx.appliedFor(key).join(',') || 'none'}`);
          return ok;
        },
        again: async () => {
          const c = runClient(ctx.h.server);
          try {
            // With a checkpoint, the same call continues the kept upload; without, it starts over.
            const r2 = await c.client.multipartUpload(key, useCheckpoint ? source : data, options);
            if (r2.resumed) counters.resumed++;
            if (!useCheckpoint) {
              // A failed upload without a checkpoint may only be left when aborting it failed too; clean it like a user.
              for (const u of (await ctx.verify.client.listUploads({ prefix: key })).uploads) {
                if (u.uploadId !== r2.uploadId) await ctx.verify.client.abortMultipartUpload(key, u.uploadId);
              }
            }
          } finally {
            await ctx.assertNoSocketInUse(c, key);
            c.close();
          }
          await check('after the faults');
        },
      };
    });
    report('multipart upload', counters);
    assert.ok(counters.runs > 0 && counters.faultsInjected > counters.runs / 4 && counters.succeeded > 0 && counters.failedTyped > 0);
    assert.ok(counters.resumed > 0, 'some upload was resumed from its checkpoint');
    await ctx.assertProcessClean('multipart upload');
  });
});

describe('resumable download under faults', () => {
  const counters = newCounters();
  const objects = new Map<number, Buffer>();

  before(
    async () => {
      for (let i = 0; i < RUNS; i++) {
        if (ONLY !== undefined && !ONLY.has(i)) continue;
        const data = seededBytes(between(rng(BASE_SEED + i), 1, 3 * PART), BASE_SEED + i);
        if (data.length > PART) await ctx.verify.client.multipartUpload(`dl/${i}`, data, { partSize: PART });
        else await ctx.verify.client.put(`dl/${i}`, data);
        objects.set(i, data);
      }
    },
    { timeout: HOOK_TIMEOUT },
  );

  test(`${RUNS} seeded resumable downloads: the file is whole or absent, a resumed download finishes`, { timeout: TEST_TIMEOUT }, async () => {
    const plan = (seed: number): FaultPlan => ({
      random: {
        seed,
        rate: 0.15,
        keyPrefix: 'dl/',
        operations: ['HeadObject', 'GetObject'],
        kinds: ['internal-error', 'service-unavailable', 'reset-response', 'truncate', 'slow', 'wrong-crc', 'wrong-etag', 'extra-bytes', 'lying-range'],
        maxDelayMs: 20,
      },
    });
    await batches('resumable download', plan, (i, seed) => {
      const r = rng(seed ^ 0x2545f491);
      const key = `dl/${i}`;
      const data = objects.get(i) ?? Buffer.alloc(0);
      const partSize = between(r, 4096, 120_000);
      const parts = Math.max(1, Math.ceil(data.length / partSize));
      const retries = between(r, 0, MAX_RETRIES);
      const useCheckpoint = r() < 0.5;
      const dir = join(ctx.h.dir, 'dl', String(i));
      const target = join(dir, 'out.bin');
      const checkpoint = join(ctx.h.dir, 'dl', `cp-${i}.json`);
      const options = { partSize, parallel: between(r, 1, 4), retries, ...(useCheckpoint ? { checkpoint } : {}) };
      const check = async (what: string): Promise<void> => {
        const got = await readFile(target);
        assert.ok(got.equals(data), `${what}: the file differs`);
        assert.deepEqual(await readdir(dir), ['out.bin'], `${what}: other files left in the directory`);
        counters.bytesVerified += got.length;
      };
      return {
        first: async () => {
          await mkdir(dir, { recursive: true });
          const c = runClient(ctx.h.server);
          let ok = false;
          try {
            await c.client.resumableDownload(key, target, options);
            ok = true;
          } catch (e) {
            assert.ok(isCseError(e) && ['ERR_CSE_TRANSFER', 'ERR_CSE_INTEGRITY'].includes(e.cseCode), `failed with ${String(e)}`);
            const faults = ctx.appliedFor(key).join(',');
            assert.ok(faults !== '', `failed without any fault: ${String(e)}`);
            const left = await readdir(dir);
            assert.ok(!left.includes('out.bin'), `faults ${faults}: a failed download left a file at the target`);
            if (!useCheckpoint) assert.deepEqual(left, [], `faults ${faults}: files left without a checkpoint`);
            else assert.ok(left.length <= 1, `faults ${faults}: ${left.join(', ')} left`);
          } finally {
            await ctx.assertNoSocketInUse(c, key);
            c.close();
          }
          // A HEAD and each range: each at most retries + 1 attempts.
          assert.ok(c.agent.requestCount <= (parts + 1) * (retries + 1), `${c.agent.requestCount} requests for ${parts} ranges`);
          tally(counters, key, c, ok);
          if (ok) await check(`faults ${ctx.appliedFor(key).join(',') || 'none'}`);
          return ok;
        },
        again: async () => {
          const c = runClient(ctx.h.server);
          try {
            const r2 = await c.client.resumableDownload(key, target, options);
            if (r2.resumed) counters.resumed++;
          } finally {
            await ctx.assertNoSocketInUse(c, key);
            c.close();
          }
          await check('after the faults');
        },
      };
    });
    report('resumable download', counters);
    assert.ok(counters.runs > 0 && counters.faultsInjected > counters.runs / 4 && counters.succeeded > 0 && counters.failedTyped > 0);
    assert.ok(counters.resumed > 0, 'some download was resumed from its checkpoint');
    await ctx.assertProcessClean('resumable download');
  });
});
