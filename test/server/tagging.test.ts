/**
 * Object tagging, per-object storage classes and the onRequest hook of the embedded server, driven by the real
 * `ali-oss` client against the disk store (V1 and V4 signatures) and the memory store (V4). Limits and error codes are
 * those of the OSS documentation (server/CONFORMANCE.md "Object tagging" and "Storage classes").
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import OSS from 'ali-oss';
import { startServer, type ServerRequestEntry } from '../../server/src/index.js';
import { localTarget, ossClient, rawRequest, type ConformanceTarget, type Signing } from './support/target.js';

/** ali-oss typed loosely: @types/ali-oss lacks the tagging calls' real shapes and the internal request helpers. */
type LooseOss = any;

async function expectOssError(promise: Promise<unknown>, code: string, status: number): Promise<void> {
  await assert.rejects(promise, (e: any) => {
    assert.equal(e.code, code, `expected ${code}, got ${String(e.code)}: ${String(e.message)}`);
    assert.equal(e.status, status);
    return true;
  });
}

/** PutObjectTagging with a body ali-oss's own tag checks would never send. */
async function putTaggingXml(c: LooseOss, name: string, tags: ReadonlyArray<readonly [string, string]>): Promise<unknown> {
  const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const body = `<?xml version="1.0" encoding="UTF-8"?><Tagging><TagSet>${tags
    .map(([k, v]) => `<Tag><Key>${escape(k)}</Key><Value>${escape(v)}</Value></Tag>`)
    .join('')}</TagSet></Tagging>`;
  const params = c._objectRequestParams('PUT', c._objectName(name), { subres: { tagging: '' } });
  params.content = Buffer.from(body);
  params.mime = 'xml';
  params.successStatuses = [200];
  return c.request(params);
}

function headerOf(r: { res: { headers: Record<string, unknown> } }, name: string): unknown {
  return r.res.headers[name];
}

