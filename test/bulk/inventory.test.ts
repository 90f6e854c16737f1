import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  parseInventoryCsv,
  parseInventoryManifest,
  readInventory,
  type InventoryEntry,
  type InventorySource,
} from '../../src/bulk/inventory.js';
import { CseError, ErrorCode } from '../../src/errors.js';
import { INVENTORY_COLUMNS, inventoryCsv, type InventoryObject } from '../helpers/inventory.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');

/** Yields `bytes` in chunks of the given sizes (cycled), so rows and characters straddle chunk boundaries. */
async function* chunked(bytes: Uint8Array, sizes: readonly number[] = [bytes.length || 1]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]!);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function collect(it: AsyncIterable<InventoryEntry>): Promise<InventoryEntry[]> {
  const out: InventoryEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

function isInventoryError(e: unknown, ...parts: string[]): boolean {
  assert.ok(e instanceof CseError, `not a CseError: ${String(e)}`);
  assert.equal(e.cseCode, ErrorCode.INVENTORY, e.message);
  for (const p of parts) assert.ok(e.message.includes(p), `${e.message} should include ${p}`);
  return true;
}

const MANIFEST = {
  creationTimestamp: '1642994594',
  destinationBucket: 'dest',
  fileFormat: 'CSV',
  fileSchema: 'Bucket, Key, Size, StorageClass, LastModifiedDate, ETag, IsMultipartUploaded, EncryptionStatus',
  files: [{ key: 'inv/src/id/2024-01-02T03-04Z/data/a.csv.gz', size: 123, MD5checksum: 'F77449179760C3B13F1E76110F07ABCD' }],
  sourceBucket: 'src',
  version: '2019-09-01',
};

test('parseInventoryManifest reads OSS manifest fields (schema names trimmed, MD5 lower-cased)', () => {
  const m = parseInventoryManifest(enc(JSON.stringify(MANIFEST)), 'm.json');
  assert.deepEqual(m, {
    sourceBucket: 'src',
    destinationBucket: 'dest',
    fileFormat: 'CSV',
    columns: INVENTORY_COLUMNS,
    files: [{ key: MANIFEST.files[0]!.key, size: 123, md5: 'f77449179760c3b13f1e76110f07abcd' }],
    creationTimestamp: 1642994594,
    version: '2019-09-01',
  });
  const numeric = parseInventoryManifest(enc(JSON.stringify({ ...MANIFEST, creationTimestamp: 5, version: undefined, files: [{ key: 'k' }] })), 'm');
  assert.equal(numeric.creationTimestamp, 5);
  assert.equal(numeric.version, undefined);
  assert.deepEqual(numeric.files, [{ key: 'k', size: undefined, md5: undefined }]);
});

test('parseInventoryManifest refuses every malformed manifest with ERR_CSE_INVENTORY naming it', () => {
  const cases: [unknown, string][] = [
    ['{', 'JSON'],
    [[1], 'object'],
    [{ ...MANIFEST, sourceBucket: undefined }, 'sourceBucket'],
    [{ ...MANIFEST, destinationBucket: 3 }, 'destinationBucket'],
    [{ ...MANIFEST, fileFormat: 'ORC' }, 'only CSV'],
    [{ ...MANIFEST, fileSchema: 'Bucket, , Key' }, 'empty column'],
    [{ ...MANIFEST, fileSchema: 'Key, key' }, 'twice'],
    [{ ...MANIFEST, fileSchema: 'Bucket, Size' }, 'no Key'],
    [{ ...MANIFEST, files: {} }, 'files'],
    [{ ...MANIFEST, files: [7] }, 'files[0]'],
    [{ ...MANIFEST, files: [{ size: 1 }] }, 'files[0].key'],
    [{ ...MANIFEST, files: [{ key: 'k', size: -1 }] }, 'files[0].size'],
    [{ ...MANIFEST, files: [{ key: 'k', size: '1.5' }] }, 'files[0].size'],
    [{ ...MANIFEST, files: [{ key: 'k', MD5checksum: 'xyz' }] }, 'MD5checksum'],
    [{ ...MANIFEST, creationTimestamp: 'yesterday' }, 'creationTimestamp'],
    [{ ...MANIFEST, version: {} }, 'version'],
  ];
  for (const [value, part] of cases) {
    const bytes = typeof value === 'string' ? enc(value) : enc(JSON.stringify(value));
    assert.throws(() => parseInventoryManifest(bytes, 'oss://dest/m.json'), (e) => isInventoryError(e, 'oss://dest/m.json', part));
  }
  assert.throws(() => parseInventoryManifest(Uint8Array.of(0xff, 0xfe), 'm'), (e) => isInventoryError(e, 'UTF-8'));
});

test('parseInventoryCsv decodes quoted values, "" escapes, commas and newlines in quotes, CRLF and LF', async () => {
  const cols = ['Bucket', 'Key', 'Size', 'StorageClass', 'ETag'];
  const text =
    '"src","a%20b+c%2Bd","12","Standard","5eb63bbbe01eeed093cb22bb8f5acdc3"\r\n' +
    '"src","x%2Cy","0","IA","""ABC-2"""\n' +
    '\n' +
    '"src","%E6%97%A5","7","","\n"\n' +
    'src,plain,3,Archive,DEF';
  const rows = await collect(parseInventoryCsv(chunked(enc(text), [3, 1, 7]), cols, 'f.csv', { sourceBucket: 'src' }));
  assert.deepEqual(rows, [
    { bucket: 'src', key: 'a b c+d', size: 12, storageClass: 'Standard', etag: '"5EB63BBBE01EEED093CB22BB8F5ACDC3"' },
    { bucket: 'src', key: 'x,y', size: 0, storageClass: 'IA', etag: '"ABC-2"' },
    { bucket: 'src', key: '日', size: 7, storageClass: undefined, etag: undefined },
    { bucket: 'src', key: 'plain', size: 3, storageClass: 'Archive', etag: '"DEF"' },
  ]);
});

test('parseInventoryCsv without Bucket/Size/ETag columns yields undefined for them and the given bucket', async () => {
  const rows = await collect(parseInventoryCsv(chunked(enc('"k1"\n"k2"\n')), ['Key'], 'f', { sourceBucket: 'b' }));
  assert.deepEqual(rows, [
    { bucket: 'b', key: 'k1', size: undefined, etag: undefined, storageClass: undefined },
    { bucket: 'b', key: 'k2', size: undefined, etag: undefined, storageClass: undefined },
  ]);
});

test('parseInventoryCsv refuses every malformed row with ERR_CSE_INVENTORY naming file and line', async () => {
  const cols = ['Bucket', 'Key', 'Size', 'ETag'];
  const good = '"src","k","1","E"\n';
  const cases: [string | Uint8Array, string][] = [
    [`${good}"src","k","1"\n`, 'line 2'],
    [`${good}${good}"src","bad%zz","1","E"\n`, 'line 3'],
    [`"src","bad%E6%97","1","E"\n`, 'line 1'],
    [`"src","k","1.5","E"\n`, 'Size'],
    [`"src","k","-1","E"\n`, 'Size'],
    [`"src","k","","E"\n`, 'Size'],
    [`"src","k","1","a b"\n`, 'ETag'],
    [`"other","k","1","E"\n`, 'source bucket'],
    [`"src","","1","E"\n`, 'empty'],
    [`src,k"x,1,E\n`, 'quote inside'],
    [`"src"x,"k","1","E"\n`, 'after a closing quote'],
    [`${good}"src","k\n\n`, 'ends inside'],
    [`"src","k","1","E"\rX`, 'carriage return'],
    [Buffer.concat([enc('"src","'), Buffer.from([0xc3, 0x28]), enc('","1","E"\n')]), 'UTF-8'],
  ];
  for (const [text, part] of cases) {
    const bytes = typeof text === 'string' ? enc(text) : text;
    await assert.rejects(collect(parseInventoryCsv(chunked(bytes, [2]), cols, 'data/x.csv', { sourceBucket: 'src' })), (e) =>
      isInventoryError(e, 'data/x.csv', part),
    );
  }
});

test('a row that never ends is refused instead of filling memory', async () => {
  async function* endless(): AsyncGenerator<Uint8Array> {
    yield enc('"');
    for (;;) yield enc('x'.repeat(65536));
  }
  await assert.rejects(collect(parseInventoryCsv(endless(), ['Key'], 'huge.csv')), (e) => isInventoryError(e, 'huge.csv', 'longer'));
});

const objectArb = fc.record({
  key: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  size: fc.nat(),
  etag: fc.stringMatching(/^[0-9a-f]{32}$/),
  storageClass: fc.constantFrom('Standard', 'IA', 'Archive'),
});

test('any inventory CSV (as OSS writes it) parses back to its entries however it is split into chunks', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(objectArb, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }), async (objects, sizes) => {
      const bytes = enc(inventoryCsv('src', objects));
      const rows = await collect(parseInventoryCsv(chunked(bytes, sizes), INVENTORY_COLUMNS, 'f', { sourceBucket: 'src' }));
      assert.deepEqual(
        rows,
        objects.map((o) => ({ bucket: 'src', key: o.key, size: o.size, etag: `"${o.etag.toUpperCase()}"`, storageClass: o.storageClass })),
      );
    }),
  );
});

