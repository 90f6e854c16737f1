/**
 * Fault injection in the embedded server (issue 9, item 1): the switch is off unless asked for, rules target by
 * operation, bucket, key, prefix, nth match, count and probability, the seeded random schedule reproduces from its
 * seed (also under concurrency), every fault is logged, `clear()` restores normal service, bad plans are refused,
 * and the KMS emulator on the same listener is never touched.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Kms from '@alicloud/kms20160120';
import OSS from 'ali-oss';
import {
  DEFAULT_RANDOM_KINDS,
  FAULT_KINDS,
  mulberry32,
  startServer,
  type FaultController,
  type FaultKind,
  type FaultPlan,
  type RandomFaultSchedule,
  type RunningServer,
} from '../../server/src/index.js';
import { testBytes } from './support/reference.js';

const BUCKET = 'faults';

interface Armed {
  readonly server: RunningServer;
  readonly faults: FaultController;
  readonly logged: string[];
  readonly client: any;
}

function clientFor(server: RunningServer, bucket = BUCKET): any {
  return new OSS({
    endpoint: server.endpoint,
    region: 'oss-cn-hangzhou',
    bucket,
    ...server.credentials,
    authorizationV4: true,
    secure: false,
    timeout: 20_000,
  });
}

async function arm(plan: FaultPlan = {}, options: { kms?: boolean; buckets?: string[] } = {}): Promise<Armed> {
  const logged: string[] = [];
  const server = await startServer({
    memory: true,
    buckets: options.buckets ?? [BUCKET],
    kms: options.kms ?? false,
    faults: plan,
    log: (line) => logged.push(line),
  });
  assert.ok(server.faults !== undefined);
  return { server, faults: server.faults, logged, client: clientFor(server) };
}

/** Runs a call and gives `ok` or the error code, so schedules can be compared as outcome vectors. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (e: any) {
    return String(e?.code ?? e?.name ?? 'error');
  }
}

/** The parts of a log entry that identify a fault independently of arrival order. */
function scheduleOf(faults: FaultController): string[] {
  return faults.log().map((e) => `${e.operation} ${e.key ?? ''} ${e.partNumber ?? ''} ${e.kind} ${e.detail}`);
}

const SMALL = testBytes(64 * 1024, 5);
const PART = testBytes(100 * 1024, 6);

/** A fixed mixed workload on one key: put, head, get, ranged get, multipart upload; every failure swallowed. */
async function workloadOn(client: any, key: string): Promise<void> {
  await outcome(client.put(key, SMALL));
  await outcome(client.head(key));
  await outcome(client.get(key));
  await outcome(client.get(key, { headers: { Range: 'bytes=1000-1999' } }));
  let uploadId: string | undefined;
  try {
    uploadId = (await client.initMultipartUpload(`${key}.mp`)).uploadId;
  } catch {
    return;
  }
  const parts: { number: number; etag: string }[] = [];
  for (const n of [1, 2]) {
    try {
      parts.push({ number: n, etag: (await client.uploadPart(`${key}.mp`, uploadId, n, PART, 0, PART.length)).etag });
    } catch {
      // a faulted part is simply missing
    }
  }
  if (parts.length > 0) await outcome(client.completeMultipartUpload(`${key}.mp`, uploadId, parts));
}

async function runSchedule(random: RandomFaultSchedule, concurrent: boolean): Promise<{ schedule: string[]; logged: string[] }> {
  const a = await arm({ random });
  try {
    const keys = ['w/a', 'w/b', 'w/c', 'w/d'];
    if (concurrent) await Promise.all(keys.map(async (k) => workloadOn(a.client, k)));
    else for (const k of keys) await workloadOn(a.client, k);
    return { schedule: scheduleOf(a.faults), logged: a.logged };
  } finally {
    await a.server.close();
  }
}

