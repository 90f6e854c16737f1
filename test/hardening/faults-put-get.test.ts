// Seeded fault suites for single-request transfers through the real client (issue 9, item 2): `put` (bytes, file,
// stream; new object or overwrite), whole `get` (memory, file path, stream) and ranged `get` (every range form, both
// range behaviours), each under a random schedule of server faults. Invariants checked on every run:
// - the object is complete and byte-identical (the new version, or the old one intact) or absent, never partial;
// - a read returns exactly the plaintext of the range the response reports, or a CseError with an expected code;
// - a download to a file leaves the complete file or nothing at all in its directory (no temporary files either);
// - requests are bounded (these calls never retry: one request per put/get, two for the one documented refetch);
// - no socket stays in use after the call; no descriptor is leaked and no rejection or exception goes unhandled,
//   checked every WINDOW runs and at the end of each suite;
// - every step has a node:test timeout (about 10× its measured duration), so a hung run fails instead of stalling.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FaultKind } from '../../server/src/index.js';
import { isCseError } from '../../src/errors.js';
import { parseRangeHeader, resolveRange } from '../../src/format/range.js';
import {
  BASE_SEED,
  SLOW,
  between,
  faultSuite,
  newCounters,
  objectExists,
  report,
  rng,
  runClient,
  runSeeded,
  seededBytes,
  timeoutFor,
  type SuiteCounters,
} from './support.js';

const RUNS = SLOW ? 1000 : 100;
const CONCURRENCY = 8;
/** Runs between two descriptor / trap checks. */
const WINDOW = 25;
/**
 * Timeouts. Measured at 100 runs on a 2-core VM: each test 0.7–1.3 s, each seeding hook 0.3–0.6 s, the whole file
 * 6 s. About 10× that, scaled with the run count.
 */
const TEST_TIMEOUT = timeoutFor(15_000, RUNS, 100);
const HOOK_TIMEOUT = timeoutFor(10_000, RUNS, 100);
const ctx = faultSuite('the put/get fault suites', HOOK_TIMEOUT);

/** Server-side request count and the verifying client's, to reconcile with the runs' own counts. */
function requestMark(): { server: number; verify: number } {
  return { server: ctx.h.faults.stats().requests, verify: ctx.verify.agent.requestCount };
}

/** Every request the server saw during a suite came from a run's client or the verifier: the bounds are complete. */
function assertRequestsReconcile(mark: { server: number; verify: number }, counters: SuiteCounters): void {
  const seen = ctx.h.faults.stats().requests - mark.server;
  assert.equal(seen, counters.requests + (ctx.verify.agent.requestCount - mark.verify), 'server-side request count = client-side counts');
}

/** runSeeded's windows: the process is checked after every WINDOW runs. */
const windows = (suite: string): { window: number; between: (done: number) => Promise<void> } => ({
  window: WINDOW,
  between: async (done) => ctx.assertProcessClean(`${suite}, after ${done} runs`),
});

function sizeFor(r: () => number): number {
  const roll = r();
  if (roll < 0.1) return 0;
  if (roll < 0.3) return between(r, 1, 64);
  if (roll < 0.7) return between(r, 65, 20_000);
  return between(r, 20_001, 300_000);
}