async function parsesOrInventoryError(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (e) {
    assert.ok(e instanceof CseError && e.cseCode === ErrorCode.INVENTORY, `unexpected ${String(e)}`);
  }
}

test('fuzz: random bytes and mutated valid CSV either parse or throw ERR_CSE_INVENTORY', async () => {
  const valid = enc(inventoryCsv('src', [{ key: 'a b/c,d"e', size: 5, etag: '"ABC"' }, { key: '日本', size: 0, etag: 'def' }]));
  const mutated = fc
    .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { maxLength: 6 })
    .map((edits) => {
      const bytes = [...valid];
      for (const [at, byte, op] of edits) {
        const i = at % (bytes.length + 1);
        if (op === 'insert') bytes.splice(i, 0, byte);
        else if (op === 'delete') bytes.splice(i, 1);
        else if (i < bytes.length) bytes[i] = byte;
      }
      return Uint8Array.from(bytes);
    });
  const interesting = fc.array(fc.constantFrom(...'",\r\n%+ab2'.split('')), { maxLength: 60 }).map((cs) => enc(cs.join('')));
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated, interesting), fc.integer({ min: 1, max: 9 }), async (bytes, split) => {
      await parsesOrInventoryError(async () => collect(parseInventoryCsv(chunked(bytes, [split]), INVENTORY_COLUMNS, 'f', { sourceBucket: 'src' })));
      await parsesOrInventoryError(async () => collect(parseInventoryCsv(chunked(bytes, [split]), ['Key'], 'f')));
    }),
    { numRuns: 500 },
  );
});