function defineCases(get: () => { c: LooseOss; key: (name: string) => string }): void {
  it('x-oss-tagging on PutObject round-trips through GetObjectTagging; GET and HEAD carry x-oss-tagging-count', async () => {
    const { c, key } = get();
    await c.put(key('hdr/tagged'), Buffer.from('x'), { headers: { 'x-oss-tagging': 'a=1&b=x%20y&empty=&bare&sym=%2B-%3D._%3A%2F' } });
    const tagging = await c.getObjectTagging(key('hdr/tagged'));
    assert.deepEqual(tagging.tag, { a: '1', b: 'x y', empty: '', bare: '', sym: '+-=._:/' });
    assert.equal(headerOf(await c.head(key('hdr/tagged')), 'x-oss-tagging-count'), '5');
    assert.equal(headerOf(await c.get(key('hdr/tagged')), 'x-oss-tagging-count'), '5');

    await c.put(key('hdr/plain'), Buffer.from('x'));
    assert.equal(headerOf(await c.head(key('hdr/plain')), 'x-oss-tagging-count'), undefined);
    assert.deepEqual((await c.getObjectTagging(key('hdr/plain'))).tag, {});
  });

  it('PutObjectTagging replaces the whole set and DeleteObjectTagging clears it, ETag and Last-Modified unchanged', async () => {
    const { c, key } = get();
    const k = key('api/obj');
    await c.put(k, Buffer.from('body'), { headers: { 'x-oss-tagging': 'old=1&keep=2' } });
    const before = await c.head(k);
    await c.putObjectTagging(k, { Keep: 'B', new: 'value with space' });
    assert.deepEqual((await c.getObjectTagging(k)).tag, { Keep: 'B', new: 'value with space' });
    const tagged = await c.head(k);
    assert.equal(headerOf(tagged, 'x-oss-tagging-count'), '2');
    assert.equal(headerOf(tagged, 'etag'), headerOf(before, 'etag'));
    assert.equal(headerOf(tagged, 'last-modified'), headerOf(before, 'last-modified'));
    assert.equal((await c.get(k)).content.toString(), 'body');

    const deleted = await c.deleteObjectTagging(k);
    assert.equal(deleted.status, 204);
    assert.deepEqual((await c.getObjectTagging(k)).tag, {});
    assert.equal(headerOf(await c.head(k), 'x-oss-tagging-count'), undefined);
    assert.equal((await c.deleteObjectTagging(k)).status, 204);

    await expectOssError(c.getObjectTagging(key('api/missing')), 'NoSuchKey', 404);
    await expectOssError(c.putObjectTagging(key('api/missing'), { a: '1' }), 'NoSuchKey', 404);
    await expectOssError(c.deleteObjectTagging(key('api/missing')), 'NoSuchKey', 404);
  });

  it('tag limits: 10 tags, 128-char keys and 256-char values pass; more, duplicates and bad characters are InvalidTag', async () => {
    const { c, key } = get();
    const ten = Array.from({ length: 10 }, (_, i): [string, string] => [`k${i}`, `v${i}`]);
    const longest: [string, string] = ['K'.repeat(128), 'v'.repeat(256)];
    await c.put(key('lim/ok'), Buffer.from('x'), { headers: { 'x-oss-tagging': ten.map(([k, v]) => `${k}=${v}`).join('&') } });
    assert.equal(headerOf(await c.head(key('lim/ok')), 'x-oss-tagging-count'), '10');
    await putTaggingXml(c, key('lim/ok'), [longest]);
    assert.deepEqual((await c.getObjectTagging(key('lim/ok'))).tag, { [longest[0]]: longest[1] });

    const bad: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, string]>]> = [
      ['11 tags', [...ten, ['k10', 'v10']]],
      ['129-char key', [['K'.repeat(129), 'v']]],
      ['257-char value', [['k', 'v'.repeat(257)]]],
      ['duplicate key', [['dup', '1'], ['dup', '2']]],
      ['empty key', [['', 'v']]],
      ['character outside the set', [['k', 'a@b']]],
    ];
    for (const [what, tags] of bad) {
      const header = tags.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
      await expectOssError(c.put(key(`lim/bad-${what}`), Buffer.from('x'), { headers: { 'x-oss-tagging': header } }), 'InvalidTag', 400);
      await expectOssError(c.head(key(`lim/bad-${what}`)), 'NoSuchKey', 404);
      await expectOssError(putTaggingXml(c, key('lim/ok'), tags), 'InvalidTag', 400);
    }
    // The refused PutObjectTagging calls left the last good set in place.
    assert.deepEqual((await c.getObjectTagging(key('lim/ok'))).tag, { [longest[0]]: longest[1] });
    await expectOssError(c.put(key('lim/format'), Buffer.from('x'), { headers: { 'x-oss-tagging': 'aa=bb=cc' } }), 'InvalidArgument', 400);
    await c.put(key('lim/case'), Buffer.from('x'), { headers: { 'x-oss-tagging': 'A=1&a=2' } });
    // Keys are case sensitive: A and a are two tags.
    assert.deepEqual((await c.getObjectTagging(key('lim/case'))).tag, { A: '1', a: '2' });
  });

  it('overwriting by PutObject without x-oss-tagging leaves the object untagged', async () => {
    const { c, key } = get();
    await c.put(key('ow/obj'), Buffer.from('1'), { headers: { 'x-oss-tagging': 'a=1' } });
    await c.put(key('ow/obj'), Buffer.from('2'));
    assert.deepEqual((await c.getObjectTagging(key('ow/obj'))).tag, {});
    assert.equal(headerOf(await c.head(key('ow/obj')), 'x-oss-tagging-count'), undefined);
  });

  it('CopyObject: tagging directive Copy (the default) copies the source tags, Replace takes x-oss-tagging', async () => {
    const { c, key } = get();
    await c.put(key('cp/src'), Buffer.from('s'), { headers: { 'x-oss-tagging': 'from=src' } });
    await c.copy(key('cp/default'), key('cp/src'));
    assert.deepEqual((await c.getObjectTagging(key('cp/default'))).tag, { from: 'src' });
    await c.copy(key('cp/copy'), key('cp/src'), { headers: { 'x-oss-tagging-directive': 'Copy', 'x-oss-tagging': 'ignored=1' } });
    assert.deepEqual((await c.getObjectTagging(key('cp/copy'))).tag, { from: 'src' });
    await c.copy(key('cp/replace'), key('cp/src'), { headers: { 'x-oss-tagging-directive': 'Replace', 'x-oss-tagging': 'new=1&two=2' } });
    assert.deepEqual((await c.getObjectTagging(key('cp/replace'))).tag, { new: '1', two: '2' });
    await c.copy(key('cp/cleared'), key('cp/src'), { headers: { 'x-oss-tagging-directive': 'Replace' } });
    assert.deepEqual((await c.getObjectTagging(key('cp/cleared'))).tag, {});
    // Same-key metadata rewrite keeps the tags with the default directive.
    await c.copy(key('cp/src'), key('cp/src'), { meta: { rewritten: 'yes' } });
    assert.deepEqual((await c.getObjectTagging(key('cp/src'))).tag, { from: 'src' });
    assert.equal((await c.head(key('cp/src'))).meta.rewritten, 'yes');
    await expectOssError(
      c.copy(key('cp/bad'), key('cp/src'), { headers: { 'x-oss-tagging-directive': 'Merge' } }),
      'InvalidArgument',
      400,
    );
  });

  it('multipart: x-oss-tagging and x-oss-storage-class given at Initiate apply to the object at Complete', async () => {
    const { c, key } = get();
    const k = key('mp/obj');
    const init = await c.initMultipartUpload(k, { headers: { 'x-oss-tagging': 'mp=yes', 'x-oss-storage-class': 'IA' } });
    const part = await c.uploadPart(k, init.uploadId, 1, Buffer.from('part'), 0, 4);
    await c.completeMultipartUpload(k, init.uploadId, [{ number: 1, etag: part.etag }]);
    assert.deepEqual((await c.getObjectTagging(k)).tag, { mp: 'yes' });
    const h = await c.head(k);
    assert.equal(headerOf(h, 'x-oss-storage-class'), 'IA');
    assert.equal(headerOf(h, 'x-oss-tagging-count'), '1');
    await expectOssError(c.initMultipartUpload(key('mp/bad'), { headers: { 'x-oss-tagging': 'a=1&a=2' } }), 'InvalidTag', 400);
  });

  it('storage class from PutObject and CopyObject shows in HEAD, GET, ListObjects and ListObjectsV2; unknown classes are refused', async () => {
    const { c, key } = get();
    await c.put(key('sc/std'), Buffer.from('x'));
    await c.put(key('sc/ia'), Buffer.from('x'), { headers: { 'x-oss-storage-class': 'IA' } });
    await c.copy(key('sc/arch'), key('sc/ia'), { headers: { 'x-oss-storage-class': 'Archive' } });
    assert.equal(headerOf(await c.head(key('sc/std')), 'x-oss-storage-class'), 'Standard');
    assert.equal(headerOf(await c.head(key('sc/ia')), 'x-oss-storage-class'), 'IA');
    assert.equal(headerOf(await c.get(key('sc/ia')), 'x-oss-storage-class'), 'IA');
    assert.equal(headerOf(await c.head(key('sc/arch')), 'x-oss-storage-class'), 'Archive');
    const v1 = await c.list({ prefix: key('sc/'), 'max-keys': 100 }, {});
    const v2 = await c.listV2({ prefix: key('sc/'), 'max-keys': '100' }, {});
    for (const listed of [v1, v2]) {
      assert.deepEqual(
        Object.fromEntries(listed.objects.map((o: any) => [o.name, o.storageClass])),
        { [key('sc/arch')]: 'Archive', [key('sc/ia')]: 'IA', [key('sc/std')]: 'Standard' },
      );
    }
    // A same-key metadata rewrite without x-oss-storage-class keeps the class; with it, changes it.
    await c.copy(key('sc/ia'), key('sc/ia'), { meta: { m: '1' } });
    assert.equal(headerOf(await c.head(key('sc/ia')), 'x-oss-storage-class'), 'IA');
    await c.copy(key('sc/ia'), key('sc/ia'), { headers: { 'x-oss-storage-class': 'Standard' } });
    assert.equal(headerOf(await c.head(key('sc/ia')), 'x-oss-storage-class'), 'Standard');
    for (const value of ['ia', 'Glacier', '']) {
      await expectOssError(c.put(key('sc/bad'), Buffer.from('x'), { headers: { 'x-oss-storage-class': value } }), 'InvalidArgument', 400);
    }
    await expectOssError(c.head(key('sc/bad')), 'NoSuchKey', 404);
  });

  it('a copy to another key without x-oss-storage-class is Standard (the bucket class)', async () => {
    const { c, key } = get();
    await c.put(key('scd/ia'), Buffer.from('x'), { headers: { 'x-oss-storage-class': 'IA' } });
    await c.copy(key('scd/copy'), key('scd/ia'));
    assert.equal(headerOf(await c.head(key('scd/copy')), 'x-oss-storage-class'), 'Standard');
  });

  it('cold classes: GET and CopyObject are 403 InvalidObjectState, HEAD and tagging work', async () => {
    const { c, key } = get();
    for (const cls of ['Archive', 'ColdArchive', 'DeepColdArchive']) {
      const k = key(`cold/${cls}`);
      await c.put(k, Buffer.from('frozen'), { headers: { 'x-oss-storage-class': cls, 'x-oss-tagging': 't=1' } });
      const h = await c.head(k);
      assert.equal(headerOf(h, 'x-oss-storage-class'), cls);
      assert.equal(headerOf(h, 'content-length'), '6');
      await expectOssError(c.get(k), 'InvalidObjectState', 403);
      await expectOssError(c.get(k, { headers: { Range: 'bytes=0-1' } }), 'InvalidObjectState', 403);
      await expectOssError(c.copy(key(`cold/${cls}-copy`), k), 'InvalidObjectState', 403);
      assert.deepEqual((await c.getObjectTagging(k)).tag, { t: '1' });
    }
  });

  it('bucket-level tagging stays NotImplemented', async () => {
    const { c } = get();
    await expectOssError(c.putBucketTags(c.options.bucket, { a: '1' }), 'NotImplemented', 501);
    await expectOssError(c.getBucketTags(c.options.bucket), 'NotImplemented', 501);
  });
}