describe('put under faults', () => {
  const counters = newCounters();
  const existing = new Map<number, Buffer>();

  before(
    async () => {
      // Half the keys already hold an older version: a failed overwrite must leave it intact or replace it whole.
      for (let i = 0; i < RUNS; i += 2) {
        const old = seededBytes(between(rng(BASE_SEED - i), 1, 5000), BASE_SEED - i);
        await ctx.verify.client.put(`put/${i}`, old);
        existing.set(i, old);
      }
    },
    { timeout: HOOK_TIMEOUT },
  );

  test(`${RUNS} seeded puts: the object is the new version, the old one, or absent; never partial`, { timeout: TEST_TIMEOUT }, async () => {
    ctx.h.faults.set({
      seed: BASE_SEED,
      rules: [
        // Commits, then answers 500 / drops the answer: the object is there although the client saw a failure.
        { fault: { kind: 'internal-error', afterCommit: true }, operations: ['PutObject'], keyPrefix: 'put/', probability: 0.07 },
        { fault: 'lost-response', operations: ['PutObject'], keyPrefix: 'put/', probability: 0.07 },
      ],
      random: {
        seed: BASE_SEED,
        rate: 0.5,
        keyPrefix: 'put/',
        operations: ['PutObject'],
        kinds: ['internal-error', 'service-unavailable', 'reset-request', 'slow', 'wrong-crc', 'wrong-etag'],
        maxDelayMs: 30,
      },
    });
    const mark = requestMark();
    const dir = join(ctx.h.dir, 'put');
    await mkdir(dir);
    try {
      await runSeeded('put', RUNS, CONCURRENCY, async (i, seed) => {
        const r = rng(seed);
        const key = `put/${i}`;
        const data = seededBytes(sizeFor(r), seed);
        const mode = between(r, 0, 2);
        const c = runClient(ctx.h.server);
        let ok = false;
        try {
          const input =
            mode === 0 ? data : mode === 1 ? await writeSource(join(dir, `src-${i}`), data) : Readable.from([data.subarray(0, 7), data.subarray(7)]);
          const put = await c.client.put(key, input);
          assert.equal(put.size, data.length);
          ok = true;
        } catch (e) {
          assert.ok(isCseError(e) && ['ERR_CSE_TRANSFER', 'ERR_CSE_INTEGRITY'].includes(e.cseCode), `put failed with ${String(e)}`);
        } finally {
          await ctx.assertNoSocketInUse(c, key);
          c.close();
        }
        assert.ok(c.agent.requestCount <= 1, `a put sends one request, sent ${c.agent.requestCount}`);
        counters.requests += c.agent.requestCount;
        const faultsHere = ctx.appliedFor(key);
        counters.faultsInjected += faultsHere.length;
        counters.runs++;
        if (ok) counters.succeeded++;
        else counters.failedTyped++;
        // What is stored now, read without faults (GetObject is not in the plan).
        const old = existing.get(i);
        if (!(await objectExists(ctx.verify.oss, key))) {
          assert.ok(!ok && old === undefined, `faults ${faultsHere.join(',')}: the object is missing after ${ok ? 'a successful put' : 'a failed overwrite'}`);
          return;
        }
        const stored = (await ctx.verify.client.get(key)).content;
        counters.bytesVerified += stored.length;
        if (ok) assert.ok(stored.equals(data), `faults ${faultsHere.join(',')}: a successful put stored other bytes`);
        else assert.ok(stored.equals(data) || (old !== undefined && stored.equals(old)), `faults ${faultsHere.join(',')}: a failed put left a partial or foreign object`);
      }, windows('put'));
    } finally {
      ctx.h.faults.clear();
    }
    report('put', counters);
    assertRequestsReconcile(mark, counters);
    assert.equal(counters.runs, RUNS);
    assert.ok(counters.faultsInjected > RUNS / 4 && counters.succeeded > 0 && counters.failedTyped > 0, 'the schedule both failed and spared puts');
    await ctx.assertProcessClean('put');
  });
});

async function writeSource(path: string, data: Buffer): Promise<string> {
  await writeFile(path, data);
  return path;
}

/** Puts `count` objects under `prefix` with seeded sizes (no faults armed), returning their plaintexts. */
async function seedObjects(prefix: string, count: number): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  for (let i = 0; i < count; i++) {
    const seed = BASE_SEED + i;
    const data = seededBytes(sizeFor(rng(seed ^ 0x5bd1e995)), seed);
    await ctx.verify.client.put(`${prefix}${i}`, data);
    out.set(i, data);
  }
  return out;
}

const READ_KINDS: FaultKind[] = ['internal-error', 'service-unavailable', 'reset-response', 'truncate', 'slow', 'wrong-crc', 'wrong-etag', 'extra-bytes'];