test('fuzz: random bytes and mutated valid manifests either parse or throw ERR_CSE_INVENTORY', async () => {
  const valid = JSON.stringify(MANIFEST);
  const mutatedText = fc
    .array(fc.tuple(fc.nat(), fc.string({ maxLength: 3 }), fc.boolean()), { maxLength: 5 })
    .map((edits) => edits.reduce((s, [at, piece, del]) => {
      const i = at % (s.length + 1);
      return del ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + piece + s.slice(i);
    }, valid));
  const mutatedValue = fc.record({
    field: fc.constantFrom(...Object.keys(MANIFEST), 'files.0.size', 'files.0.key', 'files.0.MD5checksum'),
    value: fc.jsonValue(),
  }).map(({ field, value }) => {
    const copy = JSON.parse(valid) as Record<string, unknown>;
    if (field.startsWith('files.0.')) ((copy.files as Record<string, unknown>[])[0]!)[field.slice(8)] = value;
    else copy[field] = value;
    return JSON.stringify(copy);
  });
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutatedText.map(enc), mutatedValue.map(enc), fc.jsonValue().map((v) => enc(JSON.stringify(v)))), async (bytes) => {
      await parsesOrInventoryError(async () => parseInventoryManifest(bytes, 'm'));
    }),
    { numRuns: 1000 },
  );
});