describe('the fault switch', () => {
  it('is off by default: no controller, and nothing is injected', async () => {
    const server = await startServer({ memory: true, buckets: [BUCKET], kms: false });
    try {
      assert.equal(server.faults, undefined);
      assert.equal('faults' in server, false);
      const c = clientFor(server);
      await c.put('plain', SMALL);
      assert.ok(Buffer.from((await c.get('plain')).content).equals(SMALL));
    } finally {
      await server.close();
    }
  });

  it('an empty plan arms the controller without injecting anything; requests are still counted', async () => {
    const a = await arm();
    try {
      await a.client.put('x', SMALL);
      await a.client.get('x');
      await a.client.head('x');
      assert.deepEqual(a.faults.log(), []);
      const stats = a.faults.stats();
      assert.equal(stats.requests, 3);
      assert.deepEqual(stats.byOperation, { PutObject: 1, GetObject: 1, HeadObject: 1 });
      assert.equal(stats.faults, 0);
    } finally {
      await a.server.close();
    }
  });

  it('refuses malformed plans with a RangeError naming the field, and keeps the previous plan', async () => {
    const a = await arm({ rules: [{ operations: ['GetObject'], fault: 'internal-error' }] });
    try {
      const bad: [unknown, RegExp][] = [
        [{ rules: [{ fault: 'explode' }] }, /rules\[0\]\.fault: unknown fault kind "explode"/],
        [{ rules: [{ fault: { kind: 'nope' } }] }, /unknown fault kind "nope"/],
        [{ rules: [{ fault: 'slow', operations: ['GetObjekt'] }] }, /unknown operation "GetObjekt"/],
        [{ rules: [{ fault: 'slow', nth: 0 }] }, /rules\[0\]\.nth must be an integer ≥ 1/],
        [{ rules: [{ fault: 'slow', nth: [] }] }, /nth must be a number or a non-empty array/],
        [{ rules: [{ fault: 'slow', probability: 1.5 }] }, /probability must be a number from 0 to 1/],
        [{ rules: [{ fault: 'slow', times: -1 }] }, /times must be an integer/],
        [{ rules: [{ fault: { kind: 'slow', delayMs: 60_000 } }] }, /limited to 30000 ms/],
        [{ rules: [{ fault: { kind: 'truncate', keepFraction: 2 } }] }, /keepFraction/],
        [{ rules: [{ fault: { kind: 'lying-range', shift: 0 } }] }, /shift must be a non-zero integer/],
        [{ rules: [{ fault: { kind: 'extra-bytes', count: 0 } }] }, /count must be an integer ≥ 1/],
        [{ random: { seed: 1.5, rate: 0.1 } }, /random\.seed must be an integer/],
        [{ random: { seed: 1 } }, /random\.rate is required/],
        [{ random: { seed: 1, rate: -0.1 } }, /random\.rate must be a number from 0 to 1/],
        [{ random: { seed: 1, rate: 0.1, kinds: [] } }, /random\.kinds must be a non-empty array/],
        [{ random: { seed: 1, rate: 0.1, kinds: ['boom'] } }, /random\.kinds: unknown fault kind "boom"/],
        [{ seed: 'x' }, /seed must be an integer/],
      ];
      for (const [plan, message] of bad) {
        assert.throws(() => a.faults.set(plan as FaultPlan), (e: unknown) => e instanceof RangeError && message.test(e.message), JSON.stringify(plan));
      }
      assert.equal((await outcome(a.client.get('missing'))), 'InternalError', 'the previous plan is still in force');
      await assert.rejects(startServer({ memory: true, faults: { rules: [{ fault: 'bogus' as FaultKind }] } }), RangeError);
    } finally {
      await a.server.close();
    }
  });
});