describe('whole get under faults', () => {
  const counters = newCounters();
  let objects: Map<number, Buffer>;

  before(
    async () => {
      objects = await seedObjects('get/', RUNS);
    },
    { timeout: HOOK_TIMEOUT },
  );

  test(`${RUNS} seeded gets (memory, file, stream): exact plaintext or a typed error, and no partial file`, { timeout: TEST_TIMEOUT }, async () => {
    const mark = requestMark();
    ctx.h.faults.set({ random: { seed: BASE_SEED, rate: 0.6, keyPrefix: 'get/', operations: ['GetObject'], kinds: READ_KINDS, maxDelayMs: 30 } });
    try {
      await runSeeded('get', RUNS, CONCURRENCY, async (i, seed) => {
        const r = rng(seed);
        const key = `get/${i}`;
        const data = objects.get(i) ?? assert.fail('seeded');
        const mode = between(r, 0, 2);
        const dir = join(ctx.h.dir, 'get', String(i));
        await mkdir(dir, { recursive: true });
        const target = join(dir, 'out.bin');
        const c = runClient(ctx.h.server);
        let got: Buffer | undefined;
        try {
          if (mode === 0) got = (await c.client.get(key)).content;
          else if (mode === 1) {
            await c.client.get(key, target);
            got = await readFile(target);
          } else {
            const s = await c.client.getStream(key);
            const chunks: Buffer[] = [];
            for await (const chunk of s.stream) chunks.push(chunk as Buffer);
            got = Buffer.concat(chunks);
          }
        } catch (e) {
          assert.ok(isCseError(e) && ['ERR_CSE_TRANSFER', 'ERR_CSE_INTEGRITY'].includes(e.cseCode), `get failed with ${String(e)}`);
        } finally {
          await ctx.assertNoSocketInUse(c, key);
          c.close();
        }
        const faultsHere = ctx.appliedFor(key);
        if (got !== undefined) assert.ok(got.equals(data), `faults ${faultsHere.join(',')}: a get returned other bytes`);
        if (got === undefined && faultsHere.length === 0) assert.fail('a get failed without any fault');
        if (mode === 1) {
          const left = await readdir(dir);
          assert.deepEqual(left, got === undefined ? [] : ['out.bin'], `faults ${faultsHere.join(',')}: files left behind`);
        }
        assert.ok(c.agent.requestCount <= 1, `a whole get sends one request, sent ${c.agent.requestCount}`);
        counters.requests += c.agent.requestCount;
        counters.faultsInjected += faultsHere.length;
        counters.runs++;
        if (got !== undefined) {
          counters.succeeded++;
          counters.bytesVerified += got.length;
        } else counters.failedTyped++;
      }, windows('get'));
    } finally {
      ctx.h.faults.clear();
    }
    report('get', counters);
    assertRequestsReconcile(mark, counters);
    assert.equal(counters.runs, RUNS);
    assert.ok(counters.faultsInjected > RUNS / 4 && counters.succeeded > 0 && counters.failedTyped > 0);
    await ctx.assertProcessClean('get');
  });
});

/** A random range request: numbers, or a Range header of any form, either range behaviour. */
function rangeFor(r: () => number, size: number): { headers: Record<string, string>; header: string; standard: boolean } {
  const a = between(r, 0, size + 20);
  const b = a + between(r, 0, Math.max(1, Math.floor(size / 2)));
  const forms = [`bytes=${a}-${b}`, `bytes=${a}-`, `bytes=-${between(r, 0, size + 20)}`, `bytes=${a}-${a}`];
  const header = forms[between(r, 0, forms.length - 1)] ?? `bytes=${a}-${b}`;
  const standard = r() < 0.5;
  const headers: Record<string, string> = { Range: header };
  if (standard) headers['x-oss-range-behavior'] = 'standard';
  return { headers, header, standard };
}