function suite(title: string, memory: boolean, modes: readonly Signing[]): void {
  describe(title, () => {
    for (const signing of modes) {
      describe(`signature ${signing}`, () => {
        let target: ConformanceTarget | undefined;
        let client: LooseOss;
        before(async () => {
          target = await localTarget({ memory });
          client = ossClient(target, signing);
        });
        after(async () => {
          await target?.close();
        });
        defineCases(() => {
          const t = target;
          if (t === undefined) throw new Error('target not started');
          return { c: client, key: (name: string) => `${t.prefix}${signing}/${name}` };
        });
      });
    }
  });
}

suite('tagging and storage classes: embedded server on disk', false, ['v1', 'v4']);
suite('tagging and storage classes: embedded server in memory', true, ['v4']);

test('disk store: tags and storage class survive a restart; untagged Standard objects stay so', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oss-cse-tagging-'));
  try {
    const clientOf = (s: Awaited<ReturnType<typeof startServer>>): LooseOss =>
      new OSS({ endpoint: s.endpoint, bucket: 'bkt', ...s.credentials, region: 'oss-cn-hangzhou', authorizationV4: true, secure: false });
    const first = await startServer({ dataDir: dir, buckets: ['bkt'], kms: false });
    let c = clientOf(first);
    await c.put('tagged', Buffer.from('x'), { headers: { 'x-oss-tagging': 'a=1&b=2', 'x-oss-storage-class': 'ColdArchive' } });
    await c.put('plain', Buffer.from('y'));
    const init = await c.initMultipartUpload('pending', { headers: { 'x-oss-tagging': 'mp=1', 'x-oss-storage-class': 'IA' } });
    const part = await c.uploadPart('pending', init.uploadId, 1, Buffer.from('z'), 0, 1);
    await first.close();

    const second = await startServer({ dataDir: dir, kms: false });
    c = clientOf(second);
    try {
      assert.deepEqual((await c.getObjectTagging('tagged')).tag, { a: '1', b: '2' });
      assert.equal(headerOf(await c.head('tagged'), 'x-oss-storage-class'), 'ColdArchive');
      assert.equal(headerOf(await c.head('plain'), 'x-oss-storage-class'), 'Standard');
      assert.equal(headerOf(await c.head('plain'), 'x-oss-tagging-count'), undefined);
      await c.completeMultipartUpload('pending', init.uploadId, [{ number: 1, etag: part.etag }]);
      assert.deepEqual((await c.getObjectTagging('pending')).tag, { mp: '1' });
      assert.equal(headerOf(await c.head('pending'), 'x-oss-storage-class'), 'IA');
    } finally {
      await second.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('onRequest sees each answered OSS request once with operation, bucket, key and status; never KMS; a throwing hook breaks nothing', async () => {
  const seen: ServerRequestEntry[] = [];
  const logged: string[] = [];
  let throwNext = false;
  const server = await startServer({
    memory: true,
    buckets: ['bkt'],
    log: (line) => logged.push(line),
    onRequest: (entry) => {
      seen.push(entry);
      if (throwNext) {
        throwNext = false;
        throw new Error('observer bug');
      }
    },
  });
  try {
    const c: LooseOss = new OSS({ endpoint: server.endpoint, bucket: 'bkt', ...server.credentials, region: 'oss-cn-hangzhou', authorizationV4: true, secure: false });
    await c.put('k1', Buffer.from('x'), { headers: { 'x-oss-tagging': 'a=1' } });
    await c.putObjectTagging('k1', { b: '2' });
    await c.getObjectTagging('k1');
    await c.deleteObjectTagging('k1');
    await c.copy('k2', 'k1');
    await c.head('k2');
    await expectOssError(c.get('missing'), 'NoSuchKey', 404);
    throwNext = true;
    assert.equal((await c.get('k1')).content.toString(), 'x');
    await c.list({ 'max-keys': 10 }, {});
    await c.delete('k2');
    // A KMS request on the same listener is not an OSS request.
    await rawRequest(`${server.endpoint}/?Action=ListKeys&Version=2016-01-20`, {});
    await expectOssError(c.put('k3', Buffer.from('x'), { headers: { 'x-oss-storage-class': 'Cold' } }), 'InvalidArgument', 400);

    assert.deepEqual(
      seen.map((e) => [e.method, e.operation, e.bucket, e.key, e.status]),
      [
        ['PUT', 'PutObject', 'bkt', 'k1', 200],
        ['PUT', 'PutObjectTagging', 'bkt', 'k1', 200],
        ['GET', 'GetObjectTagging', 'bkt', 'k1', 200],
        ['DELETE', 'DeleteObjectTagging', 'bkt', 'k1', 204],
        ['PUT', 'CopyObject', 'bkt', 'k2', 200],
        ['HEAD', 'HeadObject', 'bkt', 'k2', 200],
        ['GET', 'GetObject', 'bkt', 'missing', 404],
        ['GET', 'GetObject', 'bkt', 'k1', 200],
        ['GET', 'ListObjects', 'bkt', undefined, 200],
        ['DELETE', 'DeleteObject', 'bkt', 'k2', 204],
        ['PUT', 'PutObject', 'bkt', 'k3', 400],
      ],
    );
    assert.equal(logged.filter((l) => l.includes('onRequest hook threw: observer bug')).length, 1);
  } finally {
    await server.close();
  }
});
