// Objects written by multipart upload read back through every read path: get with every boundary range (with and
// without `x-oss-range-behavior: standard`) equals a plain get of the same range on the plaintext, and get into memory,
// to a file, as a stream, head, and resumableDownload with aligned and unaligned range sizes give the plaintext.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { V2Header } from '../../src/format/headers.js';
import { mayRefetch, plainGet, rangeMatrix } from '../client/support.js';
import { collect } from '../helpers/vectors.js';
import { KIB100, startTransferHarness, testBytes, type TransferHarness } from './support.js';

let h: TransferHarness;
const SIZE = 10 * KIB100 + 3; // 11 parts, the last of 3 bytes
const plaintext = testBytes(SIZE, 42);
const NAME = 'readback/object';
const PLAIN = 'readback/object.plain';

before(async () => {
  h = await startTransferHarness();
  const source = join(h.dir, 'source.bin');
  await writeFile(source, plaintext);
  const result = await h.client.multipartUpload(NAME, source, { partSize: KIB100, parallel: 3 });
  assert.equal(result.method, 'multipart');
  assert.equal(result.partCount, 11);
  await h.oss.put(PLAIN, plaintext);
});

after(async () => {
  await h.close();
});

test('every boundary range of a multipart object equals a plain get of the plaintext', async () => {
  const ranges = [...rangeMatrix(SIZE), `bytes=${KIB100 - 1}-${KIB100}`, `bytes=${KIB100 * 5 - 7}-${KIB100 * 7 + 9}`, `bytes=${KIB100 * 10}-`];
  for (const range of ranges) {
    for (const standard of [false, true]) {
      const headers: Record<string, string> = { Range: range };
      if (standard) headers['x-oss-range-behavior'] = 'standard';
      const expected = await plainGet(h.oss, PLAIN, headers);
      let actual;
      try {
        const r = await h.client.get(NAME, { headers });
        actual = { status: r.res.status, body: r.content, contentRange: r.res.headers['content-range'] };
      } catch (e) {
        if ((e as { cseCode?: string }).cseCode === 'ERR_CSE_RANGE_NOT_SATISFIABLE') actual = { status: 416, body: Buffer.alloc(0), contentRange: undefined };
        else throw e;
      }
      const what = `${range}${standard ? ' (standard)' : ''}${mayRefetch(range, SIZE, standard) ? ' (refetch case)' : ''}`;
      assert.equal(actual.status, expected.status, what);
      assert.ok(actual.body.equals(expected.body), what);
      assert.equal(actual.contentRange, expected.contentRange, what);
    }
  }
});

test('get into memory, to a file, as a stream, and head all see the multipart object', async () => {
  assert.ok((await h.client.get(NAME)).content.equals(plaintext));
  const file = join(h.dir, 'get.bin');
  await h.client.get(NAME, file);
  assert.ok((await readFile(file)).equals(plaintext));
  const { stream } = await h.client.getStream(NAME);
  assert.ok((await collect(stream)).equals(plaintext));
  const head = await h.client.head(NAME);
  assert.equal(head.size, SIZE);
  assert.ok(head.envelope);
  assert.equal(head.envelope.dataSize, SIZE);
  assert.equal(head.envelope.partSize, KIB100);
  assert.equal(Object.keys(head.meta ?? {}).some((k) => `x-oss-meta-${k}` === V2Header.DATA_SIZE), false, 'crypto headers are not user metadata');
});

test('resumableDownload with aligned, unaligned, tiny and oversized ranges gives the plaintext', async () => {
  for (const partSize of [KIB100, 100_001, 65_539, 4097, SIZE, SIZE + 5]) {
    const file = join(h.dir, `download-${partSize}.bin`);
    const r = await h.client.resumableDownload(NAME, file, { partSize, parallel: 4 });
    assert.equal(r.partCount, Math.ceil(SIZE / partSize));
    assert.equal(r.partsFetched, r.partCount);
    assert.ok((await readFile(file)).equals(plaintext), `partSize ${partSize}`);
    assert.equal(r.encrypted, true);
    assert.equal(r.crc64, (await h.client.head(NAME)).res.headers['x-oss-hash-crc64ecma']);
  }
});

test('an object that fits in one part is sent with one PutObject and reads back', async () => {
  const small = testBytes(KIB100, 7);
  const before = h.agent.log.length;
  const r = await h.client.multipartUpload('readback/small', small, { partSize: KIB100 });
  assert.equal(r.method, 'put');
  const sent = h.agent.log.slice(before);
  assert.equal(sent.filter((x) => x.method === 'PUT').length, 1);
  assert.equal(sent.filter((x) => x.method === 'POST').length, 0);
  assert.ok((await h.client.get('readback/small')).content.equals(small));
  const empty = await h.client.multipartUpload('readback/empty', new Uint8Array(0));
  assert.equal(empty.method, 'put');
  const file = join(h.dir, 'empty.bin');
  const d = await h.client.resumableDownload('readback/empty', file);
  assert.equal(d.size, 0);
  assert.equal((await readFile(file)).length, 0);
});