/** An in-memory inventory bucket; `opened` records the keys in the order they were opened. */
class MemorySource implements InventorySource {
  readonly objects = new Map<string, Uint8Array>();
  readonly opened: string[] = [];
  failOn: string | undefined;
  async open(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    this.opened.push(key);
    const bytes = this.objects.get(key);
    if (bytes === undefined) return null;
    if (key === this.failOn) {
      return (async function* () {
        yield bytes.subarray(0, 5);
        throw new CseError(ErrorCode.TRANSFER, 'connection reset');
      })();
    }
    return chunked(bytes, [4, 9]);
  }
}

function objects(prefix: string, n: number): InventoryObject[] {
  return Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i} x`, size: i, etag: `"E${i}"` }));
}

/** Builds an inventory in `source`: one data file per list, gzip for all but the ones named plain. */
function build(source: MemorySource, lists: InventoryObject[][], opts: { plain?: number[]; checksum?: string | null } = {}): string {
  const files = lists.map((list, i) => {
    const csv = enc(inventoryCsv('src', list));
    const gz = !(opts.plain ?? []).includes(i);
    const body = gz ? gzipSync(csv) : csv;
    const key = `inv/src/id/T/data/f${i}.csv${gz ? '.gz' : ''}`;
    source.objects.set(key, body);
    return { key, size: body.length, MD5checksum: createHash('md5').update(body).digest('hex').toUpperCase() };
  });
  const manifest = enc(JSON.stringify({ ...MANIFEST, files }));
  source.objects.set('inv/src/id/T/manifest.json', manifest);
  if (opts.checksum !== null) source.objects.set('inv/src/id/T/manifest.checksum', enc(opts.checksum ?? `${createHash('md5').update(manifest).digest('hex').toUpperCase()}\n`));
  return 'inv/src/id/T/manifest.json';
}

test('readInventory streams every data file in manifest order, gzip or plain, checking sizes and MD5s', async () => {
  const source = new MemorySource();
  const lists = [objects('a', 3), objects('b', 0), objects('c', 4)];
  const key = build(source, lists, { plain: [1] });
  const { manifest, entries } = await readInventory(source, key);
  assert.equal(manifest.files.length, 3);
  const rows = await collect(entries);
  assert.deepEqual(rows.map((r) => r.key), lists.flat().map((o) => o.key));
  assert.deepEqual(source.opened, [key, 'inv/src/id/T/manifest.checksum', ...manifest.files.map((f) => f.key)]);
});

test('readInventory accepts a missing manifest.checksum and refuses a wrong or malformed one', async () => {
  const noSum = new MemorySource();
  await collect((await readInventory(noSum, build(noSum, [objects('a', 2)], { checksum: null }))).entries);
  const wrong = new MemorySource();
  await assert.rejects(readInventory(wrong, build(wrong, [objects('a', 2)], { checksum: '0'.repeat(32) })), (e) => isInventoryError(e, 'manifest.checksum'));
  const lower = new MemorySource();
  const key = build(lower, [objects('a', 2)]);
  lower.objects.set('inv/src/id/T/manifest.checksum', enc(createHash('md5').update(lower.objects.get(key)!).digest('hex')));
  await collect((await readInventory(lower, key)).entries);
  const junk = new MemorySource();
  await assert.rejects(readInventory(junk, build(junk, [objects('a', 2)], { checksum: 'not a checksum' })), (e) => isInventoryError(e, 'not a hex MD5'));
});

test('readInventory: a missing manifest or data file is ERR_CSE_INVENTORY naming it', async () => {
  await assert.rejects(readInventory(new MemorySource(), 'nope/manifest.json'), (e) => isInventoryError(e, 'nope/manifest.json'));
  const source = new MemorySource();
  const key = build(source, [objects('a', 2), objects('b', 2)]);
  source.objects.delete('inv/src/id/T/data/f1.csv.gz');
  await assert.rejects(collect((await readInventory(source, key)).entries), (e) => isInventoryError(e, 'f1.csv.gz', 'does not exist'));
});

test('readInventory: a data file whose size or MD5 differs fails at its end, after its entries were yielded', async () => {
  for (const damage of ['size', 'md5'] as const) {
    const source = new MemorySource();
    const key = build(source, [objects('a', 2), objects('b', 2)]);
    const manifest = JSON.parse(Buffer.from(source.objects.get(key)!).toString()) as typeof MANIFEST;
    if (damage === 'size') manifest.files[0]!.size += 1;
    else manifest.files[0]!.MD5checksum = '0'.repeat(32);
    source.objects.set(key, enc(JSON.stringify(manifest)));
    source.objects.delete('inv/src/id/T/manifest.checksum');
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of (await readInventory(source, key)).entries) seen.push(e.key);
      })(),
      (e) => isInventoryError(e, 'f0.csv.gz', damage === 'size' ? 'bytes' : 'MD5'),
    );
    assert.deepEqual(seen, ['a0 x', 'a1 x']);
  }
});

test('readInventory: a corrupt gzip file is ERR_CSE_INVENTORY; an error of the source itself passes through', async () => {
  const source = new MemorySource();
  const key = build(source, [objects('a', 2)], { checksum: null });
  const file = 'inv/src/id/T/data/f0.csv.gz';
  const bytes = Buffer.from(source.objects.get(file)!);
  bytes[bytes.length - 12] = (bytes[bytes.length - 12] ?? 0) ^ 0xff;
  source.objects.set(file, bytes);
  await assert.rejects(collect((await readInventory(source, key)).entries), (e) => isInventoryError(e, file));
  source.objects.set(file, Uint8Array.from([1, 2, 3]));
  await assert.rejects(collect((await readInventory(source, key)).entries), (e) => isInventoryError(e, file));
  const failing = new MemorySource();
  const key2 = build(failing, [objects('a', 50)]);
  failing.failOn = 'inv/src/id/T/data/f0.csv.gz';
  await assert.rejects(collect((await readInventory(failing, key2)).entries), (e: unknown) => e instanceof CseError && e.cseCode === ErrorCode.TRANSFER);
});

test('readInventory: a Bucket column that is not the manifest source bucket is refused', async () => {
  const source = new MemorySource();
  const key = build(source, [objects('a', 1)], { checksum: null });
  source.objects.set('inv/src/id/T/data/f0.csv.gz', gzipSync(enc(inventoryCsv('elsewhere', objects('a', 1)))));
  const manifest = JSON.parse(Buffer.from(source.objects.get(key)!).toString()) as Record<string, unknown>;
  source.objects.set(key, enc(JSON.stringify({ ...manifest, files: [{ key: 'inv/src/id/T/data/f0.csv.gz' }] })));
  await assert.rejects(collect((await readInventory(source, key)).entries), (e) => isInventoryError(e, '"elsewhere"', 'line 1'));
});

test('readInventory stops with ERR_CSE_ABORTED when its signal fires', async () => {
  const source = new MemorySource();
  const key = build(source, [objects('a', 3), objects('b', 3)]);
  const controller = new AbortController();
  const { entries } = await readInventory(source, key, { signal: controller.signal });
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of entries) {
        seen.push(e.key);
        controller.abort();
      }
    })(),
    (e: unknown) => e instanceof CseError && e.cseCode === ErrorCode.ABORTED,
  );
  assert.ok(seen.length < 6);
});