describe('rules', () => {
  let a: Armed;
  before(async () => {
    a = await arm({}, { buckets: [BUCKET, 'other-bucket'] });
    await a.client.put('t/obj', SMALL);
  });
  after(async () => {
    assert.deepEqual(a.logged, []);
    await a.server.close();
  });

  it('nth fires on exactly the listed matching requests, counted per rule', async () => {
    a.faults.set({ rules: [{ operations: ['GetObject'], nth: [2, 4], fault: 'internal-error' }] });
    const results: string[] = [];
    for (let i = 0; i < 5; i++) {
      results.push(await outcome(a.client.get('t/obj')));
      await a.client.head('t/obj'); // other operations do not count
    }
    assert.deepEqual(results, ['ok', 'InternalError', 'ok', 'InternalError', 'ok']);
    a.faults.clear();
  });

  it('times limits how often a rule fires', async () => {
    a.faults.set({ rules: [{ operations: ['HeadObject'], times: 2, fault: 'service-unavailable' }] });
    const results: string[] = [];
    for (let i = 0; i < 4; i++) results.push(await outcome(a.client.head('t/obj')));
    assert.deepEqual(results, ['ServiceUnavailable', 'ServiceUnavailable', 'ok', 'ok']);
    a.faults.clear();
  });

  it('key, keyPrefix and bucket select the requests a rule looks at', async () => {
    a.faults.set({ rules: [{ keyPrefix: 'p/', fault: 'internal-error' }] });
    assert.equal(await outcome(a.client.put('p/one', SMALL)), 'InternalError');
    assert.equal(await outcome(a.client.put('q/one', SMALL)), 'ok');
    a.faults.set({ rules: [{ key: 'q/one', fault: 'internal-error' }] });
    assert.equal(await outcome(a.client.get('q/one')), 'InternalError');
    assert.equal(await outcome(a.client.get('t/obj')), 'ok');
    a.faults.set({ rules: [{ bucket: 'other-bucket', fault: 'internal-error' }] });
    assert.equal(await outcome(clientFor(a.server, 'other-bucket').put('k', SMALL)), 'InternalError');
    assert.equal(await outcome(a.client.put('k', SMALL)), 'ok');
    a.faults.clear();
  });

  it('the first rule that fires wins, and the log names it', async () => {
    a.faults.resetLog();
    a.faults.set({
      rules: [
        { operations: ['GetObject'], nth: 1, fault: 'service-unavailable' },
        { operations: ['GetObject'], fault: 'internal-error' },
      ],
    });
    assert.equal(await outcome(a.client.get('t/obj')), 'ServiceUnavailable');
    assert.equal(await outcome(a.client.get('t/obj')), 'InternalError');
    assert.deepEqual(
      a.faults.log().map((e) => [e.kind, e.source, e.rule, e.operation, e.bucket, e.key, e.applied]),
      [
        ['service-unavailable', 'rule', 0, 'GetObject', BUCKET, 't/obj', true],
        ['internal-error', 'rule', 1, 'GetObject', BUCKET, 't/obj', true],
      ],
    );
    a.faults.clear();
  });

  it('a rule only matches requests its fault applies to', async () => {
    a.faults.resetLog();
    // wrong-crc cannot apply to ListObjects or DeleteObject, so nth counts only the GetObject.
    a.faults.set({ rules: [{ nth: 1, fault: 'wrong-crc' }] });
    await a.client.list({ prefix: 't/' });
    await a.client.delete('nothing-here');
    const got = await a.client.get('t/obj');
    assert.deepEqual(
      a.faults.log().map((e) => e.operation),
      ['GetObject'],
    );
    assert.ok(got.res.headers['x-oss-hash-crc64ecma'] !== undefined);
    a.faults.clear();
  });

  it('probability fires on a seeded share of requests, the same ones for the same seed', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `prob/${i}`);
    const run = async (seed: number): Promise<string[]> => {
      a.faults.set({ seed, rules: [{ operations: ['PutObject'], probability: 0.5, fault: 'internal-error' }] });
      const results: string[] = [];
      for (const k of keys) results.push(await outcome(a.client.put(k, SMALL)));
      a.faults.clear();
      return results;
    };
    const first = await run(42);
    const failures = first.filter((r) => r !== 'ok').length;
    assert.ok(failures > 8 && failures < 32, `${failures} of 40 failed at probability 0.5`);
    assert.deepEqual(await run(42), first, 'same seed, same requests: same faults');
    assert.notDeepEqual(await run(43), first, 'another seed gives another schedule');
  });

  it('UploadPart faults are logged with their part number', async () => {
    a.faults.resetLog();
    const init = await a.client.initMultipartUpload('t/mp');
    a.faults.set({ rules: [{ operations: ['UploadPart'], nth: 2, fault: 'internal-error' }] });
    assert.equal(await outcome(a.client.uploadPart('t/mp', init.uploadId, 1, PART, 0, PART.length)), 'ok');
    assert.equal(await outcome(a.client.uploadPart('t/mp', init.uploadId, 7, PART, 0, PART.length)), 'InternalError');
    const [entry] = a.faults.log();
    assert.equal(entry?.partNumber, 7);
    assert.equal(entry.operation, 'UploadPart');
    assert.ok(entry.seq > 0);
    a.faults.clear();
    await a.client.abortMultipartUpload('t/mp', init.uploadId);
  });
});

