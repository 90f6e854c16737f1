// The gateway in front of the embedded server (a separate process), driven by plain ali-oss with no encryption
// code: every object it stores upstream carries the V2 envelope and decrypts independently and with `oss-cse get`,
// and every answer is what OSS gives for the same request on the plaintext.
import assert from 'node:assert/strict';
import { constants, createCipheriv, createHash, publicEncrypt, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OSS from 'ali-oss';
import { startGateway, type RunningGateway } from '../../gateway/src/index.js';
import { createOssClient } from '../../src/client.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { crc64 } from '../../src/transfer/crc64.js';
import { runCli } from '../helpers/cli.js';
import { BUCKET, SKIP, independentDecrypt, keyFiles, plainClient, rawGet, startUpstream, type Pair } from './support.js';

const P = 'x-oss-meta-client-side-encryption-';

describe('oss-cse gateway (in front of a separate embedded-server process)', { skip: SKIP }, () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let keys: Awaited<ReturnType<typeof keyFiles>>;
  let gateway: RunningGateway;
  let strict: RunningGateway;
  let legacy: RunningGateway;
  let client: any;
  let direct: any;
  let upstreamEnv: NodeJS.ProcessEnv;

  before(async () => {
    upstream = await startUpstream();
    keys = await keyFiles();
    const masterKey = new RsaMasterKey({ privateKey: keys.privatePem });
    const oss = createOssClient({ endpoint: upstream.endpoint, ...upstream.credentials });
    gateway = await startGateway({ oss, masterKey, credentials: { accessKeyId: 'LTAIgatewayClientKey0001', accessKeySecret: 'gateway-client-secret-0001' } });
    strict = await startGateway({ oss, masterKey, requireEncrypted: true });
    legacy = await startGateway({ oss, masterKey, allowLegacy: true });
    client = plainClient(gateway.endpoint, gateway.credentials);
    direct = plainClient(upstream.endpoint, upstream.credentials);
    upstreamEnv = {
      OSS_ACCESS_KEY_ID: upstream.credentials.accessKeyId,
      OSS_ACCESS_KEY_SECRET: upstream.credentials.accessKeySecret,
      OSS_CSE_HOME: join(keys.dir, 'home'),
    };
  });
  after(async () => {
    await gateway.close();
    await strict.close();
    await legacy.close();
    await upstream.stop();
    await rm(keys.dir, { recursive: true, force: true });
  });

  /** The stored object upstream, decrypted by the independent reader. */
  async function storedPlaintext(key: string): Promise<Buffer> {
    const stored = await direct.get(key);
    return independentDecrypt(stored.res.headers, Buffer.from(stored.content), keys.privatePem);
  }

  it('put/get round-trips through V1 and V4 signatures; upstream holds the V2 envelope, readable independently and by `oss-cse get`', async () => {
    for (const [i, size] of [0, 1, 17, 100_003].entries()) {
      const plaintext = randomBytes(size);
      const key = `rt/obj-${size}.bin`;
      const signer = plainClient(gateway.endpoint, gateway.credentials, { v4: i % 2 === 1 });
      const put = await signer.put(key, plaintext, { meta: { owner: 'test' } });
      assert.equal(put.res.status, 200);
      assert.equal(put.res.headers['x-oss-hash-crc64ecma'], crc64(plaintext).toString(), 'the CRC-64 of the plaintext is returned');
      const got = await signer.get(key);
      assert.deepEqual(Buffer.from(got.content), plaintext);
      assert.equal(got.res.headers['x-oss-meta-owner'], 'test');
      assert.equal(Object.keys(got.res.headers).some((h) => h.startsWith(P)), false, 'envelope hidden from clients');

      const stored = await direct.get(key);
      if (size > 16) assert.notDeepEqual(Buffer.from(stored.content), plaintext, 'stored bytes are ciphertext');
      assert.equal(stored.res.headers[`${P}unencrypted-content-length`], String(size));
      assert.deepEqual(independentDecrypt(stored.res.headers, Buffer.from(stored.content), keys.privatePem), plaintext);

      const out = join(keys.dir, `out-${size}.bin`);
      const r = await runCli(['get', `oss://${BUCKET}/${key}`, out, '--endpoint', upstream.endpoint, '--private-key', keys.privatePath, '--quiet'], upstreamEnv);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await readFile(out), plaintext);
    }
  });

  it('a wrong Content-MD5 is refused with InvalidDigest and stores nothing', async () => {
    const body = randomBytes(1000);
    const wrongMd5 = createHash('md5').update('something else').digest('base64');
    await assert.rejects(client.put('md5/bad.bin', body, { headers: { 'Content-MD5': wrongMd5 } }), (e: any) => e.status === 400 && e.code === 'InvalidDigest');
    await assert.rejects(direct.head('md5/bad.bin'), (e: any) => e.status === 404);
    const good = createHash('md5').update(body).digest('base64');
    await client.put('md5/good.bin', body, { headers: { 'Content-MD5': good } });
    const head = await client.head('md5/good.bin');
    assert.equal(head.res.headers['content-md5'], good, 'Content-MD5 of the plaintext');
  });

  it('every range form and condition gets the answer OSS gives for the plaintext', async () => {
    const plaintext = randomBytes(1000);
    await client.put('range/enc.bin', plaintext);
    await direct.put('range/plain.bin', plaintext); // the same bytes stored unencrypted: OSS's own answer
    const etagOf = async (key: string, c: any): Promise<string> => (await c.head(key)).res.headers.etag;
    const encEtag = await etagOf('range/enc.bin', client);
    const plainEtag = await etagOf('range/plain.bin', direct);
    const cases: Record<string, string>[] = [
      { Range: 'bytes=0-9' },
      { Range: 'bytes=17-500' },
      { Range: 'bytes=990-' },
      { Range: 'bytes=-7' },
      { Range: 'bytes=-2000' },
      { Range: 'bytes=990-2000' },
      { Range: 'bytes=1000-2000' },
      { Range: 'bytes=5-2' },
      { Range: 'byte=0-1' },
      { Range: 'bytes=0-9,20-29' },
      { Range: 'bytes=990-2000', 'x-oss-range-behavior': 'standard' },
      { Range: 'bytes=1000-', 'x-oss-range-behavior': 'standard' },
      { Range: 'bytes=-2000', 'x-oss-range-behavior': 'standard' },
      { 'If-None-Match': '@ETAG' },
      { 'If-Match': '"0000"' },
      { 'If-Match': '@ETAG', Range: 'bytes=3-4' },
      { 'If-Modified-Since': new Date(Date.now() + 3600_000).toUTCString() },
      { 'If-Unmodified-Since': new Date(Date.now() - 3600_000 * 24).toUTCString() },
    ];
    for (const c of cases) {
      const forEnc = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v === '@ETAG' ? encEtag : v]));
      const forPlain = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v === '@ETAG' ? plainEtag : v]));
      const viaGateway = await rawGet(client, 'range/enc.bin', forEnc);
      const oss = await rawGet(direct, 'range/plain.bin', forPlain);
      const what = JSON.stringify(c);
      assert.equal(viaGateway.status, oss.status, what);
      assert.equal(viaGateway.headers['content-range'], oss.headers['content-range'], what);
      assert.equal(viaGateway.headers['content-length'], oss.headers['content-length'], what);
      assert.deepEqual(viaGateway.body, oss.body, what);
    }
  });

  it('HEAD shows the plaintext size and hides the envelope', async () => {
    await client.put('head/x.bin', randomBytes(12345), { meta: { a: 'b' } });
    const head = await client.head('head/x.bin');
    assert.equal(head.res.headers['content-length'], '12345');
    assert.deepEqual(head.meta, { a: 'b' });
    assert.equal(Object.keys(head.res.headers).some((h) => h.startsWith(P) || h === 'x-oss-hash-crc64ecma'), false);
    await assert.rejects(client.head('head/missing.bin'), (e: any) => e.status === 404 && e.code === 'NoSuchKey');
  });

  it('ListObjects v1/v2 and ListBuckets pass through with plaintext sizes', async () => {
    await client.put('list/a.bin', randomBytes(100));
    await client.put('list/b/c.bin', randomBytes(33));
    const v1 = await client.list({ prefix: 'list/', delimiter: '/' });
    assert.deepEqual(v1.objects.map((o: any) => [o.name, o.size]), [['list/a.bin', 100]]);
    assert.deepEqual(v1.prefixes, ['list/b/']);
    const v2 = await client.listV2({ prefix: 'list/' });
    assert.deepEqual(v2.objects.map((o: any) => [o.name, o.size]), [['list/a.bin', 100], ['list/b/c.bin', 33]]);
    const buckets = await client.listBuckets({});
    assert.ok(buckets.buckets.some((b: any) => b.name === BUCKET));
  });

  it('CopyObject keeps the envelope (COPY and REPLACE), DeleteObject and DeleteMultipleObjects delete', async () => {
    const plaintext = randomBytes(5000);
    await client.put('copy/src.bin', plaintext, { meta: { v: '1' } });
    await client.copy('copy/same-meta.bin', 'copy/src.bin');
    await client.copy('copy/new-meta.bin', 'copy/src.bin', { meta: { v: '2' }, headers: { 'Content-Type': 'text/plain' } });
    for (const key of ['copy/same-meta.bin', 'copy/new-meta.bin']) {
      assert.deepEqual(Buffer.from((await client.get(key)).content), plaintext, key);
      assert.deepEqual(await storedPlaintext(key), plaintext, key);
    }
    assert.equal((await client.head('copy/new-meta.bin')).meta.v, '2');
    assert.equal((await client.head('copy/same-meta.bin')).meta.v, '1');
    await client.delete('copy/same-meta.bin');
    await client.deleteMulti(['copy/new-meta.bin', 'copy/src.bin']);
    assert.deepEqual((await direct.list({ prefix: 'copy/' })).objects ?? [], []);
  });

  it('a parallel multipart upload with parts sent out of order is stored in the CSE format', async () => {
    const partSize = 100 * 1024;
    const plaintext = randomBytes(partSize * 3 + 777);
    const file = join(keys.dir, 'mp.bin');
    await writeFile(file, plaintext);
    const key = 'mp/out-of-order.bin';
    const init = await client.initMultipartUpload(key, { mime: 'application/x-test' });
    // The last parts go first: parts 4, 3 and 2 wait for part 1, which fixes the part size.
    const order = [4, 3, 2, 1];
    const results = await Promise.all(
      order.map((n) => client.uploadPart(key, init.uploadId, n, file, (n - 1) * partSize, Math.min(n * partSize, plaintext.length))),
    );
    const listed = await client.listParts(key, init.uploadId);
    assert.deepEqual(listed.parts.map((p: any) => [Number(p.PartNumber), Number(p.Size)]), [[1, partSize], [2, partSize], [3, partSize], [4, 777]]);
    assert.equal(listed.uploadId, init.uploadId, 'the gateway id, not the upstream one');
    const uploads = await client.listUploads({ prefix: 'mp/' });
    assert.deepEqual(uploads.uploads.map((u: any) => u.uploadId), [init.uploadId]);
    const parts = order.map((n, i) => ({ number: n, etag: results[i].etag })).sort((a, b) => a.number - b.number);
    const done = await client.completeMultipartUpload(key, init.uploadId, parts);
    assert.equal(done.res.headers['x-oss-hash-crc64ecma'], crc64(plaintext).toString(), 'the CRC-64 of the whole plaintext');

    assert.deepEqual(Buffer.from((await client.get(key)).content), plaintext);
    const ranged = await client.get(key, { headers: { Range: `bytes=${partSize - 5}-${partSize + 5}` } });
    assert.equal(ranged.res.status, 206);
    assert.deepEqual(Buffer.from(ranged.content), plaintext.subarray(partSize - 5, partSize + 6));
    const stored = await direct.head(key);
    assert.equal(stored.res.headers[`${P}part-size`], String(partSize));
    assert.deepEqual(await storedPlaintext(key), plaintext);
    const out = join(keys.dir, 'mp-out.bin');
    const r = await runCli(['get', `oss://${BUCKET}/${key}`, out, '--endpoint', upstream.endpoint, '--private-key', keys.privatePath, '--quiet'], upstreamEnv);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(out), plaintext);
  });

  it("ali-oss's own parallel multipartUpload works through the gateway", async () => {
    const plaintext = randomBytes(640 * 1024 + 3);
    const file = join(keys.dir, 'mp2.bin');
    await writeFile(file, plaintext);
    await client.multipartUpload('mp/ali.bin', file, { parallel: 4, partSize: 128 * 1024 });
    assert.deepEqual(Buffer.from((await client.get('mp/ali.bin')).content), plaintext);
    assert.deepEqual(await storedPlaintext('mp/ali.bin'), plaintext);
  });

  it('unequal part sizes are refused with a reason, and an abort leaves nothing', async () => {
    const file = join(keys.dir, 'parts.bin');
    await writeFile(file, randomBytes(400 * 1024));
    const key = 'mp/unequal.bin';
    const a = await client.initMultipartUpload(key);
    await client.uploadPart(key, a.uploadId, 1, file, 0, 100 * 1024);
    await assert.rejects(client.uploadPart(key, a.uploadId, 2, file, 0, 200 * 1024), (e: any) => e.status === 400 && e.code === 'InvalidPartSize' && /more than the part size/.test(e.message));
    await client.uploadPart(key, a.uploadId, 3, file, 0, 50 * 1024);
    await assert.rejects(client.uploadPart(key, a.uploadId, 4, file, 0, 100 * 1024), (e: any) => e.code === 'InvalidPartSize' && /must be the last part/.test(e.message));
    await client.abortMultipartUpload(key, a.uploadId);

    const b = await client.initMultipartUpload(key);
    await client.uploadPart(key, b.uploadId, 1, file, 0, 100 * 1024 + 8); // not a multiple of 16
    await assert.rejects(client.uploadPart(key, b.uploadId, 2, file, 0, 100 * 1024 + 8), (e: any) => e.code === 'InvalidPartSize' && /multiple of 16/.test(e.message));
    await client.abortMultipartUpload(key, b.uploadId);
    assert.deepEqual((await direct.listUploads({ prefix: 'mp/unequal' })).uploads ?? [], []);
    await assert.rejects(direct.head(key), (e: any) => e.status === 404);
  });

  it('append, part copy, image processing and select are refused with OSS error XML naming the reason', async () => {
    await client.put('refuse/x.bin', randomBytes(100));
    await assert.rejects(client.append('refuse/app.bin', Buffer.from('x')), (e: any) => e.status === 501 && e.code === 'NotImplemented' && /AppendObject/.test(e.message));
    await assert.rejects(client.get('refuse/x.bin', { process: 'image/resize,w_10' }), (e: any) => e.status === 501 && /image processing/.test(e.message));
    const init = await client.initMultipartUpload('refuse/pc.bin');
    await assert.rejects(
      client.uploadPartCopy('refuse/pc.bin', init.uploadId, 1, 'bytes=0-99', { sourceKey: 'refuse/x.bin', sourceBucketName: BUCKET }),
      (e: any) => e.status === 501 && /UploadPartCopy/.test(e.message),
    );
    await client.abortMultipartUpload('refuse/pc.bin', init.uploadId);
    await assert.rejects(direct.head('refuse/app.bin'), (e: any) => e.status === 404);
  });

  it('bad signatures and unknown credentials are refused', async () => {
    for (const v4 of [false, true]) {
      const wrong = plainClient(gateway.endpoint, { ...gateway.credentials, accessKeySecret: 'not-the-secret' }, { v4 });
      await assert.rejects(wrong.put('auth/x.bin', Buffer.from('x')), (e: any) => e.status === 403 && e.code === 'SignatureDoesNotMatch');
      const unknown = plainClient(gateway.endpoint, { accessKeyId: 'LTAIunknownKeyId000000', accessKeySecret: 'x' }, { v4 });
      await assert.rejects(unknown.get('auth/x.bin'), (e: any) => e.status === 403 && e.code === 'InvalidAccessKeyId');
      // The upstream's real credentials mean nothing to the gateway.
      const real: Pair = upstream.credentials;
      await assert.rejects(plainClient(gateway.endpoint, real, { v4 }).list({}), (e: any) => e.status === 403 && e.code === 'InvalidAccessKeyId');
    }
    await assert.rejects(direct.head('auth/x.bin'), (e: any) => e.status === 404);
  });

  it('presigned URLs (V1 and V4) of the gateway read plaintext', async () => {
    const plaintext = randomBytes(3000);
    await client.put('presigned/x.bin', plaintext);
    // ali-oss signs URLs only for a named host: localhost, path style; sent to 127.0.0.1 with that Host.
    const port = new URL(gateway.endpoint).port;
    const named = (v4: boolean): any =>
      new OSS({ endpoint: `http://localhost:${port}`, sldEnable: true, region: 'oss-cn-hangzhou', bucket: BUCKET, ...gateway.credentials, authorizationV4: v4 } as any);
    const fetchVia = async (url: string): Promise<{ status: number; body: Buffer }> =>
      new Promise((resolve, reject) => {
        const u = new URL(url);
        http
          .get({ host: '127.0.0.1', port, path: u.pathname + u.search, headers: { host: u.host } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          })
          .on('error', reject);
      });
    const v1 = await fetchVia(named(false).signatureUrl('presigned/x.bin', { expires: 600 }));
    assert.equal(v1.status, 200, v1.body.toString());
    assert.deepEqual(v1.body, plaintext);
    const v4 = await fetchVia(await named(true).signatureUrlV4('GET', 600, { headers: {} }, 'presigned/x.bin'));
    assert.equal(v4.status, 200, v4.body.toString());
    assert.deepEqual(v4.body, plaintext);
  });

  it('objects written by `oss-cse put` read back in plaintext; unencrypted objects pass through unless --require-encrypted', async () => {
    const plaintext = randomBytes(70_001);
    const file = join(keys.dir, 'cli-put.bin');
    await writeFile(file, plaintext);
    const r = await runCli(['put', file, `oss://${BUCKET}/cli/put.bin`, '--endpoint', upstream.endpoint, '--public-key', keys.publicPath, '--quiet'], upstreamEnv);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Buffer.from((await client.get('cli/put.bin')).content), plaintext);
    const ranged = await client.get('cli/put.bin', { headers: { Range: 'bytes=-100' } });
    assert.deepEqual(Buffer.from(ranged.content), plaintext.subarray(-100));

    await direct.put('cli/plain.txt', Buffer.from('stored as is'));
    assert.equal(Buffer.from((await client.get('cli/plain.txt')).content).toString(), 'stored as is');
    const strictClient = plainClient(strict.endpoint, strict.credentials);
    await assert.rejects(strictClient.get('cli/plain.txt'), (e: any) => e.status === 403 && e.code === 'ObjectNotEncrypted');
    assert.deepEqual(Buffer.from((await strictClient.get('cli/put.bin')).content), plaintext);
  });

  it('legacy V1 objects (oss2 2.5–2.10) are refused unless the gateway runs with allowLegacy', async () => {
    // A V1 object built here from FORMAT.md §2.2: RSA-OAEP-SHA1 wrapped key and decimal start, counter = start.
    const plaintext = randomBytes(4000);
    const dataKey = randomBytes(32);
    const iv = Buffer.alloc(16);
    iv[15] = 8;
    const wrap = (data: Buffer): string =>
      publicEncrypt({ key: keys.publicPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, data).toString('base64');
    const c = createCipheriv('aes-256-ctr', dataKey, iv);
    const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
    await direct.put('legacy/v1.bin', ciphertext, {
      headers: {
        'x-oss-meta-oss-crypto-key': wrap(dataKey),
        'x-oss-meta-oss-crypto-start': wrap(Buffer.from('8')),
        'x-oss-meta-oss-cek-alg': 'AES/GCM/NoPadding',
        'x-oss-meta-oss-wrap-alg': 'rsa',
      },
    });
    await assert.rejects(client.get('legacy/v1.bin'), (e: any) => e.status === 403 && e.code === 'LegacyEncryptionNotAllowed');
    await assert.rejects(client.head('legacy/v1.bin'), (e: any) => e.status === 403);
    const reader = plainClient(legacy.endpoint, legacy.credentials);
    assert.deepEqual(Buffer.from((await reader.get('legacy/v1.bin')).content), plaintext);
    const ranged = await reader.get('legacy/v1.bin', { headers: { Range: 'bytes=1001-2002' } });
    assert.deepEqual(Buffer.from(ranged.content), plaintext.subarray(1001, 2003));
  });
});