describe('ranged get under faults', () => {
  const counters = newCounters();
  let objects: Map<number, Buffer>;

  before(
    async () => {
      objects = await seedObjects('range/', RUNS);
    },
    { timeout: HOOK_TIMEOUT },
  );

  test(`${RUNS} seeded ranged gets: the bytes of the range the answer reports, or a typed error`, { timeout: TEST_TIMEOUT }, async () => {
    const mark = requestMark();
    ctx.h.faults.set({
      random: { seed: BASE_SEED, rate: 0.6, keyPrefix: 'range/', operations: ['GetObject'], kinds: [...READ_KINDS, 'lying-range'], maxDelayMs: 30 },
    });
    try {
      await runSeeded('ranged get', RUNS, CONCURRENCY, async (i, seed) => {
        const r = rng(seed);
        const key = `range/${i}`;
        const data = objects.get(i) ?? assert.fail('seeded');
        const { headers, header, standard } = rangeFor(r, data.length);
        const expected = resolveRange(parseRangeHeader(header), data.length, standard);
        const toFile = r() < 0.3;
        const dir = join(ctx.h.dir, 'range', String(i));
        await mkdir(dir, { recursive: true });
        const target = join(dir, 'out.bin');
        const c = runClient(ctx.h.server);
        let got: Buffer | undefined;
        let reported: { start: number; end: number } | undefined;
        let status = 0;
        try {
          if (toFile) {
            const res = await c.client.get(key, target, { headers });
            got = await readFile(target);
            reported = res.range;
            status = res.res.status;
          } else {
            const res = await c.client.get(key, { headers });
            got = res.content;
            reported = res.range;
            status = res.res.status;
          }
        } catch (e) {
          const codes = ['ERR_CSE_TRANSFER', 'ERR_CSE_INTEGRITY', 'ERR_CSE_RANGE_NOT_SATISFIABLE'];
          assert.ok(isCseError(e) && codes.includes(e.cseCode), `${header}${standard ? ' standard' : ''}: failed with ${String(e)}`);
          if (e.cseCode === 'ERR_CSE_RANGE_NOT_SATISFIABLE') assert.equal(expected.status, 416, `${header}: 416 for a satisfiable range`);
        } finally {
          await ctx.assertNoSocketInUse(c, key);
          c.close();
        }
        const faultsHere = ctx.appliedFor(key);
        const what = `${header}${standard ? ' standard' : ''} on ${data.length} bytes, faults ${faultsHere.join(',') || 'none'}`;
        if (got !== undefined) {
          const slice = reported === undefined ? data : data.subarray(reported.start, reported.end + 1);
          assert.ok(got.equals(slice), `${what}: bytes differ from the reported range ${JSON.stringify(reported)}`);
          if (!faultsHere.includes('lying-range')) {
            // With an honest server the answer is exactly what OSS gives a plain client for this range.
            assert.equal(status, expected.status, what);
            if (expected.status === 206) assert.deepEqual(reported, { start: expected.start, end: expected.end }, what);
          }
          counters.succeeded++;
          counters.bytesVerified += got.length;
        } else {
          if (faultsHere.length === 0) assert.equal(expected.status, 416, `${what}: failed without any fault`);
          counters.failedTyped++;
        }
        if (toFile) assert.deepEqual(await readdir(dir), got === undefined ? [] : ['out.bin'], `${what}: files left behind`);
        // A read takes one request; two only in the documented refetch case (src/transfer/range-plan.ts).
        assert.ok(c.agent.requestCount <= 2, `${what}: ${c.agent.requestCount} requests`);
        counters.requests += c.agent.requestCount;
        counters.faultsInjected += faultsHere.length;
        counters.runs++;
      }, windows('ranged get'));
    } finally {
      ctx.h.faults.clear();
    }
    report('ranged get', counters);
    assertRequestsReconcile(mark, counters);
    assert.equal(counters.runs, RUNS);
    assert.ok(counters.faultsInjected > RUNS / 4 && counters.succeeded > 0 && counters.failedTyped > 0);
    await ctx.assertProcessClean('ranged get');
  });
});