describe('the random schedule', () => {
  it('reproduces from its seed: the same seed gives the same faults, another seed other faults', async () => {
    const random = { seed: 20240611, rate: 0.35 };
    const first = await runSchedule(random, false);
    const second = await runSchedule(random, false);
    assert.ok(first.schedule.length >= 3, `only ${first.schedule.length} faults injected`);
    assert.deepEqual(second.schedule, first.schedule);
    const other = await runSchedule({ ...random, seed: 7 }, false);
    assert.notDeepEqual(other.schedule, first.schedule);
    assert.deepEqual([...first.logged, ...second.logged, ...other.logged], [], 'no unexpected internal errors');
  });

  it('does not depend on how concurrent requests interleave', async () => {
    const random = { seed: 99, rate: 0.35 };
    const sequential = await runSchedule(random, false);
    const concurrent = await runSchedule(random, true);
    assert.ok(sequential.schedule.length >= 3, `only ${sequential.schedule.length} faults injected`);
    assert.deepEqual([...concurrent.schedule].sort(), [...sequential.schedule].sort());
  });

  it('draws only the listed kinds, on the listed operations, up to maxFaults', async () => {
    const a = await arm({ random: { seed: 5, rate: 1, kinds: ['internal-error', 'wrong-crc'], operations: ['GetObject', 'PutObject'], maxFaults: 6 } });
    try {
      for (let i = 0; i < 6; i++) {
        await outcome(a.client.put(`r/${i}`, SMALL));
        await outcome(a.client.get(`r/${i}`));
        await outcome(a.client.head(`r/${i}`));
      }
      const log = a.faults.log();
      assert.equal(log.length, 6);
      for (const e of log) {
        assert.ok(['internal-error', 'wrong-crc'].includes(e.kind), e.kind);
        assert.ok(['GetObject', 'PutObject'].includes(e.operation), e.operation);
        assert.equal(e.source, 'random');
      }
      assert.equal(a.faults.stats().faults, 6);
    } finally {
      await a.server.close();
    }
  });

  it('rate 0 injects nothing; the default kinds leave stored state alone', async () => {
    const quiet = await arm({ random: { seed: 1, rate: 0 } });
    try {
      await workloadOn(quiet.client, 'q/a');
      assert.deepEqual(quiet.faults.log(), []);
    } finally {
      await quiet.server.close();
    }
    assert.ok(!DEFAULT_RANDOM_KINDS.includes('replace-object') && !DEFAULT_RANDOM_KINDS.includes('lost-response'));
    assert.deepEqual(
      FAULT_KINDS.filter((k) => !DEFAULT_RANDOM_KINDS.includes(k)),
      ['lost-response', 'replace-object', 'disk-full'],
    );
  });

  it('mulberry32 is deterministic and uniform enough for schedules', () => {
    const a = mulberry32(123);
    const b = mulberry32(123);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      Array.from({ length: 1000 }, () => b()),
      xs,
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
    assert.notDeepEqual(mulberry32(124)(), xs[0]);
  });
});

describe('the controller', () => {
  it('clear() restores normal service and keeps the log; resetLog() empties it', async () => {
    const a = await arm({ random: { seed: 3, rate: 1, kinds: ['internal-error'] } });
    try {
      assert.equal(await outcome(a.client.put('c/1', SMALL)), 'InternalError');
      assert.equal(await outcome(a.client.head('c/1')), 'InternalError');
      a.faults.clear();
      assert.equal(await outcome(a.client.put('c/1', SMALL)), 'ok');
      assert.ok(Buffer.from((await a.client.get('c/1')).content).equals(SMALL));
      assert.equal(a.faults.log().length, 2);
      a.faults.resetLog();
      assert.deepEqual(a.faults.log(), []);
      assert.equal(a.faults.stats().requests, 4);
      // set() can arm again between phases; seq keeps counting.
      a.faults.set({ rules: [{ fault: 'service-unavailable', times: 1 }] });
      assert.equal(await outcome(a.client.head('c/1')), 'ServiceUnavailable');
      assert.equal(a.faults.log()[0]?.seq, 5);
    } finally {
      await a.server.close();
    }
  });

  it('never touches the KMS emulator on the same listener', async () => {
    const a = await arm({ random: { seed: 11, rate: 1, kinds: [...FAULT_KINDS] } }, { kms: true });
    try {
      const kms = new Kms.default({
        ...a.server.credentials,
        endpoint: a.server.endpoint.replace(/^http:\/\//, ''),
        protocol: 'http',
        regionId: 'cn-hangzhou',
      } as any);
      const created = await kms.createKey(new Kms.CreateKeyRequest({}));
      const enc = await kms.encrypt(new Kms.EncryptRequest({ keyId: created.keyMetadata.keyId, plaintext: 'aGVsbG8=' }));
      const dec = await kms.decrypt(new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob }));
      assert.equal(dec.plaintext, 'aGVsbG8=');
      assert.equal(a.faults.stats().requests, 0, 'KMS requests never reach the fault hook');
      assert.deepEqual(a.faults.log(), []);
      await outcome(a.client.head('anything'));
      assert.equal(a.faults.log().length, 1, 'OSS requests on the same listener do');
    } finally {
      await a.server.close();
    }
  });
});
